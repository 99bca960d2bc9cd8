#!/bin/bash
# tests/vm/e2e-director.sh - the ldirectord-rs daemon end to end on a real
# IPVS, with real traffic, inside a throw-away qemu guest.
#
# On the host it re-runs itself in a guest (tests/vm/run.sh); it never
# touches the host's network. It uses the binary $LDIRECTORD (default
# target/debug/ldirectord, built on the host).
#
# Topology (test-net addresses only). NAT, the main instance:
#
#   client ns                 director = guest root ns                 reals
#   eth0 198.51.100.10/24 --- vcli 198.51.100.1/24                     rs1 192.0.2.11  \
#   default via .1            VIP 198.51.100.100/32 on vcli   br-rs --- rs2 192.0.2.12   } busybox httpd
#                             br-rs 192.0.2.1/24, ip_forward=1         sorry 192.0.2.99 /  (fallback)
#
# Direct routing (gate), a second instance started by the first (execute=);
# client, director and reals share one layer-2 segment, the reals hold the
# VIP on lo and do not answer ARP for it, and answer the client directly:
#
#   cdr ns 203.0.113.10/24 --- br-dr 203.0.113.1/24 --- dr1 203.0.113.21 (VIP 203.0.113.100/32 on lo)
#                              VIP 203.0.113.100/32 --- dr2 203.0.113.22 (VIP on lo)
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
  "$LD" "$DRCF" stop >/dev/null 2>&1 || true
  pkill -9 -f "ldirectord $CF" 2>/dev/null || true
  pkill -9 -f "ldirectord $DRCF" 2>/dev/null || true
  ns_teardown
}
trap cleanup EXIT

# shellcheck source=tests/vm/lib/tap.sh
. "$here/lib/tap.sh"

VIP=198.51.100.100
CF=$work/director.cf
LOG=$work/ldirectord.log
VIP_DR=203.0.113.100
DRCF=$work/dr.cf
DRLOG=$work/dr.log
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
# dr_has RIP: the DR service lists the real, forwarded by Route (gate).
dr_has() {
  table | awk -v svc="$VIP_DR:80" -v d="$1:80" '
    /^(TCP|UDP|FWM)/ { in_svc = ($2 == svc) }
    in_svc && $1 == "->" && $2 == d && $3 == "Route" { found = 1 }
    END { exit !found }'
}
weight_of() {
  table | awk -v svc="$VIP:$1" -v d="$2" '
    /^(TCP|UDP|FWM)/ { in_svc = ($2 == svc) }
    in_svc && $1 == "->" && $2 == d { print $4 }'
}
not() { ! "$@"; }
# alternates NS URL NAME1 NAME2: six requests from NS are answered "hello
# from NAME1" and "hello from NAME2" in turn (round robin); the answers
# are left in $ALT.
alternates() {
  local i answers=() alt=1
  for i in 1 2 3 4 5 6; do answers+=("$(ns_get "$1" "$2" 2>&1)"); done
  for i in 1 2 3 4 5; do [ "${answers[i]}" != "${answers[i-1]}" ] || alt=0; done
  [[ "${answers[*]}" == *"hello from $3"* && "${answers[*]}" == *"hello from $4"* ]] || alt=0
  ALT="${answers[*]}"
  [ "$alt" = 1 ]
}
# only_from NS URL NAME: three requests from NS are all answered "hello
# from NAME"; the first other answer is left in $ALT.
only_from() {
  local i a
  for i in 1 2 3; do
    a=$(ns_get "$1" "$2" 2>&1)
    [ "$a" = "hello from $3" ] || { ALT=$a; return 1; }
  done
}

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
ns_bridge br-dr 203.0.113.1/24
ns_addr "" br-dr "$VIP_DR/32"
ns_create cdr
ns_bridge_port br-dr cdr vcdr 203.0.113.10/24
dr_addr() { case $1 in dr1) echo 203.0.113.21 ;; dr2) echo 203.0.113.22 ;; esac; }
start_dr() { # NAME: its server answers on every address, the VIP included
  ns_httpd "$1" '*' 80 "hello from $1"
  ns_wait_http "" "http://$(dr_addr "$1")/" >/dev/null
}
for n in dr1 dr2; do
  ns_create "$n"
  ns_bridge_port br-dr "$n" "v$n" "$(dr_addr "$n")/24"
  ns_addr "$n" lo "$VIP_DR/32"
  ns_exec "$n" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
    net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2
  start_dr "$n"
done
log "topology up"

