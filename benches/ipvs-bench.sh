#!/bin/sh
# ipvs-bench.sh - compare ways of installing the same IPVS table.
#
# Runs INSIDE a throw-away guest with IPVS (it flushes the guest's table):
#
#   cargo build --release --example ipvs_bench
#   tests/vm/run.sh -t 1200 'sh benches/ipvs-bench.sh'
#
# Methods, all for SERVICES x DESTS (default 1000 x 10) unless noted:
#   netlink batched    examples/ipvs_bench.rs, 256 requests per datagram
#   netlink unbatched  the same, one request per round trip
#   ipvsadm -R         one ipvsadm process reading the whole table
#   ipvsadm per dest   one `ipvsadm -a` process per destination; this is
#                      slow under emulation, so it runs PROC_DESTS dests
#                      (default 500) and the total is extrapolated linearly.
set -eu

SERVICES=${SERVICES:-1000}
DESTS=${DESTS:-10}
PROC_DESTS=${PROC_DESTS:-500}
BENCH=${BENCH:-target/release/examples/ipvs_bench}
IPVSADM=${IPVSADM:-/usr/sbin/ipvsadm}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
elapsed() { calc "$2 - $1"; }

modprobe ip_vs 2>/dev/null || true
modprobe ip_vs_wlc 2>/dev/null || true
ip link set lo up

# 1. netlink, in its own netns (the example unshares)
"$BENCH" "$SERVICES" "$DESTS" > "$tmp/nl.txt"
cat "$tmp/nl.txt" >&2
val() { sed -n "s/^$1=//p" "$tmp/nl.txt"; }

# 2. ipvsadm -R of the same table
i=0
while [ "$i" -lt "$SERVICES" ]; do
    port=$((10000 + i))
    echo "-A -t 192.0.2.10:$port -s wlc"
    d=1
    while [ "$d" -le "$DESTS" ]; do
        echo "-a -t 192.0.2.10:$port -r 198.51.100.$d:80 -m -w 1"
        d=$((d + 1))
    done
    i=$((i + 1))
done > "$tmp/rules"
"$IPVSADM" -C
t0=$(now)
"$IPVSADM" -R < "$tmp/rules"
t1=$(now)
n=$("$IPVSADM" -Ln | grep -c '^  -> [0-9]' || true)
[ "$n" -eq $((SERVICES * DESTS)) ] || { echo "ipvsadm -R installed $n dests" >&2; exit 1; }
t2=$(now)
"$IPVSADM" -C
t3=$(now)
restore=$(elapsed "$t0" "$t1")
clear=$(elapsed "$t2" "$t3")

# 3. one ipvsadm process per destination (PROC_DESTS of them)
per_svc=$DESTS
nsvc=$(( (PROC_DESTS + per_svc - 1) / per_svc ))
i=0
while [ "$i" -lt "$nsvc" ]; do
    "$IPVSADM" -A -t "192.0.2.10:$((10000 + i))" -s wlc
    i=$((i + 1))
done
t0=$(now)
i=0; done_n=0
while [ "$i" -lt "$nsvc" ]; do
    d=1
    while [ "$d" -le "$per_svc" ] && [ "$done_n" -lt "$PROC_DESTS" ]; do
        "$IPVSADM" -a -t "192.0.2.10:$((10000 + i))" -r "198.51.100.$d:80" -m -w 1
        d=$((d + 1)); done_n=$((done_n + 1))
    done
    i=$((i + 1))
done
t1=$(now)
"$IPVSADM" -C
proc=$(elapsed "$t0" "$t1")
per_change=$(calc "$proc / $PROC_DESTS")
total_dests=$((SERVICES * DESTS))
proc_total=$(calc "$per_change * $total_dests")

nl_inst=$(val netlink_batched_install)
nl_del=$(val netlink_batched_delete)
un_inst=$(val netlink_unbatched_install)
un_del=$(val netlink_unbatched_delete)
dump=$(val netlink_dump)
ops=$((SERVICES + SERVICES * DESTS))

printf '\nIPVS install of %s services x %s dests (%s ops), guest kernel %s\n' \
    "$SERVICES" "$DESTS" "$ops" "$(uname -r)"
printf '%-34s %12s %14s\n' method seconds "us per change"
row() { printf '%-34s %12.3f %14.1f\n' "$1" "$2" "$(calc "$2 * 1000000 / $3")"; }
row "netlink batched install" "$nl_inst" "$ops"
row "netlink unbatched install" "$un_inst" "$ops"
row "ipvsadm -R install" "$restore" "$ops"
row "ipvsadm per dest (extrapolated)" "$proc_total" "$total_dests"
row "netlink batched delete (svcs)" "$nl_del" "$SERVICES"
row "netlink unbatched delete (svcs)" "$un_del" "$SERVICES"
row "ipvsadm -C" "$clear" 1
row "netlink dump (whole table)" "$dump" 1
printf '\nnetlink batched vs ipvsadm -R:        %.2fx the time\n' \
    "$(calc "$nl_inst / $restore")"
printf 'process-per-dest vs netlink batched:   %.0fx slower (measured on %s dests)\n' \
    "$(calc "$proc_total / $nl_inst")" "$PROC_DESTS"
