#!/usr/bin/env bash
# Every test of ldirectord-rs, as CI runs them (.ci/run calls this).
#
#   1. installs what the tests need from Debian packages (as root):
#      the qemu guest for real-kernel IPVS tests, and the real servers
#      (nginx, dnsmasq, vsftpd, exim4, dovecot, slapd, mariadb, postgresql,
#      freeradius, kamailio, sn) the health-check tests start on loopback;
#   2. cargo fmt --check, clippy with warnings as errors;
#   3. cargo test: unit, CLI, compat corpus, server fixtures;
#   4. the parser fuzz target on a fixed number of inputs (FUZZ_RUNS), and
#      the lvs.cf converter's (FUZZ_LVS_RUNS);
#   5. the kernel tests (tests/kernel_*.rs) inside a qemu guest;
#   6. the daemon end to end in a qemu guest (tests/vm/e2e-director.sh), and
#      a converted Piranha lvs.cf (tests/vm/e2e-piranha.sh);
#   7. `ldirectord doctor` / `doctor --real` in a qemu guest (tests/vm/doctor.sh);
#   8. upgrade from Debian's Perl ldirectord, Pacemaker's OCF agent and
#      ocf-tester, and -d, in a qemu guest (tests/vm/upgrade-ocf.sh);
#   9. the Debian package: `cargo deb` (a release build), lintian, and
#      dpkg installing it over Debian's ldirectord, upgrading and purging
#      it in a qemu guest (tests/vm/deb-install.sh).
#
# Needs root for 1 and 5. Safe to re-run; installs are skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==== %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then
    step "installing test dependencies (Debian packages)"
    # --peers: keepalived, for keepalived -t of convert --ha keepalived
    tests/vm/install-deps.sh --ocf --peers
    # --deb: dpkg-dev (Depends from dpkg-shlibdeps), binutils, lintian
    tests/vm/install-deps.sh --deb
    tests/servers/install.sh
else
    echo "not root: skipping package installs; kernel and server tests need root" >&2
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --all-targets -- -D warnings

step "cargo test"
cargo test --all-targets
# The corpus summary line ("N/N agree, M documented divergences").
cargo test -q --test compat_corpus compat_corpus -- --nocapture 2>&1 | grep 'compat corpus:'

step "fuzzing the config parser (${FUZZ_RUNS:-300000} inputs, at most 300 s)"
if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked -q
fi
# A fixed seed, a fresh corpus and a fixed number of inputs: the run is the
# same on every machine (new inputs go to a temporary directory; fuzz/seeds
# holds the starting corpus and every input that once found a bug).
fuzz_corpus=$(mktemp -d)
(cd fuzz && cargo fuzz run parse_config -s none "$fuzz_corpus" seeds -- \
    -seed=20261122 -runs="${FUZZ_RUNS:-300000}" -max_total_time=300 -rss_limit_mb=2048 \
    >"$fuzz_corpus.log" 2>&1) || { tail -n 60 "$fuzz_corpus.log"; exit 1; }
grep -E '^Done [0-9]+ runs' "$fuzz_corpus.log"
rm -rf "$fuzz_corpus" "$fuzz_corpus.log"

step "fuzzing the lvs.cf converter (${FUZZ_LVS_RUNS:-50000} inputs, at most 120 s)"
# As above: fixed seed and inputs; fuzz/seeds-lvs holds the starting corpus.
fuzz_corpus=$(mktemp -d)
(cd fuzz && cargo fuzz run convert_lvs -s none "$fuzz_corpus" seeds-lvs -- \
    -seed=20261122 -runs="${FUZZ_LVS_RUNS:-50000}" -max_total_time=120 -rss_limit_mb=2048 \
    >"$fuzz_corpus.log" 2>&1) || { tail -n 60 "$fuzz_corpus.log"; exit 1; }
grep -E '^Done [0-9]+ runs' "$fuzz_corpus.log"
rm -rf "$fuzz_corpus" "$fuzz_corpus.log"

step "kernel tests in a qemu guest"
# One at a time: see tests/vm/kernel-tests.sh (a kernel-side wait when
# sync daemons stop while other namespaces are busy).
tests/vm/kernel-tests.sh -- --test-threads 1

step "the director end to end in a qemu guest (real IPVS, namespaces, HTTP)"
cargo build -q
tests/vm/e2e-director.sh

step "a converted Piranha lvs.cf end to end in a qemu guest (the kernel table of lvsd's ipvsadm commands)"
tests/vm/e2e-piranha.sh

step "doctor on a director and a real in a qemu guest"
tests/vm/doctor.sh

step "beside the Perl ldirectord and the OCF agent in a qemu guest (upgrade, ocf-tester, a typo while running, -d)"
tests/vm/upgrade-ocf.sh

step "the Debian package: cargo deb (the release build is the long part), lintian"
if ! command -v cargo-deb >/dev/null; then
    cargo install cargo-deb --locked -q
fi
# cargo deb prints the package's path last.
deb=$(cargo deb | tail -n 1)
lintian --fail-on error,warning "$deb"

step "the Debian package over Debian's ldirectord in a qemu guest (dpkg -i, init script, upgrade, purge)"
tests/vm/deb-install.sh "$deb"

step "all tests passed"
