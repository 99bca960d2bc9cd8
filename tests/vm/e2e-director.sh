#!/bin/bash
# tests/vm/e2e-director.sh - the ldirectord-rs daemon end to end on a real
# IPVS, with real traffic, inside a throw-away qemu guest.
#
# On the host it re-runs itself in a guest (tests/vm/run.sh); it never
# touches the host's network. It uses the binary $LDIRECTORD (default
# target/debug/ldirectord, built on the host).
#
# Topology (NAT, test-net addresses only):
#
#   client ns                 director = guest root ns                 reals
#   eth0 198.51.100.10/24 --- vcli 198.51.100.1/24                     rs1 192.0.2.11  \
#   default via .1            VIP 198.51.100.100/32 on vcli   br-rs --- rs2 192.0.2.12   } busybox httpd
#                             br-rs 192.0.2.1/24, ip_forward=1         sorry 192.0.2.99 /  (fallback)
#
# Each step prints "ok - NAME" or "not ok - NAME"; the last line is
# "N passed, M failed". Exit 0 only when nothing failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
if [ "${LDRS_VM:-}" != 1 ]; then
  exec "$here/run.sh" -t "${LDRS_VM_TIMEOUT:-900}" "$here/e2e-director.sh" "$@"
fi

LD=${LDIRECTORD:-$root/target/debug/ldirectord}
[ -x "$LD" ] || { echo "e2e-director.sh: $LD not built (cargo build first)" >&2; exit 2; }

# shellcheck source=tests/vm/lib/netns.sh
. "$here/lib/netns.sh"
work=$(mktemp -d /tmp/e2e-director.XXXXXX)
cleanup() {
  "$LD" "$CF" stop >/dev/null 2>&1 || true
  pkill -9 -f "ldirectord $CF" 2>/dev/null || true
  ns_teardown
}
trap cleanup EXIT

passed=0 failed=0
up() { cut -d' ' -f1 /proc/uptime; }
log() { echo "# [$(up)] $*"; }
ok() { echo "ok - $1"; passed=$((passed + 1)); }
notok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }

VIP=198.51.100.100
CF=$work/director.cf
LOG=$work/ldirectord.log
table() { ipvsadm -Ln 2>/dev/null; }
# The table without the connection counters (they move with traffic).
shape() { table | awk '{ print $1, $2, $3, $4 }'; }
# has_dest SVC-PORT RIP:RPORT -> the table lists the dest under VIP:SVC-PORT.
has_dest() {
  table | awk -v svc="$VIP:$1" -v d="$2" '
    /^(TCP|UDP|FWM)/ { in_svc = ($2 == svc) }
    in_svc && $1 == "->" && $2 == d { found = 1 }
    END { exit !found }'
}
has_service() { table | grep -q "^TCP  $VIP:$1 "; }
weight_of() {
  table | awk -v svc="$VIP:$1" -v d="$2" '
    /^(TCP|UDP|FWM)/ { in_svc = ($2 == svc) }
    in_svc && $1 == "->" && $2 == d { print $4 }'
}
# wait_for SECONDS CMD...: poll every 0.2 s; prints the seconds it took.
wait_for() {
  local limit=$1 start now; shift
  start=$(up)
  while :; do
    if "$@"; then awk -v a="$start" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }'; return 0; fi
    now=$(up)
    awk -v a="$start" -v b="$now" -v l="$limit" 'BEGIN { exit !(b - a > l) }' && return 1
    sleep 0.2
  done
}
not() { ! "$@"; }

log "kernel $(uname -r)"
modprobe -a ip_vs ip_vs_rr ip_vs_wrr veth bridge
sysctl -qw net.ipv4.ip_forward=1

ns_create client
ns_veth client vcli 198.51.100.10/24 198.51.100.1/24
ns_exec client ip route add default via 198.51.100.1
ns_addr "" vcli "$VIP/32"
ns_bridge br-rs 192.0.2.1/24
start_real() { # NAME ADDR TEXT
  ns_httpd "$1" "$2" 80 "$3"
  ns_wait_http "" "http://$2/" >/dev/null
}
# Kill every process of a real's namespace (its web server).
kill_real() { # NAME
  local p
  for p in $(ip netns pids "$1"); do kill "$p" 2>/dev/null; done
  sleep 0.2
}
for spec in "rs1 192.0.2.11" "rs2 192.0.2.12" "sorry 192.0.2.99"; do
  set -- $spec
  ns_create "$1"
  ns_bridge_port br-rs "$1" "v$1" "$2/24"
  ns_exec "$1" ip route add default via 192.0.2.1
  start_real "$1" "$2" "hello from $1"
