#!/usr/bin/env bash
# Every test of ldirectord-rs, as CI runs them (.ci/run calls this).
#
#   1. installs what the tests need from Debian packages (as root):
#      the qemu guest for real-kernel IPVS tests, and the real servers
#      (nginx, dnsmasq, vsftpd, exim4, dovecot, slapd, mariadb, postgresql,
#      freeradius, kamailio, sn) the health-check tests start on loopback;
#      what the machine has is kept (tests/apt-install.sh says before
#      anything changes if apt would remove or downgrade a package);
#   2. cargo fmt --check, clippy with warnings as errors;
#   3. cargo test: unit, CLI, compat corpus, server fixtures;
#   4. builds the fuzz targets, then runs the parser's on a fixed number of
#      inputs (FUZZ_RUNS), and the lvs.cf converter's (FUZZ_LVS_RUNS);
#   5. the kernel tests (tests/kernel_*.rs) inside a qemu guest;
#   6. the daemon end to end in a qemu guest (tests/vm/e2e-director.sh), and
#      a converted Piranha lvs.cf (tests/vm/e2e-piranha.sh);
#   7. load-driven weights and slow start in a qemu guest
#      (tests/vm/e2e-loadweights.sh);
#   8. `ldirectord doctor` / `doctor --real` in a qemu guest (tests/vm/doctor.sh);
#   9. upgrade from Debian's Perl ldirectord, Pacemaker's OCF agent and
#      ocf-tester, and -d, in a qemu guest (tests/vm/upgrade-ocf.sh);
#  10. the status server of a running daemon in a qemu guest
#      (tests/vm/observe.sh: promtool, JSON schema, chromium's DOM);
#  11. two directors with live connections in a qemu guest: keepalived's
#      VRRP with the sync daemon, then ECMP with mh
#      (tests/vm/multi-director.sh);
#  12. operating a running daemon in a qemu guest: drain, disable, enable,
#      weight over the control socket, a restart keeping them, plan
#      (tests/vm/opcontrol.sh);
#  13. the Debian package: `cargo deb` (a release build; cargo-deb is
#      installed first if missing), lintian, and dpkg installing it over
#      Debian's ldirectord, running, upgrading and purging it in a qemu
#      guest (tests/vm/deb-install.sh);
#  14. fails if the run changed a tracked file (tests/tree-state.sh).
#
# Each step prints what it does and how long it took. The durations in the
# headers were measured from fresh clones on the 2-core development machine,
# idle (the lower figure) and while other builds kept it busy (load 6-13;
# README, "The two commands").
# Needs root for 1 and 5. Safe to re-run; installs are skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."

# "1 min 05 s" / "42 s".
dur() { if [ "$1" -ge 60 ]; then printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); else printf '%d s' "$1"; fi; }
step_name='' step_start=0
done_step() {
  [ -z "$step_name" ] || printf -- '---- %s: %s (%s since the start)\n' \
    "$step_name" "$(dur $((SECONDS - step_start)))" "$(dur "$SECONDS")"
}
# step NAME [WHAT TO EXPECT]
step() {
  done_step
  step_name=$1 step_start=$SECONDS
  printf '\n==== %s%s\n' "$1" "${2:+ ($2)}"
}

tree_before=$(mktemp)
trap 'rm -f "$tree_before"' EXIT
tests/tree-state.sh snapshot "$tree_before"

if [ "$(id -u)" -eq 0 ]; then
    step "installing test dependencies (Debian packages)" "when some are missing: apt's download and install, a minute or two; then a second"
    # --peers: keepalived, for keepalived -t of convert --ha keepalived and
    # the VRRP of tests/vm/multi-director.sh
    # --deb: dpkg-dev (Depends from dpkg-shlibdeps), binutils and lintian
    # for `cargo deb` and its check
    tests/vm/install-deps.sh --ocf --peers --deb
    tests/servers/install.sh
else
    echo "not root: skipping package installs; kernel and server tests need root" >&2
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy" "the first run checks every dependency: 1-4 min, 10 on a very busy host; then seconds"
cargo clippy --all-targets -- -D warnings

step "cargo test" "the first run builds the tests: 3-7 min, up to 16 on a very busy host; running them 1-2 min"
cargo test --all-targets
# The corpus summary line ("N/N agree, M documented divergences").
cargo test -q --test compat_corpus compat_corpus -- --nocapture 2>&1 | grep 'compat corpus:'

step "building the fuzz targets (cargo fuzz build)" \
    "the first run builds every dependency again, optimized and instrumented: 4-12 min, up to 23 on a very busy host, and cargo-fuzz first if it is missing; then seconds"
