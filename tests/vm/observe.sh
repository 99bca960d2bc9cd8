#!/bin/bash
# tests/vm/observe.sh - the status HTTP server (statusaddress=) of a running
# daemon on a real IPVS, in ONE throw-away qemu guest: /metrics passes
# `promtool check metrics` and carries the kernel's counters of real
# traffic; /status.json and `status --json` validate against
# man/status.schema.json (python3-jsonschema); a real headless browser
# (Debian's chromium) loads the page and its DOM shows every real with its
# state (up, down, quiescent, fallback); a screenshot of it is kept.
#
# On the host it re-runs itself in a guest (tests/vm/run.sh, 2 GiB for the
# browser). It uses the binary $LDIRECTORD (default target/debug/ldirectord,
# built on the host) and writes what it keeps (metrics.txt, status.json,
# dom.html, status-page.png) to $OBSERVE_OUT (default target/observe).
#
# Topology (test-net addresses only; the status server on 127.0.0.1):
#
#   client ns 198.51.100.10 --- vcli 198.51.100.1, VIP 198.51.100.100   br-rs 192.0.2.1/24
#                                                                       rs1 .11  rs2 .12  rs3 .13
#                                                                       sorry .99 (fallback)
#   VIP:80 rs1 + rs2 (rs2 killed: down)   VIP:81 rs1 + rs3, quiescent (rs3 killed: quiescent)
#   VIP:82 192.0.2.14 (no server: down) -> the fallback serves
#
# Each step prints "ok - NAME" or "not ok - NAME"; the last line is
# "N passed, M failed". Exit 0 only when nothing failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
OUT=${OBSERVE_OUT:-$root/target/observe}
if [ "${LDRS_VM:-}" != 1 ]; then
  mkdir -p "$OUT"
  export OBSERVE_OUT=$OUT LDRS_VM_ENV="${LDRS_VM_ENV:-} OBSERVE_OUT LDIRECTORD"
  exec "$here/run.sh" -m 2048 -t "${LDRS_VM_TIMEOUT:-900}" -w "$OUT" "$here/observe.sh" "$@"
fi

LD=${LDIRECTORD:-$root/target/debug/ldirectord}
[ -x "$LD" ] || { echo "observe.sh: $LD not built (cargo build first)" >&2; exit 2; }
SCHEMA=$root/man/status.schema.json

# shellcheck source=tests/vm/lib/netns.sh
. "$here/lib/netns.sh"
work=$(mktemp -d /tmp/observe.XXXXXX)
CF=$work/observe.cf
LOG=$work/ldirectord.log
cleanup() {
  "$LD" "$CF" stop >/dev/null 2>&1 || true
  ns_teardown
}
trap cleanup EXIT

TAP_POLL=0.3
# shellcheck source=tests/vm/lib/tap.sh
. "$here/lib/tap.sh"
STATUS=127.0.0.1:9100
fetch() { curl -sS --fail --max-time 10 --noproxy '*' "http://$STATUS$1"; }
# states: "VIRTUAL-ID REAL STATE" per real, from `status` (the status file;
# our binary and awk: a python per poll is seconds under emulation).
states() {
  "$LD" "$CF" status 2>/dev/null | awk -F'\t' '/^[^ ]/ { v = $1 } /^  / { sub(/^  /, "", $1); print v, $1, $2 }'
}
# has_states "VID REAL STATE"...: every one of them holds now.
has_states() {
  local now want
  now=$(states)
  for want in "$@"; do grep -qxF "$want" <<<"$now" || return 1; done
}
VIP=198.51.100.100
V80=tcp:$VIP:80 V81=tcp:$VIP:81 V82=tcp:$VIP:82

log "kernel $(uname -r)"
modprobe -a ip_vs ip_vs_rr ip_vs_wrr veth bridge
sysctl -qw net.ipv4.ip_forward=1
ns_create client
ns_veth client vcli 198.51.100.10/24 198.51.100.1/24
ns_exec client ip route add default via 198.51.100.1
ns_addr "" vcli "$VIP/32"
ns_bridge br-rs 192.0.2.1/24
for spec in "rs1 192.0.2.11" "rs2 192.0.2.12" "rs3 192.0.2.13" "sorry 192.0.2.99"; do
  set -- $spec
  ns_create "$1"
  ns_bridge_port br-rs "$1" "v$1" "$2/24"
  ns_exec "$1" ip route add default via 192.0.2.1
  ns_httpd "$1" "$2" 80 "hello from $1"