done
for a in 11 12 99; do ns_wait_http "" "http://192.0.2.$a/" >/dev/null; done
log "topology up"

write_config() { # EXTRA-GLOBALS EXTRA-VIRTUAL
  cat > "$CF" <<EOF
checktimeout=2
negotiatetimeout=2
checkinterval=1
failurecount=1
logfile="$LOG"
fallback=192.0.2.99:80 masq
$1
virtual=$VIP:80
	real=192.0.2.11:80 masq
	real=192.0.2.12:80 masq
	service=http
	request="health.html"
	receive="OK"
	scheduler=rr
$2
EOF
}
write_config "quiescent=no" ""

# --- start ------------------------------------------------------------------
check "configtest accepts the config" eval '"$LD" -t "$CF" >/dev/null'
check "start exits 0 (daemon)" "$LD" "$CF" start
check "status says running (exit 0)" eval '"$LD" "$CF" status 2>/dev/null'
t=$(wait_for 20 eval 'has_dest 80 192.0.2.11:80 && has_dest 80 192.0.2.12:80') \
  && ok "both reals added after their first checks (${t}s)" || notok "both reals added"
check "no fallback while reals are up" not has_dest 80 192.0.2.99:80
sleep 1.2   # the status file is written at most once a second
check "status lists each real with its health and kernel weight" \
  eval '"$LD" "$CF" status 2>/dev/null | grep -P "^  192\.0\.2\.11:80\tup\tweight 1\tkernel 1\tok: " >/dev/null'
table > "$work/ipvsadm.txt"; "$LD" list > "$work/list.txt"
check "ldirectord list matches ipvsadm -Ln line by line" diff "$work/ipvsadm.txt" "$work/list.txt"

