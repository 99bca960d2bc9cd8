#!/bin/bash
# tests/vm/e2e-loadweights.sh - load-driven weights and slow start end to
# end: the daemon on a real IPVS, agents on two reals that change their
# answers, real TCP traffic, inside a throw-away qemu guest.
#
# On the host it re-runs itself in a guest (tests/vm/run.sh); it never
# touches the host's network. It uses the binary $LDIRECTORD (default
# target/debug/ldirectord, built on the host).
#
#   client ns                 director = guest root ns              reals (NAT)
#   eth0 198.51.100.10/24 --- vcli 198.51.100.1/24                  rs1 192.0.2.11 \  :7000 hello + echo
#   default via .1            VIP 198.51.100.100/32   br-rs --------- rs2 192.0.2.12 /  :7001 agent (busybox nc)
#                             br-rs 192.0.2.1/24, ip_forward=1
#
# Each agent answers the line in $work/agent-rsN.txt; the test rewrites it.
# Each step prints "ok - NAME" or "not ok - NAME"; the last line is
# "N passed, M failed". Exit 0 only when nothing failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
if [ "${LDRS_VM:-}" != 1 ]; then
  exec "$here/run.sh" -t "${LDRS_VM_TIMEOUT:-600}" "$here/e2e-loadweights.sh" "$@"
fi

LD=${LDIRECTORD:-$root/target/debug/ldirectord}
[ -x "$LD" ] || { echo "e2e-loadweights.sh: $LD not built (cargo build first)" >&2; exit 2; }

# shellcheck source=tests/vm/lib/netns.sh
. "$here/lib/netns.sh"
work=$(mktemp -d /tmp/e2e-loadweights.XXXXXX)
CF=$work/lw.cf
LOG=$work/ldirectord.log
VIP=198.51.100.100
cleanup() {
  "$LD" "$CF" stop >/dev/null 2>&1 || true
  [ -z "${CONN_PID:-}" ] || kill "$CONN_PID" 2>/dev/null || true
  ns_teardown
}
trap cleanup EXIT

# shellcheck source=tests/vm/lib/tap.sh
. "$here/lib/tap.sh"
not() { ! "$@"; }
# weight_of RIP -> the kernel weight of RIP:7000 under VIP:7000 (empty: absent).
weight_of() {
  ipvsadm -Ln 2>/dev/null | awk -v svc="$VIP:7000" -v d="$1:7000" '
    /^(TCP|UDP|FWM)/ { in_svc = ($2 == svc) }
    in_svc && $1 == "->" && $2 == d { print $4 }'
}
weight_is() { [ "$(weight_of "$1")" = "$2" ]; }
# status_has PCRE: a line of `ldirectord status` matches (else it is shown).
status_says() { "$LD" "$CF" status 2>/dev/null | grep -P "$1" >/dev/null; }
status_has() { status_says "$1" || { "$LD" "$CF" status 2>&1 | sed 's/^/#   /'; false; }; }
says() { printf '%s\n' "$2" > "$work/agent-$1.txt"; }   # says rsN LINE
addr_of() { case $1 in rs1) echo 192.0.2.11 ;; rs2) echo 192.0.2.12 ;; esac; }
# A new connection from the client: the first line the real sends.
hello() { ns_exec client bash -c "(sleep 0.3) | timeout 3 busybox nc $VIP 7000 | head -n 1"; }
start_agent() { # NAME
  ns_exec "$1" busybox nc -ll -p 7001 -e "$work/agent-$1.sh" 2>/dev/null &
  NS_PIDS+=($!)
}

log "kernel $(uname -r)"
modprobe -a ip_vs ip_vs_wrr veth bridge
sysctl -qw net.ipv4.ip_forward=1
ns_create client
ns_veth client vcli 198.51.100.10/24 198.51.100.1/24
ns_exec client ip route add default via 198.51.100.1
ns_addr "" vcli "$VIP/32"
ns_bridge br-rs 192.0.2.1/24
for n in rs1 rs2; do
  ns_create "$n"
  ns_bridge_port br-rs "$n" "v$n" "$(addr_of "$n")/24"
  ns_exec "$n" ip route add default via 192.0.2.1
  printf '#!/bin/sh\necho "hello from %s"\nexec cat\n' "$n" > "$work/hello-$n.sh"
  # The agent answers the line of its file; "(silent)" holds the
  # connection and says nothing (a hung agent).
  printf '#!/bin/sh\nread -r l < %s\n[ "$l" = "(silent)" ] && exec sleep 10\necho "$l"\n' \
    "$work/agent-$n.txt" > "$work/agent-$n.sh"
  chmod +x "$work/hello-$n.sh" "$work/agent-$n.sh"
  says "$n" "up"
  # (stderr: the health checks' connections reset the echo.)
  ns_exec "$n" busybox nc -ll -p 7000 -e "$work/hello-$n.sh" 2>/dev/null &
  NS_PIDS+=($!)
  start_agent "$n"