write_config() { # EXTRA-GLOBALS EXTRA-VIRTUAL (to $OUT, default $CF)
  cat > "${OUT:-$CF}" <<EOF
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
  eval '"$LD" "$CF" status 2>/dev/null | grep -P "^  192\.0\.2\.11:80\tup\tweight 1\teffective 1\tkernel 1\tok: " >/dev/null'
table > "$work/ipvsadm.txt"; "$LD" list > "$work/list.txt"
check "ldirectord list matches ipvsadm -Ln line by line" diff "$work/ipvsadm.txt" "$work/list.txt"

# --- traffic alternates -----------------------------------------------------
alternates client "http://$VIP/" rs1 rs2 \
  && ok "the client sees the reals alternate: $ALT" || notok "traffic alternates: $ALT"

# --- a dead real leaves and returns -----------------------------------------
# Bound: checkinterval x failurecount + checktimeout (1 + 2 s), plus 3 s for
# the emulated guest.
kill_real rs1
t=$(wait_for 6 not has_dest 80 192.0.2.11:80) \
  && ok "a killed real leaves the table within the bound (${t}s)" || notok "killed real removed"
only_from client "http://$VIP/" rs2 \
  && ok "traffic goes only to the live real" || notok "traffic goes to the live real ($ALT)"
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

# --- autoreload: an editor replaces the file (write elsewhere, rename) ---------
write_config "quiescent=no
autoreload=yes" ""
"$LD" "$CF" reload
sleep 2
cp "$CF" "$work/prev.cf"
OUT=$work/next.cf write_config "quiescent=no
autoreload=yes" "virtual=$VIP:8081
	real=192.0.2.12:80 masq
	service=http
	request=\"health.html\"
	receive=\"OK\""
mv "$work/next.cf" "$CF"
t=$(wait_for 8 eval 'has_service 8081 && has_dest 8081 192.0.2.12:80') \
  && ok "autoreload=yes: a file replaced by rename is applied with no signal (${t}s)" || notok "autoreload adds a virtual"
check "autoreload logs the change" grep -q "has changed on disk" "$LOG"
cp "$work/prev.cf" "$work/next.cf"; mv "$work/next.cf" "$CF"
t=$(wait_for 8 not has_service 8081) \
  && ok "autoreload=yes: the next edit removes it again (${t}s)" || notok "autoreload removes a virtual"
write_config "quiescent=no" ""   # autoreload reads this one and turns itself off
t=$(wait_for 8 eval 'grep -c "reread new configuration" "$LOG" | grep -qx 3') \
  && ok "autoreload read the file once per change (${t}s)" || notok "autoreload once per change ($(grep -c "reread new configuration" "$LOG"))"

# --- execute=: a second instance, direct routing (gate), real traffic -------
cat > "$DRCF" <<EOF
checktimeout=2
negotiatetimeout=2
checkinterval=1
failurecount=1
logfile="$DRLOG"
virtual=$VIP_DR:80
	real=203.0.113.21:80 gate
	real=203.0.113.22:80 gate
	service=http
	request="health.html"
	receive="OK"
	scheduler=rr
EOF
write_config "quiescent=no
execute=\"$DRCF\"" ""
"$LD" "$CF" reload
t=$(wait_for 10 eval '[ -e /var/run/ldirectord.dr.cf.pid ] && dr_has 203.0.113.21 && dr_has 203.0.113.22') \
  && ok "execute=: a reload starts the second instance; its reals are up, forwarded by gate (${t}s)" \
  || notok "execute= starts the second instance"
check "status runs status for the execute= instance" \
  eval '"$LD" "$CF" status 2>&1 | grep "ldirectord for $DRCF is running with pid" >/dev/null'
alternates cdr "http://$VIP_DR/" dr1 dr2 \
  && ok "DR: the client sees the reals alternate, answered directly: $ALT" \
  || notok "DR traffic alternates: $ALT"
kill_real dr1
t=$(wait_for 6 not dr_has 203.0.113.21) \
  && ok "DR: a killed real leaves the table within the bound (${t}s)" || notok "DR killed real removed"
only_from cdr "http://$VIP_DR/" dr2 \
  && ok "DR: traffic goes only to the live real" || notok "DR: traffic goes to the live real ($ALT)"
start_dr dr1
t=$(wait_for 6 dr_has 203.0.113.21) \
  && ok "DR: the restarted real returns (${t}s)" || notok "DR restarted real returns"
write_config "quiescent=no" ""
"$LD" "$CF" reload
t=$(wait_for 10 eval '[ ! -e /var/run/ldirectord.dr.cf.pid ] && ! table | grep -q "^TCP  $VIP_DR:80 "') \
  && ok "execute=: removing it from the file stops that instance, which cleans up (${t}s)" \
  || notok "execute= instance stopped on reload"
check "the main instance kept its table through all of this" \
  eval 'has_dest 80 192.0.2.11:80 && has_dest 80 192.0.2.12:80'

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