if ! command -v cargo-fuzz >/dev/null; then
    echo "installing cargo-fuzz (cargo install --locked cargo-fuzz)"
    cargo install cargo-fuzz --locked
fi
(cd fuzz && cargo fuzz build -s none)

fuzz_runs=${FUZZ_RUNS:-300000}
step "fuzzing the config parser" "$fuzz_runs inputs, at most 300 s"
# A fixed seed, a fresh corpus and a fixed number of inputs: the run is the
# same on every machine (new inputs go to a temporary directory; fuzz/seeds
# holds the starting corpus and every input that once found a bug).
fuzz_corpus=$(mktemp -d)
(cd fuzz && cargo fuzz run parse_config -s none "$fuzz_corpus" seeds -- \
    -seed=20261122 -runs="$fuzz_runs" -max_total_time=300 -rss_limit_mb=2048 \
    >"$fuzz_corpus.log" 2>&1) || { tail -n 60 "$fuzz_corpus.log"; exit 1; }
grep -E '^Done [0-9]+ runs' "$fuzz_corpus.log"
rm -rf "$fuzz_corpus" "$fuzz_corpus.log"

fuzz_lvs_runs=${FUZZ_LVS_RUNS:-50000}
step "fuzzing the lvs.cf converter" "$fuzz_lvs_runs inputs, at most 120 s"
# As above: fixed seed and inputs; fuzz/seeds-lvs holds the starting corpus.
fuzz_corpus=$(mktemp -d)
(cd fuzz && cargo fuzz run convert_lvs -s none "$fuzz_corpus" seeds-lvs -- \
    -seed=20261122 -runs="$fuzz_lvs_runs" -max_total_time=120 -rss_limit_mb=2048 \
    >"$fuzz_corpus.log" 2>&1) || { tail -n 60 "$fuzz_corpus.log"; exit 1; }
grep -E '^Done [0-9]+ runs' "$fuzz_corpus.log"
rm -rf "$fuzz_corpus" "$fuzz_corpus.log"

step "kernel tests in a qemu guest" "builds them, then one guest: under a minute"
# One at a time: see tests/vm/kernel-tests.sh (a kernel-side wait when
# sync daemons stop while other namespaces are busy).
tests/vm/kernel-tests.sh -- --test-threads 1

step "the director end to end in a qemu guest (real IPVS, namespaces, HTTP)" "2-6 min; the first run builds the binary first"
cargo build --bin ldirectord
tests/vm/e2e-director.sh

step "a converted Piranha lvs.cf end to end in a qemu guest (the kernel table of lvsd's ipvsadm commands)" "under a minute"
tests/vm/e2e-piranha.sh

step "load-driven weights and slow start in a qemu guest (agents on two reals, real traffic)" "1-2 min"
tests/vm/e2e-loadweights.sh

step "doctor on a director and a real in a qemu guest" "under a minute"
tests/vm/doctor.sh

step "beside the Perl ldirectord and the OCF agent in a qemu guest (upgrade, ocf-tester, a typo while running, -d)" "0.5-2 min"
tests/vm/upgrade-ocf.sh

step "the status server in a qemu guest (promtool, JSON schema, headless chromium)" "1-2 min; chromium under TCG is the slow part"
tests/vm/observe.sh

step "two directors in a qemu guest: VRRP + sync daemon, then ECMP + mh (live connections through a failure)" "2 min idle, up to 10 on a busy host, mostly deliberate waiting"
tests/vm/multi-director.sh

step "operating a running daemon in a qemu guest (drain, disable, enable, weight, restart, plan, bad input)" "1-2 min"
tests/vm/opcontrol.sh

step "the Debian package: cargo deb (a release build), lintian" \
    "the first run builds every dependency again, optimized: 4-9 min (6.8 CPU min), and cargo-deb first if it is missing: about 4 min; then about 20 s, packing and lintian"
if ! command -v cargo-deb >/dev/null; then
    echo "installing cargo-deb (cargo install --locked cargo-deb)"
    cargo install cargo-deb --locked
fi
# cargo deb prints the package's path last.
deb=$(cargo deb | tail -n 1)
# No error and no warning; the info tags left are explained in the README
# (Install).
lintian --fail-on error,warning "$deb"

step "the Debian package over Debian's ldirectord in a qemu guest (dpkg -i, init script, upgrade, purge)" "1-3 min, mostly dpkg under TCG"
tests/vm/deb-install.sh "$deb"

step "the run left the tracked files as it found them"
tests/tree-state.sh compare "$tree_before"

done_step
printf '\n==== all tests passed (%s)\n' "$(dur "$SECONDS")"