done
log "topology up"

cat > "$CF" <<EOF
checktimeout=2
checkinterval=1
failurecount=1
quiescent=no
logfile="$LOG"
virtual=$VIP:7000
	real=192.0.2.11:7000 masq 10
	real=192.0.2.12:7000 masq 10
	checktype=connect
	scheduler=wrr
	loadmonitor=agent:7001
	loadinterval=1
	loadtimeout=3
	slowstart=8
EOF

check "configtest accepts loadmonitor, loadinterval, loadtimeout, slowstart" eval '"$LD" -t "$CF" >/dev/null'
check "start exits 0 (daemon)" "$LD" "$CF" start
t=$(wait_for 20 eval 'weight_is 192.0.2.11 10 && weight_is 192.0.2.12 10') \
  && ok "both reals in at their configured weight, no slow start at start-up (${t}s)" \
  || notok "both reals in at weight 10 ($(weight_of 192.0.2.11)/$(weight_of 192.0.2.12))"

# --- the weights follow the agents (loadinterval=1) -------------------------
says rs1 "50%"; says rs2 "up 250%"
t=$(wait_for 15 eval 'weight_is 192.0.2.11 5 && weight_is 192.0.2.12 25') \
  && ok "weights follow the agents' answers: 50% -> 5, 250% -> 25 (${t}s, loadinterval 1 s)" \
  || notok "weights follow the agents ($(weight_of 192.0.2.11)/$(weight_of 192.0.2.12))"
says rs1 "weight:3"
t=$(wait_for 15 weight_is 192.0.2.11 3) \
  && ok "weight:3 sets an absolute weight (${t}s)" || notok "weight:3 ($(weight_of 192.0.2.11))"
sleep 1.2   # the status file is written at most once a second
check "status shows configured and effective weight and why" \
  status_has '^  192\.0\.2\.11:7000\tup\tweight 10\teffective 3 \(agent weight:3[,)].*\tkernel 3\t'
check "weight changes are logged" grep -q "Changed real server weight: 192.0.2.12:7000 ($VIP:7000) (Weight set to 25)" "$LOG"

# --- drain keeps an established connection ----------------------------------
says rs1 "100%"; says rs2 "100%"
wait_for 15 eval 'weight_is 192.0.2.11 10 && weight_is 192.0.2.12 10' >/dev/null
coproc CONN { ns_exec client busybox nc "$VIP" 7000; }
first=""; read -t 5 -r first <&"${CONN[0]}" || true
case $first in
  "hello from rs1") held=rs1 other=rs2 ;;
  "hello from rs2") held=rs2 other=rs1 ;;
  *) held="" other="" ;;
esac
if [ -n "$held" ]; then
  ok "an established connection through the VIP, to $held"
  says "$held" "drain"
  t=$(wait_for 15 weight_is "$(addr_of "$held")" 0) \
    && ok "drain: $held stays in the table at weight 0 (${t}s)" || notok "drain: weight 0 ($(weight_of "$(addr_of "$held")"))"
  all_other=1 answers=""
  for i in 1 2 3 4; do
    a=$(hello); answers="$answers${answers:+, }$a"
    [ "$a" = "hello from $other" ] || all_other=0
  done
  [ "$all_other" = 1 ] && ok "new connections go to $other: $answers" || notok "new connections go to $other: $answers"
  echo "still here" >&"${CONN[1]}"
  back=""; read -t 5 -r back <&"${CONN[0]}" || true
  [ "$back" = "still here" ] && ok "the established connection to the drained $held still works" \
    || notok "the established connection still works (got '$back')"
  check "the kernel still lists it" eval 'ipvsadm -Lnc | grep -q "ESTABLISHED.*$(addr_of "$held"):7000"'
else
  notok "an established connection through the VIP (got '$first')"
