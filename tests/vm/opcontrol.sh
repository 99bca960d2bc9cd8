#!/bin/bash
# tests/vm/opcontrol.sh - operating a running daemon without editing its
# file, end to end on a real IPVS in a throw-away qemu guest: drain (an
# established connection goes on while new ones go elsewhere; --wait),
# disable and enable, weight, maintenancedir over a weight, a restart that
# keeps the overrides (the state file), plan (after an edit it lists
# exactly what the following reload does, and the kernel is unchanged by
# it), and bad input (an unknown real
# with its close matches, a weight out of range, a socket that is not the
# daemon's, no daemon, a corrupt state file and one of an older config).
#
# On the host it re-runs itself in a guest (tests/vm/run.sh); it never
# touches the host's network. It uses the binary $LDIRECTORD (default
# target/debug/ldirectord, built on the host), and /usr/bin/python3 for a
# stranger's socket (install-deps.sh installs it, for observe.sh).
#
#   client ns                 director = guest root ns              reals (NAT)
#   eth0 198.51.100.10/24 --- vcli 198.51.100.1/24                  rs1 192.0.2.11 \  :7000 hello + echo
#   default via .1            VIP 198.51.100.100/32   br-rs --------- rs2 192.0.2.12 /
#                             br-rs 192.0.2.1/24, ip_forward=1
#
# Each step prints "ok - NAME" or "not ok - NAME"; the last line is
# "N passed, M failed". Exit 0 only when nothing failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
if [ "${LDRS_VM:-}" != 1 ]; then
  exec "$here/run.sh" -t "${LDRS_VM_TIMEOUT:-600}" "$here/opcontrol.sh" "$@"
fi

LD=${LDIRECTORD:-$root/target/debug/ldirectord}
[ -x "$LD" ] || { echo "opcontrol.sh: $LD not built (cargo build first)" >&2; exit 2; }

# shellcheck source=tests/vm/lib/netns.sh
. "$here/lib/netns.sh"
work=$(mktemp -d /tmp/opcontrol.XXXXXX)
CF=$work/oc.cf
LOG=$work/ldirectord.log
VIP=198.51.100.100
SVC=tcp:$VIP:7000
SOCK=/var/run/ldirectord.oc.cf.sock
STATE=/var/lib/ldirectord/oc.cf.state
cleanup() {
  "$LD" "$CF" stop >/dev/null 2>&1 || true
  [ -z "${CONN_PID:-}" ] || kill "$CONN_PID" 2>/dev/null || true
  [ -z "${FAKE_PID:-}" ] || kill "$FAKE_PID" 2>/dev/null || true
  ns_teardown
}
trap cleanup EXIT

# shellcheck source=tests/vm/lib/tap.sh
. "$here/lib/tap.sh"
# weight_of RIP -> the kernel weight of RIP:7000 under VIP:7000 (empty: absent).
weight_of() {
  ipvsadm -Ln 2>/dev/null | awk -v svc="$VIP:7000" -v d="$1:7000" '
    /^(TCP|UDP|FWM)/ { in_svc = ($2 == svc) }
    in_svc && $1 == "->" && $2 == d { print $4 }'
}
weight_is() { [ "$(weight_of "$1")" = "$2" ]; }
weights() { echo "$(weight_of 192.0.2.11)/$(weight_of 192.0.2.12)"; }
# grep reads all of it: with pipefail, a grep -q that stops at its match
# would fail the pipeline when status then ends of SIGPIPE.
status_says() { "$LD" "$CF" status 2>/dev/null | grep -P "$1" >/dev/null; }
# status_has PATTERN: the status shows it within 10 s (the status file is
# written about once a second, later on a busy host).
status_has() { wait_for 10 status_says "$1" >/dev/null || { "$LD" "$CF" status 2>&1 | sed 's/^/#   /'; false; }; }
# run_ld ARGS...: runs ldirectord on $CF; $rc, $out (stdout), $err (stderr).
run_ld() {
  "$LD" "$CF" "$@" >"$work/out" 2>"$work/err"; rc=$?
  out=$(cat "$work/out"); err=$(cat "$work/err")
}
show() { { echo "exit $rc"; echo "$out"; echo "$err"; } | sed 's/^/#   /'; }
# expect_run CODE PCRE NAME ARGS...: ldirectord exits CODE and its stdout
# and stderr together match PCRE.
expect_run() {
  local code=$1 re=$2 name=$3; shift 3
  run_ld "$@"
  if [ "$rc" = "$code" ] && printf '%s\n%s\n' "$out" "$err" | grep -qP "$re"; then
    ok "$name"
  else
    notok "$name"; show
  fi
}
addr_of() { case $1 in rs1) echo 192.0.2.11 ;; rs2) echo 192.0.2.12 ;; esac; }
hello() { ns_exec client bash -c "(sleep 0.3) | timeout 3 busybox nc $VIP 7000 | head -n 1"; }
# kernel: the table without counters, sorted.
kernel() { ipvsadm -Ln | sort; }
kernel_is() { [ "$(kernel)" = "$1" ]; }

