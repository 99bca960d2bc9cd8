#!/bin/bash
# The checks are eval'd strings, expanded when they run (rc, out):
# shellcheck disable=SC2016,SC2034
# tests/vm/upgrade-ocf.sh - ldirectord-rs next to what it replaces, on a
# real IPVS in a throw-away qemu guest:
#
#   1. upgrade from Debian's Perl ldirectord: a Perl daemon started as
#      `ldirectord /etc/ha.d/ldirectord.cf start` (pid file
#      ldirectord.ldirectord.cf.pid) and as `ldirectord start`
#      (ldirectord.ldirectord.pid); ours must see it (status), leave it
#      alone (start), stop it and take over (restart, stop);
#   2. Pacemaker's OCF agent ocf:heartbeat:ldirectord driving our binary:
#      ocf-tester passes, and a typo saved in the file while the daemon
#      runs keeps `monitor` at 0, `reload` refused, `stop` working;
#   3. a start without CAP_NET_ADMIN fails visibly (status, stderr, log);
#      `-d`: status finds the daemon, each check result and the reason of
#      a removal are logged.
#
# Needs `tests/vm/install-deps.sh --ocf` (the Perl ldirectord,
# resource-agents, libxml2-utils). On the host it re-runs itself in a guest
# (tests/vm/run.sh); it never touches the host's network. It uses the
# binary $LDIRECTORD (default target/debug/ldirectord, built on the host).
#
# One real server (busybox httpd) in a namespace behind a bridge; the
# virtual service is only looked at in the table (no client traffic):
#
#   director = guest root ns   br-rs 192.0.2.1/24 --- rs1 192.0.2.11 (/health.html: OK)
#   virtual 198.51.100.100:80 -> 192.0.2.11:80 masq
#
# Each step prints "ok - NAME" or "not ok - NAME"; the last line is
# "N passed, M failed". Exit 0 only when nothing failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
if [ "${LDRS_VM:-}" != 1 ]; then
  exec "$here/run.sh" -t "${LDRS_VM_TIMEOUT:-600}" "$here/upgrade-ocf.sh" "$@"
fi

LD=${LDIRECTORD:-$root/target/debug/ldirectord}
PERL_LD=/usr/sbin/ldirectord
AGENT=/usr/lib/ocf/resource.d/heartbeat/ldirectord
[ -x "$LD" ] || { echo "upgrade-ocf.sh: $LD not built (cargo build first)" >&2; exit 2; }
for f in "$PERL_LD" "$AGENT" /usr/sbin/ocf-tester /usr/bin/xmllint; do
  [ -x "$f" ] || { echo "upgrade-ocf.sh: $f missing (tests/vm/install-deps.sh --ocf)" >&2; exit 2; }
done