fi
[ -z "${CONN_PID:-}" ] || kill "$CONN_PID" 2>/dev/null

# --- a monitor that fails leaves the weight ----------------------------------
# (The drained real stays drained until its agent says ready.)
says rs1 "ready 40%"; says rs2 "ready 60%"
# (The drained one ramps back: slowstart=8.)
t=$(wait_for 20 eval 'weight_is 192.0.2.11 4 && weight_is 192.0.2.12 6') \
  && ok "ready ends the drain (${t}s)" || notok "ready ($(weight_of 192.0.2.11)/$(weight_of 192.0.2.12))"
count() { grep -c "$1" "$LOG"; }
FAILED="Load monitor agent 192.0.2.12:7001 failed" AGAIN="Load monitor agent 192.0.2.12:7001 answers again"
failed0=$(count "$FAILED") again0=$(count "$AGAIN")
more_failures() { [ "$(count "$FAILED")" -gt "$failed0" ]; }
one_more_failure() { [ "$(count "$FAILED")" = "$((failed0 + 1))" ]; }
answers_again() { [ "$(count "$AGAIN")" -gt "$again0" ]; }
says rs2 "(silent)"
t=$(wait_for 20 more_failures) \
  && ok "a silent agent fails its query at loadtimeout (${t}s)" || notok "silent agent logged"
sleep 3
check "and leaves its weight (6) and the real in ($(weight_of 192.0.2.12))" weight_is 192.0.2.12 6
says rs2 "(silent)x"
sleep 1.2
t=$(wait_for 20 status_says 'agent failing: protocol error: agent answered "\(silent\)x", not an agent-check word') \
  && ok "garbage is a failure too, its reason in status (${t}s)" || notok "garbage"
check "and leaves the weight as well ($(weight_of 192.0.2.12))" weight_is 192.0.2.12 6
check "the failing condition is logged once" one_more_failure
says rs2 "60%"
t=$(wait_for 20 answers_again) \
  && ok "and its end (${t}s)" || notok "agent answers again"

# --- an agent's down, and slow start on the way back -------------------------
says rs2 "down#maintenance window"
t=$(wait_for 15 eval '[ -z "$(weight_of 192.0.2.12)" ]') \
  && ok "an agent's down takes the real out (${t}s)" || notok "agent down ($(weight_of 192.0.2.12))"
sleep 1.2
check "status gives the agent's reason" status_has 'effective out \(agent down \(maintenance window\), agent 60%[,)]'
says rs2 "up 100%"
start=$(up); traj="" last="" samples=0
# Sample the kernel weight every 0.25 s until it reaches 10 (at most 20 s).
while [ "$samples" -lt 80 ]; do
  w=$(weight_of 192.0.2.12)
  if [ -n "$w" ] && [ "$w" != "$last" ]; then traj="$traj $w@$(since "$start")s"; last=$w; fi
  [ "$w" = 10 ] && break
  samples=$((samples + 1)); sleep 0.25
done
log "slow start (slowstart=8, weight 10):$traj"
vals=$(echo "$traj" | tr ' ' '\n' | sed -n 's/@.*//p')
starts_low() { [ "$(echo "$vals" | head -n 1)" -le 3 ]; }
# At least three steps strictly between 1 and 10, never down.
rises() { [ "$(echo "$vals" | awk '$1 > 1 && $1 < 10' | wc -l)" -ge 3 ] && echo "$vals" | sort -n -c; }
check "slow start: the real comes back at a low weight" starts_low
check "slow start: the weight rises step by step" rises
check "slow start: it reaches its weight" [ "$last" = 10 ]
says rs1 "maint"
t=$(wait_for 15 eval '[ -z "$(weight_of 192.0.2.11)" ]') \
  && ok "maint takes the real out (${t}s)" || notok "maint ($(weight_of 192.0.2.11))"
says rs1 "ready 100%"
t=$(wait_for 15 eval 'w=$(weight_of 192.0.2.11); [ -n "$w" ] && [ "$w" -lt 10 ]') \
  && ok "ready brings it back, ramping (${t}s, weight $(weight_of 192.0.2.11))" || notok "ready after maint"

check "stop exits 0" "$LD" "$CF" stop
check "cleanstop removed the service" eval '! ipvsadm -Ln | grep -q "$VIP:7000"'

echo "# log of the daemon:"
sed 's/^/#   /' "$LOG" | tail -n 30
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