done
for a in 11 12 13 99; do ns_wait_http "" "http://192.0.2.$a/" >/dev/null; done
log "topology up"

cat > "$CF" <<EOF
checktimeout=2
negotiatetimeout=2
checkinterval=1
failurecount=1
logfile="$LOG"
statusaddress=$STATUS
virtual=$VIP:80
	real=192.0.2.11:80 masq 3
	real=192.0.2.12:80 masq 2
	service=http
	request="health.html"
	receive="OK"
	scheduler=wrr
virtual=$VIP:81
	real=192.0.2.11:80 masq
	real=192.0.2.13:80 masq
	service=http
	request="health.html"
	receive="OK"
	quiescent=yes
virtual=$VIP:82
	real=192.0.2.14:80 masq
	checktype=connect
	fallback=192.0.2.99:80 masq
EOF

check "start exits 0 (daemon)" "$LD" "$CF" start
t=$(wait_for 30 eval 'fetch /status.json >/dev/null 2>&1') \
  && ok "the status server answers (${t}s)" || notok "the status server answers"
check "the log says where the status is served" grep -q "Serving the status on http://$STATUS/" "$LOG"
t=$(wait_for 60 has_states "$V80 192.0.2.11:80 up" "$V80 192.0.2.12:80 up" \
      "$V81 192.0.2.13:80 up" "$V82 192.0.2.99:80 fallback") \
  && ok "reals up, the fallback serving VIP:82 (${t}s)" || notok "reals up, fallback serving"
for i in 1 2 3 4 5 6; do ns_get client "http://$VIP/" >/dev/null || true; done
log "6 requests through VIP:80; stopping rs2 and rs3"
for n in rs2 rs3; do for p in $(ip netns pids "$n"); do kill "$p" 2>/dev/null; done; done
t=$(wait_for 60 has_states "$V80 192.0.2.12:80 down" "$V81 192.0.2.13:80 quiescent") \
  && ok "rs2 down, rs3 quiescent (${t}s)" || notok "rs2 down, rs3 quiescent"

# --- /metrics ------------------------------------------------------------------
# The kernel's counters come with the next full read of the table (once per
# check interval): wait for rs1's connections to show.
conns_rs1() {
  fetch /metrics | awk -v l="ldirectord_ipvs_real_connections_total{virtual=\"$V80\",real=\"192.0.2.11:80\"}" \
    '$1 == l && $2 > 0 { found = 1 } END { exit !found }'
}
t=$(wait_for 20 conns_rs1) && ok "/metrics has rs1's IPVS connections from real traffic (${t}s)" \
  || notok "/metrics has rs1's IPVS connections"
