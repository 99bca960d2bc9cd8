#!/bin/bash
# tests/vm/demo-director.sh - watch ldirectord-rs balance traffic and fail
# over, in a throw-away qemu guest with a real IPVS (or, with --here, on a
# host whose kernel has IPVS: it then creates its own namespaces and
# removes them at the end).
#
# It builds a NAT director (VIP 198.51.100.100:80) in front of two web
# servers and a sorry server, each in its own network namespace, starts
# `ldirectord -d` (in the foreground, log on stderr), and then narrates:
# traffic alternating, a real failing and leaving the table, the fallback
# taking over when every real is down, and everything coming back.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
if [ "${1:-}" != --here ] && [ "${LDRS_VM:-}" != 1 ]; then
  [ -x "$root/target/debug/ldirectord" ] || (cd "$root" && cargo build -q) || exit 1
  exec "$here/run.sh" -t "${LDRS_VM_TIMEOUT:-600}" "$here/demo-director.sh" --here
fi
LD=${LDIRECTORD:-$root/target/debug/ldirectord}

# shellcheck source=tests/vm/lib/netns.sh
. "$here/lib/netns.sh"
work=$(mktemp -d /tmp/demo-director.XXXXXX)
daemon=
# Wait for the daemon only: a bare `wait` would also wait for the web
# servers, which ns_teardown stops.
trap '[ -z "$daemon" ] || { kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; }; ns_teardown; rm -rf "$work"' EXIT

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
VIP=198.51.100.100
show() { ipvsadm -Ln | sed 's/^/    /'; }
requests() { # N
  local i out=()
  for ((i = 0; i < $1; i++)); do out+=("$(ns_get client "http://$VIP/" 2>&1 || echo FAILED)"); done
  printf '    %s\n' "${out[@]}"
}
kill_real() { local p; for p in $(ip netns pids "$1"); do kill "$p"; done; }

modprobe -a ip_vs ip_vs_rr veth bridge
sysctl -qw net.ipv4.ip_forward=1
say "Building the network: client -> director (VIP $VIP) -> web1, web2, sorry"
ns_create client
ns_veth client vcli 198.51.100.10/24 198.51.100.1/24
ns_exec client ip route add default via 198.51.100.1
ns_addr "" vcli "$VIP/32"
ns_bridge br-web 192.0.2.1/24
for spec in "web1 192.0.2.11" "web2 192.0.2.12" "sorry 192.0.2.99"; do
  set -- $spec
  ns_create "$1"
  ns_bridge_port br-web "$1" "v$1" "$2/24"
  ns_exec "$1" ip route add default via 192.0.2.1
  ns_httpd "$1" "$2" 80 "hello from $1"
  ns_wait_http "" "http://$2/" >/dev/null
done

cat > "$work/ldirectord.cf" <<EOF
checktimeout=2
checkinterval=1
fallback=192.0.2.99:80 masq

virtual=$VIP:80
	real=192.0.2.11:80 masq
	real=192.0.2.12:80 masq
	service=http
	request="health.html"
	receive="OK"
	scheduler=rr
EOF
say "The configuration (an ordinary ldirectord.cf):"
sed 's/^/    /' "$work/ldirectord.cf"

say "Starting: ldirectord -d $work/ldirectord.cf start   (its log follows, unindented)"
"$LD" -d "$work/ldirectord.cf" start &
daemon=$!
sleep 3
say "The IPVS table the director built:"
show
say "Six requests from the client to http://$VIP/ - the two web servers take turns:"
requests 6

say "web1 fails (its web server is killed)..."
kill_real web1
sleep 3
show
say "Requests now all go to web2:"
requests 4

say "web2 fails too: the fallback (sorry) server takes over"
kill_real web2
sleep 3
show
requests 2

say "Both come back"
ns_httpd web1 192.0.2.11 80 "hello from web1"
ns_httpd web2 192.0.2.12 80 "hello from web2"
sleep 3
show
requests 4

say "Stopping the director (cleanstop=yes by default: it removes its service)"
kill "$daemon"; wait "$daemon" 2>/dev/null; daemon=
show
say "Done."