log "kernel $(uname -r)"
modprobe -a ip_vs ip_vs_wrr ip_vs_rr veth bridge
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
  chmod +x "$work/hello-$n.sh"
  # (stderr: the health checks' connections reset the echo.)
  ns_exec "$n" busybox nc -ll -p 7000 -e "$work/hello-$n.sh" 2>/dev/null &
  NS_PIDS+=($!)
done
log "topology up"

write_cf() { # SCHEDULER WEIGHT-OF-RS2
  cat > "$CF" <<EOF
checktimeout=2
checkinterval=1
failurecount=1
quiescent=no
autoreload=no
logfile="$LOG"
statusaddress=127.0.0.1:9909
maintenancedir=$work/maint
virtual=$VIP:7000
	real=192.0.2.11:7000 masq 10
	real=192.0.2.12:7000 masq $2
	checktype=connect
	scheduler=$1
EOF
}
mkdir -p "$work/maint"
write_cf wrr 10
rm -f "$STATE"

expect_run 1 'ldirectord is stopped for ' "no daemon: drain exits 1 with upstream's 'is stopped'" drain 192.0.2.11:7000
check "start exits 0 (daemon)" "$LD" "$CF" start
t=$(wait_for 30 eval 'weight_is 192.0.2.11 10 && weight_is 192.0.2.12 10') \
  && ok "both reals in at weight 10 (${t}s)" || notok "both reals in ($(weights))"
check "the control socket is a socket of root, mode 0600" \
  eval '[ -S "$SOCK" ] && [ "$(stat -c %a:%u "$SOCK")" = 600:0 ]'

# --- drain keeps an established connection -----------------------------------
coproc CONN { ns_exec client busybox nc "$VIP" 7000; }
first=""; read -t 5 -r first <&"${CONN[0]}" || true
case $first in
  "hello from rs1") held=rs1 other=rs2 ;;
  "hello from rs2") held=rs2 other=rs1 ;;
  *) held="" other="" ;;
esac
if [ -n "$held" ]; then
  H=$(addr_of "$held"):7000
  ok "an established connection through the VIP, to $held"
  expect_run 0 "^\Q$H ($SVC): health-driven -> drained, weight 10 -> 0\E$" "drain $H says what changed" drain "$H"
  check "drain: $held stays in the table at weight 0, at once" weight_is "$(addr_of "$held")" 0
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
  check "the drain is logged with who asked" \
    grep -qP "Operator drain: real server \Q$H ($SVC)\E health-driven -> drained by uid 0 pid \d+" "$LOG"
  check "status: effective 0, drained by operator" status_has "^  \Q$H\E\tup\tweight 10\teffective 0 \(drained by operator\)\tkernel 0\t"
  check "status --json: the override, who, in force" \
    eval '"$LD" "$CF" status --json 2>/dev/null | grep -P "\"real\":\"\Q$H\E\".*?\"operator\":\{\"action\":\"drain\",\"by\":\{\"uid\":0,\"pid\":\d+\},\"at\":[\d.]+,\"in_force\":true\}" >/dev/null'
  scrape_has() { # PCRE: a line of /metrics matches (the scrape kept in $work/metrics)
    curl -s --max-time 20 -o "$work/metrics" http://127.0.0.1:9909/metrics && grep -qP "$1" "$work/metrics"
  }
  if wait_for 30 scrape_has "^ldirectord_real_override\{virtual=\"\Q$SVC\E\",real=\"\Q$H\E\",action=\"drain\"\} 1$" >/dev/null; then
    ok "metrics: ldirectord_real_override 1 for it"
  else
    notok "metrics: ldirectord_real_override 1 for it"
    { wc -c < "$work/metrics"; grep -E "override|real_weight" "$work/metrics"; } 2>&1 | sed 's/^/#   /'
  fi
  # --wait with the connection open: time is up, exit 1, and it says so.
  expect_run 1 "still has 1 active connections after 3 s" "drain --wait 3: the open connection holds it, exit 1" drain "$H" --wait 3
  kill "$CONN_PID" 2>/dev/null; wait "$CONN_PID" 2>/dev/null; CONN_PID=""
  start=$(up)
  expect_run 0 "^\Q$H\E: no active connections" "drain --wait: returns once the connection is closed" drain "$H" --wait 60
  log "drain --wait returned after $(since "$start") s"
  expect_run 0 "^\Q$H ($SVC): drained -> health-driven, weight 0 -> 10\E$" "enable $H gives it back" enable "$H"
  check "enable: back at weight 10" weight_is "$(addr_of "$held")" 10
