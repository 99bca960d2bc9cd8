#!/bin/bash
# tests/vm/kernel-tests.sh - build the crate's real-kernel integration tests
# (tests/kernel_*.rs, feature "kernel-tests") on the host and run them all as
# root in ONE qemu guest booted by tests/vm/run.sh.
#
# usage: tests/vm/kernel-tests.sh [CARGO-ARGS...] [-- TEST-ARGS...]
#
#   CARGO-ARGS  given to `cargo test --features kernel-tests --no-run`
#               (e.g. --release, -j 1, --test kernel_smoke)
#   TEST-ARGS   given to every test binary (libtest: a name filter,
#               --nocapture, --test-threads N, --exact, ...)
#
# Like `cargo test`, it prints each binary's libtest output (with its
# "test result: ok. N passed; ..." line) and exits non-zero if any binary
# failed: 1 for test failures, 124 if the guest timed out, 125 if the guest
# could not be run. With no tests/kernel_* targets it says so and exits 0.
#
# Environment: everything tests/vm/run.sh honours (LDRS_VM_TIMEOUT,
# LDRS_VM_ACCEL, ...). Every test isolates itself in its own network
# namespace, but the kernel is shared: with tests in parallel, stopping the
# backup sync daemon (sync_daemons_start_list_stop) sometimes waited past
# its 30 s netlink timeout (1 run in 3; 0 in 5 with --test-threads 1), so
# tests/run-all.sh runs them one at a time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
cd "$root"

cargo_args=()
test_args=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then
    shift
    test_args=("$@")
    break
  fi
  cargo_args+=("$1")
  shift
done

# Build. Human-readable diagnostics still reach stderr; stdout carries the
# JSON messages, one per line.
# Only the kernel_* targets: building every test again with the feature
# doubled target/debug (the feature rebuilds the library and each binary).
json=$(cargo test --features kernel-tests --test 'kernel_*' --no-run --message-format=json-render-diagnostics \
  "${cargo_args[@]}")

# Integration-test artifacts have "kind":["test"]; their executable is
# .../deps/<target name>-<hash>. Keep those whose target name starts with kernel_.
bins=()
while IFS= read -r exe; do
  [ -n "$exe" ] || continue
  name=$(basename "$exe")
  name=${name%-*}
  case $name in kernel_*) bins+=("$exe") ;; esac
done < <(printf '%s\n' "$json" |
  grep '"reason":"compiler-artifact"' |
  grep '"kind":\["test"\]' |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' |
  sort -u)

if [ "${#bins[@]}" -eq 0 ]; then
  echo "kernel-tests.sh: no kernel_* integration test targets (tests/kernel_*.rs); nothing to run"
  exit 0
fi

# The guest script: run each binary the way cargo test would, keep going after
# a failure, and exit 1 if any failed. Arguments are quoted for bash.
script="export CARGO_MANIFEST_DIR=$(printf '%q' "$root")
failed=0
"
for exe in "${bins[@]}"; do
  name=$(basename "$exe")
  rel=${exe#"$root"/}
  script+="echo; echo \"     Running tests/${name%-*}.rs ($rel)\"
$(printf '%q ' "$exe" "${test_args[@]}") || failed=1
"
done
script+="exit \$failed"

echo "kernel-tests.sh: running ${#bins[@]} test binar$([ "${#bins[@]}" = 1 ] && echo y || echo ies) in a qemu guest"
rc=0
"$here/run.sh" "$script" || rc=$?
case $rc in
  0) echo "kernel-tests.sh: all kernel test binaries passed" ;;
  124) echo "kernel-tests.sh: the guest timed out" >&2 ;;
  125) echo "kernel-tests.sh: the guest could not be run" >&2 ;;
  *) echo "kernel-tests.sh: some kernel tests FAILED" >&2 ;;
esac
exit "$rc"
