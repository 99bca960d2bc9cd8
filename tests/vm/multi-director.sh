#!/bin/bash
# tests/vm/multi-director.sh - more than one director, with live connections,
# inside one throw-away qemu guest: active/passive on keepalived's VRRP with
# the kernel's connection sync (syncdaemon=), then active/active behind a
# router's ECMP route with the mh scheduler.
#
# On the host it re-runs itself in a guest (tests/vm/run.sh); it never touches
# the host's network. It uses $LDIRECTORD (default target/debug/ldirectord,
# built on the host) and Debian's keepalived (tests/vm/install-deps.sh
# --peers).
#
# Topology (test-net addresses only). The guest's root namespace is the
# router; everything else is a namespace on one bridge (direct routing: the
# reals answer the client through the router, not through a director):
#
#   client 203.0.113.1x --- vcli 203.0.113.1  [router: root ns, ip_forward,
#                           br-lan 192.0.2.1   fib_multipath_hash_policy=1]
#                             |
#        +----------------+---+-------------+----------------+
#   d1 192.0.2.2     d2 192.0.2.3     rs1 192.0.2.11    rs2 192.0.2.12
#   (ldirectord-rs on d1 and d2 with the same file)   (VIPs on lo, arp_ignore,
#                                                       an echo server on :80)
#
# VRRP: keepalived on d1 (priority 150) and d2 (100) holds 192.0.2.100 on
# eth0, nothing else; syncdaemon=both eth0. A long-lived echo session runs
# through the VIP; d1's link goes down; the session must go on through d2.
#
# ECMP: the router routes 198.51.100.100 over d1 and d2 (L4 hash), which hold
# it on lo; scheduler mh, no sync daemon. Sessions run; d2 leaves the route
# and stops; d1 must carry d2's sessions on to the same reals. Once without
# net.ipv4.vs.sloppy_tcp (the control: d2's sessions do not go on), once
# with it. New connections run all along; none may fail after the change.
#
# Why an echo session, not a streamed download: with direct routing the
# download goes from the real to the client without a director; only the
# client's ACKs cross it. Every echoed line crosses the director and comes
# back, so a session that completes proves the path both ways.
#
# Each step prints "ok - NAME" or "not ok - NAME", measurements print as
# "# measured: ..."; the last line is "N passed, M failed". Exit 0 only
# when nothing failed. Run time, one guest boot included: 3 min 16 s to
# 9 min 52 s on a 2-core host at a load of 6.5 to 14 (six runs); most of
# it is deliberate waiting.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
if [ "${LDRS_VM:-}" != 1 ]; then
  exec "$here/run.sh" -t "${LDRS_VM_TIMEOUT:-900}" "$here/multi-director.sh" "$@"
fi

LD=${LDIRECTORD:-$root/target/debug/ldirectord}
[ -x "$LD" ] || { echo "multi-director.sh: $LD not built (cargo build first)" >&2; exit 2; }
command -v keepalived >/dev/null || {
  echo "multi-director.sh: keepalived missing (tests/vm/install-deps.sh --peers)" >&2; exit 2; }

# shellcheck source=tests/vm/lib/netns.sh
. "$here/lib/netns.sh"
work=$(mktemp -d /tmp/multi-director.XXXXXX)
VCF=$work/vrrp.cf
ECF=$work/ecmp.cf
KA_PIDS=()
cleanup() {
  local d c p
  for d in d1 d2; do
    for c in "$VCF" "$ECF"; do ld "$d" "$c" stop >/dev/null 2>&1 || true; done
  done
  for p in "${KA_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ns_teardown
}
trap cleanup EXIT

# shellcheck source=tests/vm/lib/tap.sh
. "$here/lib/tap.sh"
measured() { echo "# measured: $*"; }

