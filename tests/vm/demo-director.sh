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
#
# Needs root (the guest's virtiofsd exports /) and Rust (cargo) to build
# ldirectord. It installs what the guest needs from Debian packages
# (tests/vm/install-deps.sh: nothing when present), builds
# target/debug/ldirectord (a few minutes the first time, seconds after),
# boots the guest (5-15 s) and runs the demo in it (about 1 min).
# LDIRECTORD=PATH uses that binary instead of building one.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
if [ "${1:-}" != --here ] && [ "${LDRS_VM:-}" != 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "demo-director.sh: run it as root: it installs the guest's Debian packages" \
      "and boots a qemu guest whose virtiofsd exports / (sudo $0)" >&2
    exit 1
  fi
  say "Checking the guest's packages (tests/vm/install-deps.sh)"
  "$here/install-deps.sh" || exit 1
  if [ -z "${LDIRECTORD:-}" ]; then
    command -v cargo >/dev/null || {
      echo "demo-director.sh: cargo not found: install Rust (rustup.rs; $(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$root/Cargo.toml") or newer)" >&2
      exit 1
    }
    if [ -x "$root/target/debug/ldirectord" ]; then
      say "Bringing target/debug/ldirectord up to date (cargo build: seconds when nothing changed)"
    else
      say "Building ldirectord (cargo build, the first time: about 5 minutes on 2 cores; cargo shows its progress)"
    fi
    (cd "$root" && cargo build --bin ldirectord) || exit 1
  fi
  say "Booting a qemu guest with a real IPVS (5-15 s), then the demo (about 1 minute)"
  exec "$here/run.sh" -t "${LDRS_VM_TIMEOUT:-600}" "$here/demo-director.sh" --here
fi
LD=${LDIRECTORD:-$root/target/debug/ldirectord}
[ -x "$LD" ] || { echo "demo-director.sh: $LD not built (cargo build first)" >&2; exit 1; }
for tool in ipvsadm curl busybox; do
  command -v "$tool" >/dev/null || { echo "demo-director.sh: $tool not found (tests/vm/install-deps.sh installs it)" >&2; exit 1; }
done

# shellcheck source=tests/vm/lib/netns.sh
. "$here/lib/netns.sh"
work=$(mktemp -d /tmp/demo-director.XXXXXX)
daemon=
# Wait for the daemon only: a bare `wait` would also wait for the web
# servers, which ns_teardown stops.
trap '[ -z "$daemon" ] || { kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; }; ns_teardown; rm -rf "$work"' EXIT

VIP=198.51.100.100 WEB1=192.0.2.11:80 WEB2=192.0.2.12:80 SORRY=192.0.2.99:80
show() { ipvsadm -Ln | sed 's/^/    /'; }
# table_is REAL... - the virtual service lists exactly these reals.
table_is() {
  local got
  got=$(ipvsadm -Ln -t "$VIP:80" 2>/dev/null | awk '$1 == "->" && $2 != "RemoteAddress:Port" { print $2 }' | sort | xargs)
  [ "$got" = "$(printf '%s\n' "$@" | sort | xargs)" ]
}
# wait_for SECONDS WHAT CMD... - poll CMD every 0.1 s until it succeeds;
# sets $waited: seconds (one decimal) from $since (or from the call, when
# $since is empty) to the end of the poll that succeeded, so the state was
# reached within $waited s. Says so when the time runs out.
waited='' since=''
wait_for() {
  local limit=$1 what=$2 start=${since:-$EPOCHREALTIME} ok
  shift 2
  while :; do
    ok=0
    "$@" && ok=1
    waited=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    [ "$ok" = 0 ] || return 0
    if awk -v w="$waited" -v l="$limit" 'BEGIN { exit !(w >= l) }'; then
      say "Still waiting for $what after $limit s; the table as it is:"
      return 1
    fi
    sleep 0.1
  done
}
# Kill every process of a namespace (its web server) and reap it here, so
# that bash prints no "Terminated" line for it later; $killed_at is when.
killed_at=
kill_real() {
  local p pids
  pids=$(ip netns pids "$1")
  killed_at=$EPOCHREALTIME
  for p in $pids; do kill "$p"; done
  for p in $pids; do wait "$p" 2>/dev/null; done
  return 0
}

modprobe -a ip_vs ip_vs_rr veth bridge
sysctl -qw net.ipv4.ip_forward=1
say "Building the network: client -> director (VIP $VIP) -> web1, web2, sorry"
ns_create client
ns_veth client vcli 198.51.100.10/24 198.51.100.1/24
ns_exec client ip route add default via 198.51.100.1
ns_addr "" vcli "$VIP/32"
ns_bridge br-web 192.0.2.1/24
for spec in "web1 192.0.2.11" "web2 192.0.2.12" "sorry 192.0.2.99"; do
  read -r name addr <<<"$spec"
  ns_create "$name"
  ns_bridge_port br-web "$name" "v$name" "$addr/24"
  ns_exec "$name" ip route add default via 192.0.2.1
  ns_httpd "$name" "$addr" 80 "hello from $name"
  ns_wait_http "" "http://$addr/" >/dev/null
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
if wait_for 60 "web1 and web2 in the table, not the sorry server" \
    table_is "$WEB1" "$WEB2"; then
  say "The IPVS table the director built (within $waited s of the start):"
fi
show
say "Six requests from the client to http://$VIP/ - the two web servers take turns:"
requests 6

say "web1 fails (its web server is killed)..."
kill_real web1
if since=$killed_at wait_for 30 "web1 to leave the table" table_is "$WEB2"; then
  say "The director took web1 out within $waited s of the kill (it checks each real every second: checkinterval=1):"
fi
show
say "Requests now all go to web2:"
requests 4

say "web2 fails too: the fallback (sorry) server takes over"
kill_real web2
if since=$killed_at wait_for 30 "web2 to leave and the sorry server to come in" table_is "$SORRY"; then
  say "The sorry server took over within $waited s of the kill:"
fi
show
requests 2

say "Both come back"
ns_httpd web1 192.0.2.11 80 "hello from web1"
ns_httpd web2 192.0.2.12 80 "hello from web2"
if wait_for 30 "web1 and web2 back, the sorry server gone" table_is "$WEB1" "$WEB2"; then
  say "Both are back in the table within $waited s of coming up:"
fi
show
requests 4

say "Stopping the director (cleanstop=yes by default: it removes its service)"
kill "$daemon"; wait "$daemon" 2>/dev/null; daemon=
show
say "Done."
