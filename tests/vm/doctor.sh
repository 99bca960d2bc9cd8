#!/bin/bash
# tests/vm/doctor.sh - `ldirectord doctor` and `doctor --real` against a real
# kernel, inside a throw-away qemu guest: the director's missing VIP and a
# real server's missing VIP and wrong arp_ignore are found, and the findings
# go away once fixed.
#
# On the host it re-runs itself in a guest (tests/vm/run.sh); it never
# touches the host's network. It uses the binary $LDIRECTORD (default
# target/debug/ldirectord, built on the host).
#
# Topology (direct routing, test-net addresses only):
#
#   director = guest root ns                    real
#   vrs1 192.0.2.1/24  ------------------------ rs1 eth0 192.0.2.11/24
#   VIP 192.0.2.100 (added during the test)     VIP on lo (added during the test)
#
# Each step prints "ok - NAME" or "not ok - NAME"; the last line is
# "N passed, M failed". Exit 0 only when nothing failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
if [ "${LDRS_VM:-}" != 1 ]; then
  exec "$here/run.sh" -t "${LDRS_VM_TIMEOUT:-300}" "$here/doctor.sh" "$@"
fi

LD=${LDIRECTORD:-$root/target/debug/ldirectord}
[ -x "$LD" ] || { echo "doctor.sh: $LD not built (cargo build first)" >&2; exit 2; }

# shellcheck source=tests/vm/lib/netns.sh
. "$here/lib/netns.sh"
work=$(mktemp -d /tmp/doctor.XXXXXX)
trap 'ns_teardown; rm -rf "$work"' EXIT

# shellcheck source=tests/vm/lib/tap.sh
. "$here/lib/tap.sh"

VIP=192.0.2.100
CF=$work/doctor.cf
cat > "$CF" <<CF
virtual=$VIP:80
	real=192.0.2.11:80 gate
	checktype=off
CF

OUT=$work/out
# doctor NS [ARGS...]: run doctor in NS ("" = the director); output in $OUT,
# exit status returned.
doctor() {
  local ns=$1; shift
  LDIRECTORD_RESOLVE=hosts ns_exec "$ns" "$LD" "$CF" doctor "$@" > "$OUT" 2>&1
}
# expect NAME STATUS [grep -E PATTERN [absent PATTERN]]
expect() {
  local name=$1 want=$2 got=$3 has=${4:-} hasnot=${5:-}
  if [ "$got" != "$want" ]; then
    notok "$name (exit $got, wanted $want)"; sed 's/^/#   /' "$OUT"; return
  fi
  if [ -n "$has" ] && ! grep -Eq "$has" "$OUT"; then
    notok "$name (no line matching '$has')"; sed 's/^/#   /' "$OUT"; return
  fi
  if [ -n "$hasnot" ] && grep -Eq "$hasnot" "$OUT"; then
    notok "$name (a line matches '$hasnot')"; sed 's/^/#   /' "$OUT"; return
  fi
  ok "$name"
}

modprobe -a ip_vs veth
ns_create rs1
ns_veth rs1 vrs1 192.0.2.11/24 192.0.2.1/24

# --- the director
doctor ""; rc=$?
expect "director: missing VIP is a problem naming it" 1 "$rc" "^PROBLEM: VIP $VIP "
expect "director: IPVS is available" 1 "$rc" '^ok: *IPVS is available'
expect "director: prints the real's gate commands" 1 "$rc" "^ +ip addr add $VIP/32 dev lo$"

ns_addr "" lo "$VIP/32"
doctor ""; rc=$?
expect "director: VIP added, finding gone, exit 0" 0 "$rc" "^ok: *VIP $VIP is on lo" "^PROBLEM"

# --- the real (its own netns: its own sysctls and addresses)
ns_exec rs1 sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.eth0.arp_ignore=0 \
  net.ipv4.conf.all.arp_announce=0 net.ipv4.conf.eth0.arp_announce=0
doctor rs1 --real; rc=$?
expect "real: missing VIP on lo is a problem" 1 "$rc" "^PROBLEM: VIP $VIP is not on lo"
expect "real: arp_ignore=0 is a problem" 1 "$rc" "^PROBLEM: arp_ignore is 0"

ns_addr rs1 lo "$VIP/32"
ns_exec rs1 sysctl -qw net.ipv4.conf.all.arp_announce=2
doctor rs1 --real; rc=$?
expect "real: VIP on lo and arp_announce=2, arp_ignore=0 still a problem" 1 "$rc" \
  "^PROBLEM: arp_ignore is 0" "^PROBLEM: (VIP|arp_announce)"

ns_exec rs1 sysctl -qw net.ipv4.conf.all.arp_ignore=1
doctor rs1 --real; rc=$?
expect "real: arp_ignore=1, arp_announce=2, VIP on lo: exit 0" 0 "$rc" \
  "^ok: *arp_ignore is right" "^PROBLEM"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