VIP_V=192.0.2.100        # VRRP
VIP_E=198.51.100.100     # ECMP
LOGF=$work/ldirectord.log
# ld DIRECTOR ARGS...: ldirectord in the director's namespace, with its own
# run directory (pid, status file); both directors log to $LOGF, told apart
# by pid.
ld() {
  local d=$1; shift
  mkdir -p "$work/run-$d"
  ip netns exec "$d" env LDIRECTORD_RUN_DIR="$work/run-$d" "$LD" "$@"
}
ld_pid() { cat "$work/run-$1/ldirectord.$(basename "$2").pid" 2>/dev/null; }
# The log lines of one director's daemon.
ld_log() { grep -F "|$(basename "$2")|$(ld_pid "$1" "$2")]" "$LOGF"; }
table() { ip netns exec "$1" ipvsadm -Ln 2>/dev/null; }
# reals_up DIRECTOR VIP: both reals listed with weight 1.
reals_up() {
  table "$1" | awk -v svc="$2:80" '
    /^(TCP|UDP|FWM)/ { in_svc = ($2 == svc) }
    in_svc && $1 == "->" && $4 == 1 { n++ }
    END { exit !(n == 2) }'
}
# The dests in the kernel's list order (ipvsadm sorts them otherwise).
dest_order() { ip netns exec "$1" ipvsadm -Ln --nosort | awk '$1 == "->" { print $2 }' | tr '\n' ' '; }
# synced DIRECTOR CPORT: the director's connection table holds the client's
# connection from CPORT to the VRRP VIP.
synced() { ip netns exec "$1" ipvsadm -Lnc 2>/dev/null | grep "203.0.113.10:$2 *$VIP_V:80" >/dev/null; }
# conns_to DIRECTOR VIP CLIENT: established connections from CLIENT to VIP
# in its table.
conns_to() { ip netns exec "$1" ipvsadm -Lnc 2>/dev/null | grep -c "ESTABLISHED *$3:[0-9]* *$2:80 "; }

# --- client side, run in the client namespace --------------------------------
# Both scripts fork as little as they can (the guest is emulated and shares
# the host with builds): the clock is read from /proc/uptime by `read`, and
# they wait with `read -t` on a fifo nobody writes to, not with sleep(1).
# session VIP OUT STOP: an echo session: a line every 0.5 s until the file
# STOP exists (at most 240 lines), then "bye"; each echo is written to OUT
# with the uptime it arrived, the number of lines sent to OUT.sent, and to
# OUT.end how it ended: "closed" (the real closed after "bye"), "lost" (nc
# ended before STOP: a reset), or "hung" (no answer to "bye" in 10 s).
cat > "$work/session" <<'EOF'
#!/bin/bash
vip=$1 out=$2 stop=$3
trap '' PIPE
mkfifo "$out.tick" "$out.in" && exec 9<>"$out.tick"
echo 0 > "$out.sent"
{ busybox nc "$vip" 80 < "$out.in" & echo $! > "$out.pid"; wait; } \
  | while read -r l; do read -r t _ < /proc/uptime; echo "$t $l"; done > "$out" &
reader=$!
exec 8> "$out.in"
for ((k = 0; k < 100; k++)); do [ -s "$out.pid" ] && break; read -rt 0.1 -u 9; done
read -r nc < "$out.pid"
end=hung
for ((i = 1; i <= 240; i++)); do
  [ -e "$stop" ] && break
  kill -0 "$nc" 2>/dev/null || { end=lost; break; }
  { echo "ping $i" >&8; } 2>/dev/null; echo "$i" > "$out.sent"
  read -rt 0.5 -u 9
done
{ echo bye >&8; } 2>/dev/null
exec 8>&-
for ((k = 0; k < 20; k++)); do
  kill -0 "$nc" 2>/dev/null || { [ "$end" = lost ] || end=closed; break; }
  read -rt 0.5 -u 9