# shellcheck source=tests/vm/lib/netns.sh
. "$here/lib/netns.sh"
CF=/etc/ha.d/ldirectord.cf
work=$(mktemp -d /tmp/upgrade-ocf.XXXXXX)
LOG=$work/ld.log
cleanup() {
  local f
  "$LD" "$CF" stop >/dev/null 2>&1 || true
  # Whatever did not stop: the daemons this script started, by pid.
  for f in /run/ldirectord.ldirectord.pid /run/ldirectord.ldirectord.cf.pid; do
    [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
  done
  [ -n "${dpid:-}" ] && kill -9 "$dpid" 2>/dev/null
  ns_teardown
}
trap cleanup EXIT

TAP_STAMP=1
# shellcheck source=tests/vm/lib/tap.sh
. "$here/lib/tap.sh"
not() { ! "$@"; }
# wait_for SECONDS CMD...: this script's own, silent (its callers test the
# status only): poll every 0.2 s, bounded, then CMD's own status.
wait_for() {
  local i n=$(($1 * 5)); shift
  for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.2; done
  "$@"
}
has_real() { ipvsadm -Ln | grep -q -- "-> 192.0.2.11:80"; }
no_service() { ! ipvsadm -Ln | grep -q "198.51.100.100:80"; }
pid_in() { cat "/run/$1" 2>/dev/null; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
gone() { ! alive "$1"; }
# How many ldirectord daemons (ours or Perl) run for $CF: processes whose
# command line ends in "start" (or "restart") and names the file or no
# file at all.
daemons() { pgrep -fc "ldirectord( $CF)? (re)?start$" || true; }
status_says() { # PID ARGS...: `ldirectord ARGS status` exits 0 naming PID
  local pid=$1 out; shift
  out=$("$LD" "$@" status 2>&1) && [[ $out == *"is running with pid: $pid"* ]]
}

log "kernel $(uname -r)"
modprobe -a ip_vs ip_vs_rr ip_vs_wrr veth bridge
ns_bridge br-rs 192.0.2.1/24
ns_create rs1
ns_bridge_port br-rs rs1 vrs1 192.0.2.11/24
ns_httpd rs1 192.0.2.11 80 "hello from rs1"
ns_wait_http "" "http://192.0.2.11/health.html" >/dev/null
mkdir -p /etc/ha.d
cat > "$CF" <<EOF
checktimeout=2
negotiatetimeout=2
checkinterval=1
logfile="$LOG"
virtual=198.51.100.100:80
	real=192.0.2.11:80 masq
	service=http
	request="health.html"
	receive="OK"
	scheduler=rr
EOF
log "topology up"

# --- 1. upgrade from the Perl daemon ----------------------------------------
log "Perl ldirectord, started with the file named: $PERL_LD $CF start"
check "Perl start exits 0" "$PERL_LD" "$CF" start
check "Perl wrote /run/ldirectord.ldirectord.cf.pid" wait_for 30 test -s /run/ldirectord.ldirectord.cf.pid
perl_pid=$(pid_in ldirectord.ldirectord.cf.pid)
check "Perl added the real" wait_for 30 has_real
check "ours: status (file named) finds the Perl daemon" status_says "$perl_pid" "$CF"
check "ours: status (no file named) finds the Perl daemon" status_says "$perl_pid"
out=$("$LD" "$CF" start 2>&1); rc=$?
check "ours: start exits 0 and says it already runs" eval '[ $rc = 0 ] && [[ $out == *"already running"* ]]'
check "ours: start started no second daemon" eval '[ "$(daemons)" = 1 ] && [ ! -e /run/ldirectord.ldirectord.pid ]'
log "ours: restart (stops the Perl daemon, starts ours)"
check "ours: restart exits 0" "$LD" "$CF" restart
check "the Perl daemon is gone" gone "$perl_pid"
ours_pid=$(pid_in ldirectord.ldirectord.pid)
check "ours runs under its own pid file" eval 'alive "$ours_pid" && [ "$ours_pid" != "$perl_pid" ]'
check "ours has the real in the table" wait_for 20 has_real
check "ours: status names our daemon" status_says "$ours_pid" "$CF"
check "one daemon" eval '[ "$(daemons)" = 1 ]'
check "ours: stop exits 0" "$LD" "$CF" stop
check "our daemon is gone, its service removed" eval 'gone "$ours_pid" && no_service'

log "Perl ldirectord, started with no file named: (cd / && $PERL_LD start)"
check "Perl start exits 0" eval '(cd / && "$PERL_LD" start)'
check "Perl wrote /run/ldirectord.ldirectord.pid" wait_for 30 test -s /run/ldirectord.ldirectord.pid
perl_pid=$(pid_in ldirectord.ldirectord.pid)
check "Perl added the real" wait_for 30 has_real
check "ours: status (file named) finds it" status_says "$perl_pid" "$CF"
check "ours: start leaves it alone" eval '"$LD" "$CF" start && [ "$(daemons)" = 1 ] && alive "$perl_pid"'
check "ours: stop stops it" "$LD" "$CF" stop
check "the Perl daemon is gone and cleaned its service up" eval 'gone "$perl_pid" && no_service'
check "ours: status then says stopped (3)" eval '"$LD" "$CF" status >/dev/null 2>&1; [ $? = 3 ]'

# --- 2. Pacemaker's OCF agent -------------------------------------------------
export OCF_ROOT=/usr/lib/ocf OCF_RESKEY_configfile=$CF OCF_RESKEY_ldirectord=$LD
log "ocf-tester on $AGENT with ldirectord=$LD"
if out=$(ocf-tester -n ldrs -o configfile="$CF" -o ldirectord="$LD" "$AGENT" 2>&1); then
  ok "ocf-tester passes: $(echo "$out" | tail -n 1)"
else
  printf '#   %s\n' "${out//$'\n'/$'\n'#   }"
  notok "ocf-tester passes"
fi
"$LD" "$CF" stop >/dev/null 2>&1
agent() { "$AGENT" "$1" >"$work/agent.out" 2>&1; }
check "agent: start exits 0" agent start
check "agent: monitor is 0" agent monitor
check "the real is in the table" wait_for 20 has_real
pid=$(pid_in ldirectord.ldirectord.pid)
log "a typo saved in the file while the daemon runs"
sed -i 's/ masq$/ masquerade/' "$CF"
check "agent: monitor is still 0" agent monitor
out=$("$LD" "$CF" reload 2>&1); rc=$?
check "ours: reload is refused (2) with the error" eval '[ $rc = 2 ] && [[ $out == *"forward method must be gate, masq or ipip"* ]]'
check "ours: restart is refused (2)" eval '"$LD" "$CF" restart >/dev/null 2>&1; [ $? = 2 ]'
check "the daemon runs on, the real still in the table" eval 'alive "$pid" && has_real'
check "the refusal is in the daemon's log" grep -q "not reloading: the daemon (pid $pid)" "$LOG"
check "agent: stop exits 0" agent stop
check "the daemon is gone, its service removed" eval 'gone "$pid" && no_service'
check "agent: monitor is 7 (not running)" eval 'agent monitor; [ $? = 7 ]'
log "the file deleted while the daemon runs"
sed -i 's/ masquerade$/ masq/' "$CF"
check "ours: start exits 0" "$LD" "$CF" start
pid=$(pid_in ldirectord.ldirectord.pid)
mv "$CF" "$work/saved.cf"
check "ours: stop stops it all the same" eval '"$LD" "$CF" stop && gone "$pid"'
mv "$work/saved.cf" "$CF"

# --- 3. a start that fails, -d: status, check results and reasons ------------
log "without CAP_NET_ADMIN: setpriv --bounding-set=-net_admin $LD $CF start"
out=$(setpriv --bounding-set=-net_admin "$LD" "$CF" start 2>&1); rc=$?
check "start without CAP_NET_ADMIN fails (1), says why once" eval \
  '[ $rc = 1 ] && [ "$(grep -c "needs CAP_NET_ADMIN" <<<"$out")" = 1 ]'
check "the failed start is in the configured log" \
  grep -q "Exiting with exit_status 1: .*needs CAP_NET_ADMIN" "$LOG"
check "it left no pid file" test ! -e /run/ldirectord.ldirectord.pid

log "ours in the foreground: $LD -d $CF start"
"$LD" -d "$CF" start 2>"$work/debug.err" &
dpid=$!
check "-d: the real is added" wait_for 20 has_real
check "-d: status finds the daemon" status_says "$dpid" "$CF"
check "-d: each check result is logged (DEBUG2/DEBUG3)" eval \
  'grep -q "^DEBUG2: Checking negotiate: real server=192.0.2.11:80 (virtual=tcp:198.51.100.100:80)" "$work/debug.err" &&
   grep -q "^DEBUG3: Activated service 192.0.2.11:80" "$work/debug.err"'
check "-d: the real's first check is logged with its reason" \
  grep -q "^Real server 192.0.2.11:80 (tcp:198.51.100.100:80) is up: " "$work/debug.err"
for p in $(ip netns pids rs1); do kill "$p" 2>/dev/null; done
check "-d: the real is removed when its server dies" wait_for 20 not has_real
check "-d: the removal follows a line with the reason" eval \
  'grep -A1 "is down: Connection refused" "$work/debug.err" | grep -q "^Deleted real server: 192.0.2.11:80"'
check "-d: stop stops it" eval '"$LD" "$CF" stop && gone "$dpid"'
wait "$dpid" 2>/dev/null

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