else
  notok "an established connection through the VIP (got '$first')"
fi

# --- disable and enable, weight ----------------------------------------------
expect_run 0 "^\Q192.0.2.12:7000 ($SVC): health-driven -> disabled, weight 10 -> out\E$" "disable 192.0.2.12:7000" disable 192.0.2.12:7000 "$VIP:7000"
check "disable: out of the table at once" eval '[ -z "$(weight_of 192.0.2.12)" ]'
all_rs1=1; for i in 1 2 3; do [ "$(hello)" = "hello from rs1" ] || all_rs1=0; done
check "disable: new connections all go to rs1" [ "$all_rs1" = 1 ]
sleep 3   # its checks go on: still out
check "disable: still out while its check passes" eval '[ -z "$(weight_of 192.0.2.12)" ]'
check "status: effective out, disabled by operator" status_has '^  192\.0\.2\.12:7000\tup\tweight 10\teffective out \(disabled by operator\)\tkernel -\t'
expect_run 0 "disabled -> health-driven, weight out -> 10" "enable 192.0.2.12:7000" enable 192.0.2.12:7000
check "enable: back at weight 10" weight_is 192.0.2.12 10
expect_run 0 "health-driven -> weight 3, weight 10 -> 3" "weight 192.0.2.11:7000 3" weight 192.0.2.11:7000 3
check "weight: the kernel weight is 3" weight_is 192.0.2.11 3
# maintenancedir and an override: the stricter wins, and status says which.
touch "$work/maint/192.0.2.11:7000"
t=$(wait_for 15 eval '[ -z "$(weight_of 192.0.2.11)" ]') \
  && ok "maintenancedir wins over the operator's weight: out (${t}s)" || notok "maintenance over weight ($(weights))"
check "status says maintenance wins" status_has '^  192\.0\.2\.11:7000\tdown\tweight 10\teffective out \(in maintenance, operator weight 3 \(in maintenance wins\)\)\tkernel -\t'
rm -f "$work/maint/192.0.2.11:7000"
t=$(wait_for 15 weight_is 192.0.2.11 3) \
  && ok "out of maintenance: the operator's weight again (${t}s)" || notok "after maintenance ($(weights))"

# --- bad input ---------------------------------------------------------------
before=$(kernel)
expect_run 1 'no real server 192\.0\.2\.13:7000 in the running configuration; close matches: 192\.0\.2\.1[12]:7000, 192\.0\.2\.1[12]:7000' \
  "unknown real: exit 1 with close matches" drain 192.0.2.13:7000
expect_run 1 'a weight is a whole number from 0 to 65535, not "70000"' "weight out of range: exit 1" weight 192.0.2.11:7000 70000
expect_run 1 'is not a real server: an IPv6 address goes in brackets' "a real mistyped: exit 1" drain 2001:db8::1:80
mv "$SOCK" "$SOCK.real"
echo precious > "$SOCK"
expect_run 1 'is a regular file, not the daemon.s control socket: not talking to it' "a regular file at the socket path: refused" drain 192.0.2.11:7000
check "and it is left as it was" eval '[ "$(cat "$SOCK")" = precious ]'
rm -f "$SOCK"
/usr/bin/python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); time.sleep(60)' "$SOCK" &
FAKE_PID=$!
wait_for 30 test -S "$SOCK" >/dev/null || log "the stranger socket did not appear"
expect_run 1 'is served by pid [0-9]+ \(uid 0\), not by the daemon \(pid [0-9]+\): not talking to it' \
  "a socket served by another process: refused before sending" drain 192.0.2.11:7000
kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; FAKE_PID=""
rm -f "$SOCK"; mv "$SOCK.real" "$SOCK"
check "bad input changed nothing in the kernel" kernel_is "$before"
expect_run 0 "weight 3 \(unchanged\)" "the daemon's socket, moved back, still answers" weight 192.0.2.11:7000 3

# --- a restart keeps the overrides -------------------------------------------
expect_run 0 "drained" "drain 192.0.2.12:7000" drain 192.0.2.12:7000
check "the state file is 0600 and holds both overrides" \
  eval '[ "$(stat -c %a "$STATE")" = 600 ] && grep -q "\"real\":\"192.0.2.11:7000\",\"action\":\"weight\",\"weight\":3" "$STATE" && grep -q "\"real\":\"192.0.2.12:7000\",\"action\":\"drain\"" "$STATE"'
check "restart exits 0" "$LD" "$CF" restart
t=$(wait_for 30 eval 'weight_is 192.0.2.11 3 && weight_is 192.0.2.12 0') \
  && ok "after the restart: weight 3 and drained, as before (${t}s)" || notok "restart keeps the overrides ($(weights))"
