#!/bin/bash
# benches/director/run.sh [RESULTS_DIR] - side-by-side benchmarks of
# ldirectord-rs, Debian's ldirectord (Perl) and keepalived --check on a real
# IPVS, all in ONE throw-away qemu guest (tests/vm/run.sh).
#
# On the host: installs the peers (tests/vm/install-deps.sh --peers), builds
# target/release/ldirectord, generates equivalent ldirectord.cf and
# keepalived.conf files (gen.py), runs guest.sh in the guest, and prints the
# summary table (summarize.py). Results: RESULTS_DIR (default
# target/bench-director/DATE) holds results.tsv, table.md, guest.log, logs/
# (with the throughput profiles: perf-*.txt, strace-*.txt, idle-*.threads).
#
# Sizes and caps come from BENCH_* variables (see guest.sh), e.g.
#   BENCH_SIZES="10 100" BENCH_RUNS=3 benches/director/run.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
cd "$root"
res=${1:-$root/target/bench-director/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$res"
res=$(cd "$res" && pwd -P)

bash tests/vm/install-deps.sh --peers
cargo build --release --bin ldirectord --example check_floor
python3 "$here/gen.py" "$res/gen"
# pass the BENCH_* settings on to the guest
env | grep '^BENCH_' | sed "s/=\(.*\)/='\1'/" > "$res/params.sh" || true
{ echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "ldirectord: $(dpkg-query -W -f='${Version}' ldirectord), keepalived: $(dpkg-query -W -f='${Version}' keepalived)"
  echo "ldirectord-rs: $(git rev-parse --short HEAD)"; cat "$res/params.sh"; } > "$res/meta.txt"
status=0
tests/vm/run.sh -t "${BENCH_VM_TIMEOUT:-5400}" -m "${BENCH_VM_MEM:-1536}" -w "$res" -- \
  bash "$here/guest.sh" "$res" || status=$?
echo "guest exit status: $status" | tee -a "$res/meta.txt"
python3 "$here/summarize.py" "$res" | tee "$res/table.md"
exit "$status"
