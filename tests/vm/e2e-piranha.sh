#!/bin/bash
# tests/vm/e2e-piranha.sh - a Piranha lvs.cf converted by `ldirectord convert`
# and run by the daemon programs the same kernel IPVS table as Piranha's own
# ipvsadm commands, in a throw-away qemu guest.
#
# On the host it re-runs itself in a guest (tests/vm/run.sh); it never
# touches the host's network. It uses the binary $LDIRECTORD (default
# target/debug/ldirectord, built on the host).
#
# The lvs.cf is the seed file of the Piranha corpus with its addresses
# mapped to 192.0.2.0/24 (tests/data/piranha/guest/). Two network namespaces
# hold one IPVS table each:
#
#   lvsd  the reference: the ipvsadm commands lvsd and its nannies ran
#         (tests/data/piranha/guest/*.ipvsadm, then nanny's -e on a failure
#         and a return, and lvsd's -D at stop), run with ipvsadm;
#   dir   the converted ldirectord.cf run by ldirectord-rs, which checks
#         the reals as nanny did (simpletcp "GET / HTTP/1.0" expecting HTTP).
#
#   dir 192.0.2.230 --- br-pi 192.0.2.1 --- rs1 192.0.2.240, rs2 192.0.2.231 (busybox httpd)
#
# After each step the two tables, as `ipvsadm -Ln` prints them, must be the
# same. Each step prints "ok - NAME" or "not ok - NAME"; the last line is
# "N passed, M failed". Exit 0 only when nothing failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
if [ "${LDRS_VM:-}" != 1 ]; then
  exec "$here/run.sh" -t "${LDRS_VM_TIMEOUT:-600}" "$here/e2e-piranha.sh" "$@"
fi

LD=${LDIRECTORD:-$root/target/debug/ldirectord}
[ -x "$LD" ] || { echo "e2e-piranha.sh: $LD not built (cargo build first)" >&2; exit 2; }
LVS=$root/tests/data/piranha/guest/seed-webs-test-com-mapped.cf
TABLE=$root/tests/data/piranha/guest/seed-webs-test-com-mapped.ipvsadm
VIP=192.0.2.250

# shellcheck source=tests/vm/lib/netns.sh
. "$here/lib/netns.sh"
work=$(mktemp -d /tmp/e2e-piranha.XXXXXX)
daemon=
cleanup() {
  if [ -n "$daemon" ]; then
    kill "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null
  fi
  ns_teardown
}
trap cleanup EXIT

# shellcheck source=tests/vm/lib/tap.sh
. "$here/lib/tap.sh"

# The table of a namespace as ipvsadm -Ln prints it, without the connection
# counters (the reference has no traffic; neither has the director here).
table() { ns_exec "$1" ipvsadm -Ln | awk '{ print $1, $2, $3, $4 }'; }
same() {
  table lvsd > "$work/lvsd.txt"
  table dir > "$work/dir.txt"
  diff -u "$work/lvsd.txt" "$work/dir.txt" > "$work/diff.txt"
}
# compare NAME: the two tables are the same (else the diff is shown).
compare() {
  if same; then ok "$1"; else notok "$1"; sed 's/^/#   /' "$work/diff.txt"; fi
}
# The weight of a real in the director's table.
weight_of() {
  ns_exec dir ipvsadm -Ln | awk -v d="$1:80" '$1 == "->" && $2 == d { print $4 }'
}
lvsd() { ns_exec lvsd ipvsadm "$@"; }

log "kernel $(uname -r)"
modprobe -a ip_vs ip_vs_rr veth bridge

# --- convert --------------------------------------------------------------
convert() { "$LD" convert "$LVS" -o "$work/lb.cf" 2>"$work/convert.err"; }
configtest() { "$LD" -t "$work/lb.cf" >/dev/null; }
has_line() { grep -qxF "$1" "$work/lb.cf"; }
nanny_kept() {
  has_line $'\treceive="^HTTP"' && has_line $'\tcheckinterval=6' \
    && has_line $'\trisecount=2' && has_line $'\tquiescent=yes'
}
check "convert writes the ldirectord.cf (exit 0)" convert
sed 's/^/#   /' "$work/convert.err"
check "configtest accepts the converted file" configtest
check "it keeps nanny's check, timing and quiescence" nanny_kept

# --- topology -------------------------------------------------------------
ns_create lvsd
ns_create dir
ns_bridge br-pi 192.0.2.1/24
ns_bridge_port br-pi dir vdir 192.0.2.230/24
start_real() { # NAME ADDR
  ns_httpd "$1" "$2" 80 "hello from $1"
  ns_wait_http "" "http://$2/" >/dev/null
}
kill_real() { # NAME: every process of its namespace
  local p
  for p in $(ip netns pids "$1"); do kill "$p" 2>/dev/null; done
  sleep 0.2
}
for spec in "rs1 192.0.2.240" "rs2 192.0.2.231"; do
  read -r name addr <<< "$spec"
  ns_create "$name"
  ns_bridge_port br-pi "$name" "v$name" "$addr/24"
  start_real "$name" "$addr"
done
log "topology up"

# --- start: lvsd's -A and each nanny's -a; the daemon ----------------------
grep -v '^#' "$TABLE" | while read -r -a args; do
  lvsd "${args[@]}"
done
# In the foreground (-d, log to stderr); ip netns exec execs it, so $! is
# the daemon itself.
ip netns exec dir "$LD" -d "$work/lb.cf" start > "$work/daemon.log" 2>&1 &
daemon=$!
both_up() { [ "$(weight_of 192.0.2.240)" = 1 ] && [ "$(weight_of 192.0.2.231)" = 1 ]; }
weight_is() { [ "$(weight_of "$1")" = "$2" ]; }
t=$(wait_for 45 both_up) \
  && ok "the daemon adds both reals after their checks (${t}s)" || notok "both reals added"
compare "the same table as lvsd's ipvsadm commands"

# --- a real fails: nanny -q set its weight to 0 -----------------------------
kill_real rs1
lvsd -e -t "$VIP:80" -r 192.0.2.240:80 -g -w 0
t=$(wait_for 30 weight_is 192.0.2.240 0) \
  && ok "a failed real is quiesced, as by quiesce_server = 1 (${t}s)" || notok "failed real quiesced"
compare "the same table after the failure"

# --- it returns: after reentry/timeout = 2 good checks, weight 1 again ------
start_real rs1 192.0.2.240
lvsd -e -t "$VIP:80" -r 192.0.2.240:80 -g -w 1
t=$(wait_for 45 weight_is 192.0.2.240 1) \
  && ok "the real returns after its good checks (${t}s)" || notok "real returns"
compare "the same table after the return"

# --- stop: the nannies' -d and lvsd's -D ------------------------------------
kill "$daemon"
wait "$daemon"
daemon=
lvsd -d -t "$VIP:80" -r 192.0.2.240:80
lvsd -d -t "$VIP:80" -r 192.0.2.231:80
lvsd -D -t "$VIP:80"
no_service() { ! ns_exec dir ipvsadm -Ln | grep -q '^TCP'; }
check "the daemon removed its service at stop (cleanstop)" no_service
compare "the same (empty) table after stop"

echo "# log of the daemon:"
sed 's/^/#   /' "$work/daemon.log" | tail -n 30
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