done
kill "$nc" 2>/dev/null
wait "$reader"
echo "$end" > "$out.end"
rm -f "$out.tick" "$out.in" "$out.pid"
EOF
# probes VIP SECONDS OUT: a new connection every 0.3 s (each in the
# background, 10 s limit), one line per probe in OUT: START END ok|fail:WHY.
cat > "$work/probes" <<'EOF'
#!/bin/bash
vip=$1 secs=$2 out=$3
mkfifo "$out.tick" && exec 9<>"$out.tick"
cs() { local u; read -r u _ < /proc/uptime; echo $((10#${u/./})); }   # centiseconds
end=$(( $(cs) + secs * 100 ))
n=0
while [ "$(cs)" -lt "$end" ] && [ $n -lt 200 ]; do
  (
    s=$(cs)
    r=$(echo bye | timeout 10 busybox nc "$vip" 80 2>&1)
    rc=$?
    case $r in *": bye") v=ok ;; *) v="fail:rc=$rc:${r//[[:space:]]/_}" ;; esac
    e=$(cs)
    echo "$((s / 100)).$((s % 100 / 10)) $((e / 100)).$((e % 100 / 10)) $v" >> "$out"
  ) &
  n=$((n + 1))
  read -rt 0.3 -u 9
done
wait
rm -f "$out.tick"
EOF
chmod +x "$work/session" "$work/probes"
client() { ip netns exec client "$@"; }
# survived OUT: every line the session sent came back, then "bye", all
# from one real (prints that real's name).
survived() {
  [ "$(cat "$1.end")" = closed ] || return 1
  awk -v sent="$(cat "$1.sent")" '
    { split($2, a, ":"); real[a[1]] = 1 }
    $3 == "ping" { n++ }
    $3 == "bye" { bye = 1; who = a[1] }
    END { r = 0; for (k in real) r++; if (n == sent && sent > 0 && bye && r == 1) { print who; exit 0 } exit 1 }' "$1"
}
# echoes_since OUT T: echoes that arrived after uptime T.
echoes_since() { awk -v t="$2" '$1 > t' "$1" | wc -l; }
# longest_gap OUT: the longest wait between two echoes of a session (s).
longest_gap() {
  awk 'NR > 1 { g = $1 - p; if (g > m) m = g } { p = $1 } END { printf "%.1f", m }' "$1"
}

# --- the network ---------------------------------------------------------------
log "kernel $(uname -r), $(keepalived --version 2>&1 | head -n 1)"
modprobe -a ip_vs ip_vs_wlc ip_vs_mh veth bridge
sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1
ns_create client
ns_veth client vcli 203.0.113.10/24 203.0.113.1/24
client ip route add default via 203.0.113.1
# The router hashes a flow by the hash its packets carry (skb->l4_hash),
# which veth keeps from the client's socket: a random hash per connection,
# drawn again at every retransmission timeout (net.core.txrehash), so a
# flow could move between directors mid-stream, which no real router does.
# One hash per connection makes the test's router behave like one.
client sysctl -qw net.core.txrehash=0 || log "no net.core.txrehash: flows may move on retransmissions"
ns_bridge br-lan 192.0.2.1/24
for spec in "d1 192.0.2.2" "d2 192.0.2.3" "rs1 192.0.2.11" "rs2 192.0.2.12"; do
  set -- $spec
  ns_create "$1"
  ns_bridge_port br-lan "$1" "v$1" "$2/24"
  ns_exec "$1" ip route add default via 192.0.2.1
done
for d in d1 d2; do ns_addr "$d" lo "$VIP_E/32"; done
for r in rs1 rs2; do
  ns_addr "$r" lo "$VIP_V/32"
  ns_addr "$r" lo "$VIP_E/32"
  ns_exec "$r" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
  cat > "$work/echo-$r" <<EOF
#!/bin/sh
while read -r l; do echo "$r: \$l"; [ "\$l" = bye ] && exit 0; done
EOF
  chmod +x "$work/echo-$r"
  ns_exec "$r" busybox nc -ll -p 80 -e "$work/echo-$r" &
  NS_PIDS+=($!)
done
for r in "rs1 192.0.2.11" "rs2 192.0.2.12"; do
  set -- $r
  t=$(wait_for 10 eval "echo bye | timeout 2 busybox nc $2 80 | grep '$1: bye' >/dev/null") \
    || { notok "echo server on $1"; }
done

# =============================================================================
# VRRP: keepalived holds the VIP, the sync daemon carries the connections.
# =============================================================================
cat > "$VCF" <<EOF
# The same file on both directors.
logfile="$LOGF"
checkinterval=1
checktimeout=2
syncdaemon=both eth0 syncid=16
virtual=$VIP_V:80
	real=192.0.2.11:80 gate
	real=192.0.2.12:80 gate
	checktype=connect
	scheduler=wlc
EOF
for d in d1 d2; do
  n=${d#d}
  cat > "$work/keepalived-$d.conf" <<EOF
global_defs {
	router_id $d
}
vrrp_instance VI_1 {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority $((200 - 50 * n))
	advert_int 1
	virtual_ipaddress {
		$VIP_V/32 dev eth0
	}
}
EOF
  ip netns exec "$d" keepalived -n -l -D -P -f "$work/keepalived-$d.conf" \
    -p "$work/ka-$d.pid" -r "$work/ka-$d-vrrp.pid" > "$work/keepalived-$d.log" 2>&1 &
  KA_PIDS+=($!)
  check "$d: ldirectord starts with the VRRP file (syncdaemon=both eth0)" ld "$d" "$VCF" start
done
t=$(wait_for 20 eval "ip -n d1 addr show eth0 | grep '$VIP_V/' >/dev/null") \
  && ok "keepalived: d1 holds the VIP (${t}s)" || notok "keepalived: d1 holds the VIP"
t=$(wait_for 20 eval 'reals_up d1 $VIP_V && reals_up d2 $VIP_V') \
  && ok "both directors list both reals (${t}s)" || notok "both directors list both reals"
ld d1 list --daemon > "$work/list-daemon.txt"
ip netns exec d1 ipvsadm -L --daemon > "$work/ipvsadm-daemon.txt"
check "list --daemon shows the master and the backup daemon, as ipvsadm -L --daemon does" \
  eval 'grep -q "^master sync daemon (mcast=eth0, syncid=16, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)$" "$work/list-daemon.txt" && grep -q "^backup sync daemon (mcast=eth0, syncid=16" "$work/list-daemon.txt" && diff "$work/list-daemon.txt" "$work/ipvsadm-daemon.txt"'
# (Pipelines end in a grep that reads all its input: with pipefail, a grep -q
# that stops early would fail the writer with a closed pipe. doctor exits 1
# where the VIP is elsewhere.)
check "doctor: the sync interface is up with multicast" \
  eval '{ ld d1 "$VCF" doctor || true; } | grep "^ok: *syncdaemon interface eth0 is up with multicast$" >/dev/null'
sleep 1.2   # the status file is written at most once a second
check "status shows the sync daemons running" \
  eval 'ld d2 "$VCF" status 2>/dev/null | grep -P "^syncdaemon\tbackup sync daemon \(mcast=eth0, syncid=16.*\trunning$" >/dev/null'

# A long-lived session through the VIP, synchronised to d2 before d1 fails.
client "$work/session" "$VIP_V" "$work/vrrp-session" "$work/vrrp-stop" &
sess=$!
cport=
for _ in $(seq 100); do
  cport=$(client ss -Htn state established dst "$VIP_V:80" 2>/dev/null | awk '{ split($3, a, ":"); print a[2]; exit }')
  [ -n "$cport" ] && [ -s "$work/vrrp-session" ] && break
  sleep 0.2
done
t0=$(awk 'NR == 1 { print $1 }' "$work/vrrp-session")
t=$(wait_for 30 synced d2 "$cport") \
  && { ok "the session's connection reaches d2's table through the sync daemon"; \
       measured "VRRP: the connection is in the backup's table $(since "${t0:-0}") s after its first echo"; } \
  || notok "the session's connection reaches d2's table (client port ${cport:-none})"
client "$work/probes" "$VIP_V" 15 "$work/vrrp-probes" &
probes=$!
sleep 1.5
tfail=$(up)
log "d1's link goes down"
ip -n d1 link set eth0 down
t=$(wait_for 30 eval "ip -n d2 addr show eth0 | grep '$VIP_V/' >/dev/null") \
  && measured "VRRP: d2 holds the VIP ${t} s after d1's link went down (polled every 0.2 s)" \
  || notok "d2 takes the VIP over"
wait "$probes"
# The session goes on through d2 for a while (6 echoes), then ends.
t=$(wait_for 60 eval '[ "$(echoes_since "$work/vrrp-session" "$tfail")" -ge 6 ]') \
  || log "the session echoed $(echoes_since "$work/vrrp-session" "$tfail") lines since the failure"
touch "$work/vrrp-stop"
wait "$sess"
who=$(survived "$work/vrrp-session") \
  && ok "the long-lived session survived d1's failure on the same real ($who; $(cat "$work/vrrp-session.sent") lines)" \
  || { notok "the long-lived session survived d1's failure"; sed 's/^/#   /' "$work/vrrp-session" | tail -n 20; }
measured "VRRP: the session's longest wait between two echoes: $(longest_gap "$work/vrrp-session") s (0.5 s apart when nothing fails)"
# New connections: a probe whose SYN is lost is retried by TCP (after 1 s,
# then 3 s), so it may succeed late, or fail at its 10 s limit. Recovery is
# the start of the first probe after the failure from which every later one
# succeeded.
awk -v t="$tfail" '$1 >= t { printf "#   probe at +%.1f s: %s in %.1f s\n", $1 - t, $3, $2 - $1 }' \
  "$work/vrrp-probes" | sort -t+ -k2 -n
rec=$(sort -n "$work/vrrp-probes" | awk -v t="$tfail" '
  $1 >= t {
    n++; if ($3 != "ok") failed++; else if ($2 - $1 > slow) slow = $2 - $1
    if ($3 != "ok") from = ""; else if (from == "") from = $1
  }
  END { if (from == "") exit 1; printf "%.1f %d %d %.1f", from - t, failed, n, slow }') \
  && set -- $rec && [ "${1%.*}" -lt 30 ] \
  && { ok "new connections succeed again within 30 s of d1's failure"; \
       measured "VRRP: every new connection started ${1} s or more after the failure succeeded; $2 of $3 probes failed (10 s limit each); the slowest success took ${4} s"; } \
  || notok "new connections succeed again within 30 s of d1's failure (${rec:-never})"

# A reload with an interface that does not exist: an error for the
# directive, the services stay; the file restored, the daemons come back.
sed -i 's/^syncdaemon=both eth0/syncdaemon=both eth9/' "$VCF"
ld d2 "$VCF" reload >/dev/null 2>&1
t=$(wait_for 10 eval 'ld_log d2 "$VCF" | grep "syncdaemon=both eth9 syncid=16: start master sync daemon (mcast=eth9, syncid=16): No such device (ENODEV): no interface eth9" >/dev/null') \
  && ok "a missing interface is an error naming the directive and ENODEV (${t}s)" \
  || notok "a missing interface is an error naming the directive and ENODEV"
check "... the virtual service stays, its reals up" reals_up d2 "$VIP_V"
check "... and doctor names the problem" \
  eval '{ ld d2 "$VCF" doctor || true; } | grep "^PROBLEM: syncdaemon interface eth9 does not exist" >/dev/null'
check "... and no sync daemon runs" eval '[ -z "$(ld d2 list --daemon)" ]'
sed -i 's/^syncdaemon=both eth9/syncdaemon=both eth0/' "$VCF"
ld d2 "$VCF" reload >/dev/null 2>&1
t=$(wait_for 10 eval '[ "$(ld d2 list --daemon | wc -l)" = 2 ]') \
  && ok "the file restored, a reload starts both daemons again (${t}s)" || notok "daemons back after reload"

ip -n d1 link set eth0 up
for p in "${KA_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
KA_PIDS=()
for d in d1 d2; do
  check "$d: stop exits 0" ld "$d" "$VCF" stop
  check "$d: cleanstop stopped the sync daemons and removed the service" \
    eval '[ -z "$(ld '"$d"' list --daemon)" ] && ! table '"$d"' | grep "$VIP_V:80" >/dev/null'
done

# =============================================================================
# ECMP: both directors active, the router hashes flows over them.
# =============================================================================
cat > "$ECF" <<EOF
# The same file on both directors. quiescent and readdquiescent keep every
# real in the kernel's list, in the file's order, on both directors: mh
# builds its table from that list, so both pick the same real for a flow.
logfile="$LOGF"
checkinterval=1
checktimeout=2
quiescent=yes
readdquiescent=yes
virtual=$VIP_E:80
	real=192.0.2.11:80 gate
	real=192.0.2.12:80 gate
	checktype=connect
	scheduler=mh
	schedflags=mh-fallback,mh-port
EOF
ip route add "$VIP_E/32" nexthop via 192.0.2.2 nexthop via 192.0.2.3
N=12
# went_on TAG T COUNT: COUNT sessions of the run echoed 6 lines since T.
went_on() {
  local i n=0
  for ((i = 1; i <= N; i++)); do
    [ "$(echoes_since "$work/ecmp-$1-$i" "$2")" -lt 6 ] || n=$((n + 1))
  done
  [ "$n" -ge "$3" ]
}
# ecmp_run TAG SLOPPY CLIENT: sessions from the client address CLIENT
# through both directors; d2 leaves the route and stops while they run.
# Sets SURVIVED, GAP (the longest wait between two echoes of a session that
# survived), ON_D2, PROBE_FAILS, PROBES. Each run has its own client
# address: the entries an earlier run left in the tables are not counted.
ecmp_run() {
  local tag=$1 sloppy=$2 src=$3 d i t tfail sess=()
  ns_addr client eth0 "$src/24"
  client ip route replace "$VIP_E/32" via 203.0.113.1 src "$src"
  for d in d1 d2; do
    ip netns exec "$d" sysctl -qw "net.ipv4.vs.sloppy_tcp=$2"
    ld "$d" "$ECF" start >/dev/null || notok "$tag: $d starts"
  done
  t=$(wait_for 30 eval 'reals_up d1 $VIP_E && reals_up d2 $VIP_E') \
    || notok "$tag: both directors list both reals"
  check "$tag: both directors list the reals in the same order ($(dest_order d1))" \
    eval '[ "$(dest_order d1)" = "$(dest_order d2)" ]'
  check "$tag: doctor reports net.ipv4.vs.sloppy_tcp=$2" \
    eval '{ ld d1 "$ECF" doctor || true; } | grep "net.ipv4.vs.sloppy_tcp=$sloppy" >/dev/null'
  for ((i = 1; i <= N; i++)); do
    client "$work/session" "$VIP_E" "$work/ecmp-$tag-$i" "$work/ecmp-$tag-stop" &
    sess+=($!)
  done
  t=$(wait_for 60 eval '[ $(( $(conns_to d1 $VIP_E $src) + $(conns_to d2 $VIP_E $src) )) -ge $N ]') \
    || notok "$tag: the sessions are established ($(conns_to d1 "$VIP_E" "$src") on d1, $(conns_to d2 "$VIP_E" "$src") on d2)"
  ON_D2=$(conns_to d2 "$VIP_E" "$src")
  if [ "$ON_D2" -le 0 ]; then
    log "$tag: no session on d2; route: $(ip route show "$VIP_E" | tr '\n' ' ')"
    ip netns exec d2 ipvsadm -Lnc | sed 's/^/#   d2: /'
  fi
  ip netns exec d1 env NSTAT_HISTORY="$work/nstat.d1" nstat -n
  client env NSTAT_HISTORY="$work/nstat.client" nstat -n
  client "$work/probes" "$VIP_E" 10 "$work/ecmp-$tag-probes" &
  local probes=$!
  sleep 1.5
  tfail=$(up)
  log "$tag: d2 leaves the route and stops ($ON_D2 of $N sessions on it)"
  ip route replace "$VIP_E/32" via 192.0.2.2
  ld d2 "$ECF" stop >/dev/null || notok "$tag: d2 stops"
  wait "$probes"
  # The sessions that can go on echo a few more lines through d1 (all of
  # them, or without sloppy_tcp those that were on d1), then end.
  local expect=$N
  [ "$2" = 1 ] || expect=$((N - ON_D2))
  t=$(wait_for 60 went_on "$tag" "$tfail" "$expect") \
    || log "$tag: fewer than $expect sessions echoed 6 lines since the route change"
  touch "$work/ecmp-$tag-stop"
  for i in "${sess[@]}"; do wait "$i"; done
  SURVIVED=0 GAP=0
  for ((i = 1; i <= N; i++)); do
    if survived "$work/ecmp-$tag-$i" >/dev/null; then
      SURVIVED=$((SURVIVED + 1))
      GAP=$(awk -v a="$GAP" -v b="$(longest_gap "$work/ecmp-$tag-$i")" 'BEGIN { print (b > a) ? b : a }')
    else
      log "$tag: session $i $(cat "$work/ecmp-$tag-$i.end"): sent $(cat "$work/ecmp-$tag-$i.sent"), got $(wc -l < "$work/ecmp-$tag-$i") lines, the last: $(tail -n 1 "$work/ecmp-$tag-$i")"
    fi
  done
  log "$tag: d1's TCP stack sent $(ip netns exec d1 env NSTAT_HISTORY="$work/nstat.d1" nstat -z TcpOutRsts | awk '/TcpOutRsts/ { print $2 }') resets since the sessions started"
  log "$tag: the client: $(client env NSTAT_HISTORY="$work/nstat.client" nstat -z TcpEstabResets TcpInErrs TcpInCsumErrors TcpExtTCPChallengeACK TcpExtTCPACKSkippedChallenge TcpExtTCPAbortOnTimeout TcpRetransSegs | awk 'NR > 1 { printf "%s=%s ", $1, $2 }')"
  PROBES=$(awk -v t="$tfail" '$1 >= t' "$work/ecmp-$tag-probes" | wc -l)
  PROBE_FAILS=$(awk -v t="$tfail" '$1 >= t && $3 != "ok"' "$work/ecmp-$tag-probes" | wc -l)
  awk -v t="$tfail" '$1 >= t && $3 != "ok" { printf "#   %s: probe at +%.1f s: %s\n", tag, $1 - t, $3 }' \
    tag="$tag" "$work/ecmp-$tag-probes"
  ld d1 "$ECF" stop >/dev/null || notok "$tag: d1 stops"
  ip route replace "$VIP_E/32" nexthop via 192.0.2.2 nexthop via 192.0.2.3
}

ecmp_run control 0 203.0.113.11
measured "ECMP without sloppy_tcp: $SURVIVED of $N sessions survived ($ON_D2 were on d2); $PROBE_FAILS of $PROBES new connections failed after the route change"
check "control: without sloppy_tcp, d2's sessions are lost at d1" \
  eval '[ "$ON_D2" -gt 0 ] && [ "$SURVIVED" -le $((N - ON_D2)) ]'
ecmp_run sloppy 1 203.0.113.12
measured "ECMP with sloppy_tcp=1: $SURVIVED of $N sessions survived ($ON_D2 were on d2), the longest wait between two echoes $GAP s; $PROBE_FAILS of $PROBES new connections failed after the route change"
check "with sloppy_tcp=1, d2 carried sessions ($ON_D2) and every session survived ($SURVIVED of $N)" \
  eval '[ "$ON_D2" -gt 0 ] && [ "$SURVIVED" = "$N" ]'
check "no new connection failed after the route change ($PROBE_FAILS of $PROBES)" \
  eval '[ "$PROBE_FAILS" = 0 ] && [ "$PROBES" -gt 0 ]'

echo "# daemon log (both directors):"
sed 's/^/#   /' "$LOGF" | grep -v "real server" | tail -n 30
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
