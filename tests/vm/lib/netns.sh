# shellcheck shell=bash
# tests/vm/lib/netns.sh - helpers to build small test networks out of network
# namespaces, veth pairs and bridges. Source it (bash) INSIDE the guest of
# tests/vm/run.sh, as root:
#
#   . tests/vm/lib/netns.sh
#   trap ns_teardown EXIT
#   ns_create client
#   ns_veth client vcli 198.51.100.10/24 198.51.100.1/24   # client <-> root ns
#   ns_bridge br-rs 192.0.2.1/24
#   ns_create rs1
#   ns_bridge_port br-rs rs1 vrs1 192.0.2.11/24
#   ns_exec rs1 ip route add default via 192.0.2.1
#   ns_httpd rs1 192.0.2.11 80 "hello from rs1"
#   ns_wait_http client http://192.0.2.11/
#   ns_get client http://192.0.2.11/
#
# Network rule: addresses are only ever taken from the documentation ranges
# 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32; the helpers
# refuse anything else (ns_check_addr). "The root namespace" is the guest's
# own (the director in IPVS tests). Everything created here is recorded and
# removed again by ns_teardown, in reverse order.

NS_LINKS=()   # links created in the root namespace (deleting one end of a veth removes both)
NS_NAMES=()   # namespaces created
NS_PIDS=()    # background servers started
NS_DIRS=()    # temporary directories (httpd document roots)

ns_die() { echo "netns.sh: $*" >&2; return 1; }

# ns_check_addr ADDR[/PREFIX]: succeed only for documentation addresses.
ns_check_addr() {
  local a=${1%/*}
  case $a in
    192.0.2.*|198.51.100.*|203.0.113.*) return 0 ;;
    2001:[dD][bB]8:*|2001:[dD][bB]8::*) return 0 ;;
  esac
  ns_die "refusing address $1: tests may only use 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32"
}

# ns_exec NS CMD...: run CMD in namespace NS ("" = the root namespace).
ns_exec() {
  local ns=$1; shift
  if [ -z "$ns" ]; then "$@"; else ip netns exec "$ns" "$@"; fi
}

# ns_create NAME: a new namespace with lo up.
ns_create() {
  ip netns add "$1" || return
  NS_NAMES+=("$1")
  ip -n "$1" link set lo up
}

# ns_addr NS IFACE ADDR/PREFIX: add a (checked) address to IFACE in NS ("" = root).
ns_addr() {
  ns_check_addr "$3" || return
  case $3 in
    *:*) ns_exec "$1" ip -6 addr add "$3" dev "$2" nodad ;;   # no DAD delay
    *) ns_exec "$1" ip addr add "$3" dev "$2" ;;
  esac
}

# ns_veth NS HOST_IF NS_ADDR/PREFIX [HOST_ADDR/PREFIX]
#   veth pair: HOST_IF in the root namespace, eth0 in NS. Both ends up.
ns_veth() {
  local ns=$1 hif=$2 nsaddr=$3 haddr=${4:-}
  ns_check_addr "$nsaddr" || return
  [ -z "$haddr" ] || ns_check_addr "$haddr" || return
  ip link add "$hif" type veth peer name eth0 netns "$ns" || return
  NS_LINKS+=("$hif")
  ns_addr "$ns" eth0 "$nsaddr"
  ip -n "$ns" link set eth0 up
  [ -z "$haddr" ] || ns_addr "" "$hif" "$haddr"
  ip link set "$hif" up
}

# ns_bridge BR [ADDR/PREFIX]: a bridge in the root namespace, up, optionally addressed.
ns_bridge() {
  ip link add "$1" type bridge || return
  NS_LINKS+=("$1")
  # no STP, no forwarding delay: ports forward at once
  ip link set "$1" type bridge stp_state 0 forward_delay 0
  [ -z "${2:-}" ] || ns_addr "" "$1" "$2"
  ip link set "$1" up
}

# ns_bridge_port BR NS HOST_IF NS_ADDR/PREFIX: veth from NS (eth0) into bridge BR.
ns_bridge_port() {
  local br=$1 ns=$2 hif=$3 nsaddr=$4
  ns_veth "$ns" "$hif" "$nsaddr" || return
  ip link set "$hif" master "$br"
}

# ns_httpd NS ADDR PORT TEXT: busybox httpd in NS on ADDR:PORT (ADDR "*":
# every address of NS, e.g. a direct-routing real that also answers on the
# VIP); "/" answers TEXT, "/health.html" answers "OK". Prints nothing; its
# pid is recorded.
ns_httpd() {
  local ns=$1 addr=$2 port=$3 text=$4 dir listen
  [ "$addr" = "*" ] || ns_check_addr "$addr" || return
  dir=$(mktemp -d /tmp/ns-httpd.XXXXXX) || return
  NS_DIRS+=("$dir")
  printf '%s\n' "$text" > "$dir/index.html"
  echo OK > "$dir/health.html"
  case $addr in \*) listen="$port" ;; *:*) listen="[$addr]:$port" ;; *) listen="$addr:$port" ;; esac
  # Started directly (not through ns_exec, whose subshell would be the job
  # and print "Terminated" when the server is killed): $! is the server
  # itself (ip netns exec execs it), so kill + wait reap it quietly.
  if [ -z "$ns" ]; then
    busybox httpd -f -p "$listen" -h "$dir" &
  else
    ip netns exec "$ns" busybox httpd -f -p "$listen" -h "$dir" &
  fi
  NS_PIDS+=($!)
}

# ns_get NS URL: one HTTP GET from NS (3 s limit); prints the body, fails on error.
ns_get() {
  if command -v curl >/dev/null; then
    ns_exec "$1" curl -sS --fail --max-time 3 --noproxy '*' "$2"
  else
    ns_exec "$1" busybox wget -q -T 3 -O - "$2"
  fi
}

# ns_wait_http NS URL [TRIES]: poll URL from NS every 0.2 s until it answers
# (default 50 tries, i.e. about 10 s).
ns_wait_http() {
  local i tries=${3:-50}
  for ((i = 0; i < tries; i++)); do
    ns_get "$1" "$2" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  ns_die "no answer from $2 in namespace ${1:-root} after $tries tries"
}

# ns_teardown: stop the servers, delete links, namespaces and directories.
# Safe to call more than once (e.g. from an EXIT trap).
# Every step tolerates failure: callers often run with set -e, which also
# applies inside an EXIT trap (and `wait` on a killed server returns 143).
ns_teardown() {
  local i
  for ((i = ${#NS_PIDS[@]} - 1; i >= 0; i--)); do
    kill "${NS_PIDS[i]}" 2>/dev/null || true
    wait "${NS_PIDS[i]}" 2>/dev/null || true
  done
  for ((i = ${#NS_LINKS[@]} - 1; i >= 0; i--)); do ip link del "${NS_LINKS[i]}" 2>/dev/null || true; done
  for ((i = ${#NS_NAMES[@]} - 1; i >= 0; i--)); do ip netns del "${NS_NAMES[i]}" 2>/dev/null || true; done
  for ((i = ${#NS_DIRS[@]} - 1; i >= 0; i--)); do rm -rf "${NS_DIRS[i]}" || true; done
  NS_PIDS=() NS_LINKS=() NS_NAMES=() NS_DIRS=()
  return 0
}