# --- traffic alternates -----------------------------------------------------
answers=()
for i in 1 2 3 4 5 6; do answers+=("$(ns_get client "http://$VIP/" 2>&1)"); done
alt=1
for i in 1 2 3 4 5; do [ "${answers[i]}" != "${answers[i-1]}" ] || alt=0; done
[[ "${answers[*]}" == *"hello from rs1"* && "${answers[*]}" == *"hello from rs2"* ]] || alt=0
[ "$alt" = 1 ] && ok "the client sees the reals alternate: ${answers[*]}" || notok "traffic alternates: ${answers[*]}"

# --- a dead real leaves and returns -----------------------------------------
# Bound: checkinterval x failurecount + checktimeout (1 + 2 s), plus 3 s for
# the emulated guest.
kill_real rs1
t=$(wait_for 6 not has_dest 80 192.0.2.11:80) \
  && ok "a killed real leaves the table within the bound (${t}s)" || notok "killed real removed"
for i in 1 2 3; do
  a=$(ns_get client "http://$VIP/" 2>&1)
  [ "$a" = "hello from rs2" ] || { notok "traffic goes to the live real ($a)"; break; }
  [ "$i" = 3 ] && ok "traffic goes only to the live real"
done
start_real rs1 192.0.2.11 "hello from rs1"
t=$(wait_for 6 has_dest 80 192.0.2.11:80) \
  && ok "the restarted real returns (${t}s)" || notok "restarted real returns"

# --- fallback ---------------------------------------------------------------
kill_real rs1; kill_real rs2
t=$(wait_for 8 has_dest 80 192.0.2.99:80) \
  && ok "the fallback appears when all reals are down (${t}s)" || notok "fallback appears"
check "the client gets the fallback" eval '[ "$(ns_get client http://$VIP/)" = "hello from sorry" ]'
start_real rs1 192.0.2.11 "hello from rs1"
start_real rs2 192.0.2.12 "hello from rs2"
t=$(wait_for 8 eval 'has_dest 80 192.0.2.11:80 && not has_dest 80 192.0.2.99:80') \
  && ok "the fallback leaves when a real returns (${t}s)" || notok "fallback removed"
wait_for 8 has_dest 80 192.0.2.12:80 >/dev/null

# --- reload -----------------------------------------------------------------
write_config "quiescent=no" "virtual=$VIP:8080
	real=192.0.2.11:80 masq
	real=192.0.2.12:80 masq
	service=http
	request=\"health.html\"
	receive=\"OK\""
check "reload exits 0" "$LD" "$CF" reload
t=$(wait_for 8 eval 'has_service 8080 && has_dest 8080 192.0.2.11:80') \
  && ok "a reload adds a virtual service (${t}s)" || notok "reload adds a virtual"
check "the unchanged reals were not touched by the reload" eval 'has_dest 80 192.0.2.11:80 && has_dest 80 192.0.2.12:80'
write_config "quiescent=no" ""
"$LD" "$CF" reload
t=$(wait_for 8 not has_service 8080) \
  && ok "a reload removes a virtual service (${t}s)" || notok "reload removes a virtual"

# A broken file: the daemon keeps its configuration and keeps serving.
cp "$CF" "$work/good.cf"
printf 'virtual=%s:80\n\treal=192.0.2.11:80 gateway\n' "$VIP" >> "$CF"
"$LD" "$CF" reload 2>/dev/null   # the config is broken: exits 2 as upstream
kill -HUP "$(cat /var/run/ldirectord.director.cf.pid)"
sleep 2
check "a broken reload is logged with its errors" grep -q "forward method must be gate, masq or ipip" "$LOG"
check "a broken reload keeps the running config" eval 'has_dest 80 192.0.2.11:80 && has_dest 80 192.0.2.12:80'
check "and the daemon keeps serving" eval '[ -n "$(ns_get client http://$VIP/)" ]'
cp "$work/good.cf" "$CF"

# --- drift repair -----------------------------------------------------------
ipvsadm -C
t=$(wait_for 6 eval 'has_dest 80 192.0.2.11:80 && has_dest 80 192.0.2.12:80') \
  && ok "ipvsadm -C behind the daemon's back is repaired (${t}s)" || notok "drift repaired"
ipvsadm -e -t "$VIP:80" -r 192.0.2.12:80 -m -w 7
t=$(wait_for 6 eval '[ "$(weight_of 80 192.0.2.12:80)" = 1 ]') \
  && ok "a changed weight is put back (${t}s)" || notok "weight repaired"

# --- quiescent --------------------------------------------------------------
write_config "quiescent=yes" ""
"$LD" "$CF" reload
sleep 2
kill_real rs2
t=$(wait_for 6 eval '[ "$(weight_of 80 192.0.2.12:80)" = 0 ]') \
  && ok "quiescent=yes: a dead real stays with weight 0 (${t}s)" || notok "quiesced"
start_real rs2 192.0.2.12 "hello from rs2"
t=$(wait_for 6 eval '[ "$(weight_of 80 192.0.2.12:80)" = 1 ]') \
  && ok "quiescent=yes: it gets its weight back (${t}s)" || notok "restored"

# --- kill -9 and start again: adoption without failed requests --------------
before=$(shape)
kill -9 "$(cat /var/run/ldirectord.director.cf.pid)"
sleep 0.5
# A bounded client loop (at most 150 requests, 0.1 s apart) while the
# daemon is restarted and re-adopts the table.
(
  fails=0
  for i in $(seq 1 150); do
    ns_get client "http://$VIP/" >/dev/null 2>&1 || fails=$((fails + 1))
    sleep 0.1
  done
  echo "$fails" > "$work/client-fails"
) &
client=$!
sleep 1
check "start after kill -9 replaces the stale pid file" "$LD" "$CF" start
wait "$client"
check "no failed client request during the restart ($(cat "$work/client-fails") failed)" \
  eval '[ "$(cat "$work/client-fails")" = 0 ]'
check "the table was adopted unchanged" eval '[ "$(shape)" = "$before" ]'
check "no real was added then removed at start (no flap)" \
  eval '! tail -n 20 "$LOG" | grep -q "Deleted real server"'

# --- stop -------------------------------------------------------------------
check "stop exits 0 and waits for the daemon" "$LD" "$CF" stop
check "cleanstop removed our service" not has_service 80
check "the pid file is gone" eval '[ ! -e /var/run/ldirectord.director.cf.pid ]'
check "status says stopped (exit 3)" eval '"$LD" "$CF" status >/dev/null; [ $? = 3 ]'

echo "# log of the daemon:"
sed 's/^/#   /' "$LOG" | tail -n 40
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