fetch /metrics > "$OUT/metrics.txt"
check "promtool check metrics passes on a live scrape" eval 'promtool check metrics < "$OUT/metrics.txt"'
metric() { awk -v l="$1" '$1 == l { print $2 }' "$OUT/metrics.txt"; }
check "real_up: rs1 1, rs2 0" eval \
  '[ "$(metric "ldirectord_real_up{virtual=\"$V80\",real=\"192.0.2.11:80\"}")" = 1 ] &&
   [ "$(metric "ldirectord_real_up{virtual=\"$V80\",real=\"192.0.2.12:80\"}")" = 0 ]'
check "real_weight is the kernel's: rs1 3, rs3 0 (quiescent)" eval \
  '[ "$(metric "ldirectord_real_weight{virtual=\"$V80\",real=\"192.0.2.11:80\"}")" = 3 ] &&
   [ "$(metric "ldirectord_real_weight{virtual=\"$V81\",real=\"192.0.2.13:80\"}")" = 0 ]'
check "fallback active on VIP:82 only" eval \
  '[ "$(metric "ldirectord_virtual_fallback_active{virtual=\"$V82\"}")" = 1 ] &&
   [ "$(metric "ldirectord_virtual_fallback_active{virtual=\"$V80\"}")" = 0 ]'
check "the kernel's weights match ipvsadm" eval \
  'ipvsadm -Ln | grep -Eq -- "-> 192.0.2.11:80 +Masq +3 "'
check "no netlink errors" eval '[ "$(metric ldirectord_netlink_errors_total)" = 0 ]'

# --- /status.json and status --json ---------------------------------------------
fetch /status.json > "$OUT/status.json"
"$LD" "$CF" status --json > "$work/status-cli.json" 2>/dev/null
# One python (seconds to start under emulation): validate both documents
# against the schema (Debian's python3-jsonschema) and list their reals as
# "VIRTUAL-ID REAL STATE" lines.
/usr/bin/python3 - "$SCHEMA" "$OUT/status.json" "$work/status-cli.json" > "$work/schema.txt" 2>&1 <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
for name, path in (("http", sys.argv[2]), ("cli", sys.argv[3])):
    doc = json.load(open(path))
    try:
        jsonschema.validate(doc, schema)
        print("valid", name)
    except jsonschema.ValidationError as e:
        print("invalid", name, e.message)
    with open(path + ".reals", "w") as out:
        for v in doc["virtuals"]:
            for r in v["reals"]:
                print(v["id"], r["real"], r["state"], file=out)
PY
check "/status.json validates against man/status.schema.json" grep -qx "valid http" "$work/schema.txt"
check "status --json validates against the schema" grep -qx "valid cli" "$work/schema.txt"
check "status --json and /status.json show the same reals and states" \
  diff "$OUT/status.json.reals" "$work/status-cli.json.reals"
check "status (text) lists rs3 quiescent with kernel weight 0" eval \
  '"$LD" "$CF" status 2>/dev/null | grep -P "^  192\.0\.2\.13:80\tquiescent\tweight 1\teffective out \(down\)\tkernel 0\t" >/dev/null'
check "POST is refused (405)" eval \
  '[ "$(curl -s -o /dev/null -w "%{http_code}" -X POST --noproxy "*" "http://$STATUS/metrics")" = 405 ]'

# --- the page in a real browser -------------------------------------------------
profile=$(mktemp -d /tmp/chromium.XXXXXX)
browser() {
  # One process (no zygote, no renderer processes): each process chromium
  # starts costs a minute of emulated CPU here.
  timeout 420 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --single-process --no-zygote --disable-extensions \
    --user-data-dir="$profile" "$@" 2>>"$work/chromium.log"
}
log "chromium: loading the page, its DOM and a screenshot (minutes under emulation)"
rm -f "$OUT/status-page.png"
(cd "$work" && browser --hide-scrollbars --window-size=1100,900 --dump-dom \
  --screenshot="$OUT/status-page.png" "http://$STATUS/" > "$OUT/dom.html")
log "chromium: done"
check "chromium loaded the page" grep -q "Last state changes" "$OUT/dom.html" \
  || tail -n 20 "$work/chromium.log"
check "a screenshot of the page was taken" test -s "$OUT/status-page.png"
# Each virtual's section of the DOM, then its rows (data-real, data-state).
grep -oE 'data-virtual="[^"]+"|data-real="[^"]+" data-state="[^"]+"' "$OUT/dom.html" |
  awk -F'"' '/^data-virtual/ { v = $2; next } { print v, $2, $4 }' > "$work/dom-rows.txt"
for row in "$V80 192.0.2.11:80 up" "$V80 192.0.2.12:80 down" "$V81 192.0.2.11:80 up" \
           "$V81 192.0.2.13:80 quiescent" "$V82 192.0.2.14:80 down" "$V82 192.0.2.99:80 fallback"; do
  check "the DOM shows: $row" grep -qxF "$row" "$work/dom-rows.txt"
done
sort "$work/status-cli.json.reals" > "$work/a.txt"; sort "$work/dom-rows.txt" > "$work/b.txt"
check "the DOM has every real of status --json, in the same state" diff "$work/a.txt" "$work/b.txt"
check "the page lists the last state changes (rs2 down)" eval \
  'grep -q "192.0.2.12:80</td><td><span class=\"st down\">down" "$OUT/dom.html"'

# --- stop ------------------------------------------------------------------------
check "stop exits 0" "$LD" "$CF" stop
check "the status server is gone" eval '! fetch / >/dev/null 2>&1'
check "the status file is removed" eval '[ ! -e "${LDIRECTORD_RUN_DIR:-/var/run}/ldirectord.observe.cf.status" ]'
[ "$failed" = 0 ] || { echo "# log:"; tail -n 30 "$LOG"; echo "# chromium:"; tail -n 20 "$work/chromium.log"; }
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
