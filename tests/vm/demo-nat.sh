#!/bin/bash
# tests/vm/demo-nat.sh [REQUESTS] - IPVS NAT (masquerading) demo in the guest.
#
# On the host it re-runs itself inside a guest: tests/vm/run.sh tests/vm/demo-nat.sh
# (it never touches the host's network). Inside the guest it builds:
#
#   client ns                 director = guest root ns                  reals
#   eth0 198.51.100.10/24 --- vcli 198.51.100.1/24                     rs1 eth0 192.0.2.11/24
#   default via .1            VIP 198.51.100.100/32 on vcli    br-rs --- rs2 eth0 192.0.2.12/24
#                             br-rs 192.0.2.1/24, ip_forward=1          default via 192.0.2.1
#
# then programs the virtual service VIP:80 (rr, -m) with ipvsadm, sends
# REQUESTS (default 6, at most 100) HTTP requests from the client and checks
# that the answers alternate between rs1 and rs2. Exit 0 on PASS, 1 on FAIL.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
n=${1:-6}
case $n in ''|*[!0-9]*) echo "demo-nat.sh: REQUESTS must be a number" >&2; exit 2 ;; esac
if [ "$n" -lt 2 ] || [ "$n" -gt 100 ]; then echo "demo-nat.sh: REQUESTS must be 2..100" >&2; exit 2; fi

if [ "${LDRS_VM:-}" != 1 ]; then
  exec "$here/run.sh" -t "${LDRS_VM_TIMEOUT:-120}" "$here/demo-nat.sh" "$n"
fi

# shellcheck source=tests/vm/lib/netns.sh
. "$here/lib/netns.sh"
trap ns_teardown EXIT

up() { cut -d' ' -f1 /proc/uptime; }
log() { echo "[$(up)] $*"; }

VIP=198.51.100.100
log "kernel $(uname -r); loading ip_vs ip_vs_rr veth bridge"
modprobe -a ip_vs ip_vs_rr veth bridge
sysctl -qw net.ipv4.ip_forward=1

ns_create client
ns_veth client vcli 198.51.100.10/24 198.51.100.1/24
ns_exec client ip route add default via 198.51.100.1
ns_addr "" vcli "$VIP/32"

ns_bridge br-rs 192.0.2.1/24
for i in 1 2; do
  ns_create "rs$i"
  ns_bridge_port br-rs "rs$i" "vrs$i" "192.0.2.1$i/24"
  ns_exec "rs$i" ip route add default via 192.0.2.1
  ns_httpd "rs$i" "192.0.2.1$i" 80 "hello from rs$i"
done
ns_wait_http "" http://192.0.2.11/
ns_wait_http "" http://192.0.2.12/
log "topology up: client, director (VIP $VIP), rs1, rs2 serving HTTP"

ipvsadm -A -t "$VIP:80" -s rr
ipvsadm -a -t "$VIP:80" -r 192.0.2.11:80 -m -w 1
ipvsadm -a -t "$VIP:80" -r 192.0.2.12:80 -m -w 1
ipvsadm -Ln

log "$n requests from the client to http://$VIP/"
answers=()
for ((i = 1; i <= n; i++)); do
  a=$(ns_get client "http://$VIP/" 2>&1) || a="FAILED ($a)"
  answers+=("$a")
  echo "  request $i: $a"
done

ipvsadm -Ln --stats   # (6.1 folds per-CPU counters into these every 2 s)

# PASS: every answer came from a real, and neighbours always differ.
ok=1 c1=0 c2=0
for ((i = 0; i < n; i++)); do
  case ${answers[i]} in
    "hello from rs1") c1=$((c1 + 1)) ;;
    "hello from rs2") c2=$((c2 + 1)) ;;
    *) ok=0 ;;
  esac
  if [ "$i" -gt 0 ] && [ "${answers[i]}" = "${answers[i - 1]}" ]; then ok=0; fi
done
log "rs1 answered $c1, rs2 answered $c2"
ipvsadm -C
ns_teardown
log "torn down; links left: $(ip -br link | awk '{printf "%s ", $1}')namespaces left: $(ip netns list | wc -l)"
if [ "$ok" = 1 ]; then
  echo "RESULT nat: PASS (round robin alternated over $n requests)"
else
  echo "RESULT nat: FAIL"
  exit 1
fi