check "the restart says the overrides are in force" \
  eval 'grep -q "Operator override in force: real server 192.0.2.12:7000 ($SVC) drained (by uid 0 pid" "$LOG"'

# --- plan: exactly what the reload does --------------------------------------
expect_run 0 "" "enable 192.0.2.11:7000" enable 192.0.2.11:7000
expect_run 0 "" "enable 192.0.2.12:7000" enable 192.0.2.12:7000
wait_for 10 eval 'weight_is 192.0.2.11 10 && weight_is 192.0.2.12 10' >/dev/null
expect_run 0 "would make no kernel operations" "plan with nothing edited: exit 0" plan
write_cf rr 4
before=$(kernel)
run_ld plan
plan_out=$out
if [ "$rc" = 1 ] && [ "$plan_out" = "edit service $SVC: scheduler wrr -> rr
edit real 192.0.2.12:7000 of $SVC: weight 10 -> 4" ]; then
  ok "plan after an edit: exit 1, the two operations"
else
  notok "plan after an edit"; show
fi
check "plan says a reload would make them" eval 'printf "%s" "$err" | grep -q "is running with pid [0-9]*: a reload would make 2 kernel operations"'
sleep 2
check "plan changed nothing in the kernel" kernel_is "$before"
reloads=$(grep -c "^.*Reload: " "$LOG")
check "reload exits 0" "$LD" "$CF" reload
t=$(wait_for 20 eval 'weight_is 192.0.2.12 4') && ok "the reload put the edit in force (${t}s)" || notok "reload ($(weights))"
sleep 1
applied=$(grep "Reload: " "$LOG" | tail -n +"$((reloads + 1))" | sed 's/.*Reload: //')
if [ "$applied" = "$plan_out" ]; then
  ok "the reload logged exactly the operations plan listed"
else
  notok "the reload's operations are the plan's"; printf '%s\n' "$applied" | sed 's/^/#   reload: /'
fi
expect_run 0 "would make no kernel operations" "plan after the reload: nothing to do, exit 0" plan
echo "checkintervall=5" >> "$CF"
expect_run 2 'Unknown command "checkintervall"' "plan on a file with an error: exit 2, the error shown" plan
write_cf rr 4

# --- the state file: corrupt, and from an older configuration ----------------
check "stop exits 0" "$LD" "$CF" stop
expect_run 1 "^\Qadd service $SVC scheduler rr\E$" "plan with no daemon: what a start would do (exit 1)" plan
check "plan says it is a start's" eval 'printf "%s" "$err" | grep -q "is stopped for $CF: a start would make 1 kernel operation:"'
echo '{"version":1,"overrides":[' > "$STATE"
check "start with a corrupt state file exits 0" "$LD" "$CF" start
t=$(wait_for 30 eval 'weight_is 192.0.2.11 10 && weight_is 192.0.2.12 4') \
  && ok "and runs without overrides (${t}s)" || notok "corrupt state file ($(weights))"
check "the corrupt file is reported and set aside, not lost" \
  eval 'grep -q "the state file $STATE is not usable (not a state file: .*): set aside as $STATE.corrupt-" "$LOG" && ls "$STATE".corrupt-* >/dev/null && [ "$(cat "$STATE".corrupt-*)" = "{\"version\":1,\"overrides\":[" ]'
check "stop exits 0" "$LD" "$CF" stop
cat > "$STATE" <<EOF
{"version":1,"config":"$CF","overrides":[
 {"virtual":"$SVC","real":"192.0.2.11:7000","action":"weight","weight":2,"by":{"uid":0,"pid":1},"at":1.0},
 {"virtual":"$SVC","real":"192.0.2.99:7000","action":"disable","by":{"uid":0,"pid":1},"at":1.0}]}
EOF
check "start with a state file of an older configuration exits 0" "$LD" "$CF" start
t=$(wait_for 30 eval 'weight_is 192.0.2.11 2 && weight_is 192.0.2.12 4') \
  && ok "its override of a configured real holds (${t}s)" || notok "older state file ($(weights))"
check "the override of a real no longer configured is dropped, with a line" \
  eval 'grep -q "Dropped operator override: real server 192.0.2.99:7000 ($SVC) disabled: not in the configuration" "$LOG" && ! grep -q 192.0.2.99 "$STATE"'

check "stop exits 0" "$LD" "$CF" stop
check "stop removed the control socket" eval '[ ! -e "$SOCK" ]'
check "cleanstop removed the service" eval '! ipvsadm -Ln | grep -q "$VIP:7000"'

echo "# log of the daemon:"
sed 's/^/#   /' "$LOG" | grep -v "DEBUG" | tail -n 40
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
