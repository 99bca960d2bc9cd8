# tests/vm/lib/tap.sh - what every guest test script says and counts
# (sourced, like netns.sh): "ok - NAME" / "not ok - NAME" lines, "# [T] ..."
# log lines with the guest's uptime, and a bounded wait.
#
#   TAP_STAMP=1  (set before sourcing) ok/not ok lines end in " [UPTIME]"
#   TAP_POLL=S   wait_for's poll interval (default 0.2 s)
#
# The script prints "$passed passed, $failed failed" last and exits 0 only
# when nothing failed.
# shellcheck shell=bash

passed=0 failed=0
up() { cut -d' ' -f1 /proc/uptime; }
# since T [NOW]: seconds from uptime T to NOW (default: now), one decimal.
since() { awk -v a="$1" -v b="${2:-$(up)}" 'BEGIN { printf "%.1f", b - a }'; }
log() { echo "# [$(up)] $*"; }
ok() { echo "ok - $1${TAP_STAMP:+ [$(up)]}"; passed=$((passed + 1)); }
notok() { echo "not ok - $1${TAP_STAMP:+ [$(up)]}"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }
# wait_for SECONDS CMD...: run CMD every TAP_POLL seconds until it succeeds
# (prints the seconds it took, returns 0) or SECONDS have passed (returns 1).
wait_for() {
  local limit=$1 start; shift
  start=$(up)
  while :; do
    if "$@"; then since "$start"; return 0; fi
    awk -v a="$start" -v b="$(up)" -v l="$limit" 'BEGIN { exit !(b - a > l) }' && return 1
    sleep "${TAP_POLL:-0.2}"
  done
}
