#!/bin/bash
# tests/tree-state.sh snapshot FILE | compare FILE
#
# CI's check that a run leaves the tracked files as it found them: a build
# or test step that rewrites a tracked file (a stale fuzz/Cargo.lock, a
# formatter, a generated file) fails the run instead of turning up later as
# an unexplained change. tests/run-all.sh takes a snapshot first and
# compares at its end.
#
#   snapshot FILE  writes to FILE every tracked file that differs from HEAD,
#                  with a hash of its content (a fresh clone: nothing);
#   compare FILE   exits 1 when a tracked file changed since the snapshot
#                  (changed, deleted, or changed further), naming each one
#                  with `git diff --stat`; 0 when none did.
#
# It looks at the git work tree of the current directory. Untracked files
# (build outputs, fuzz corpora) are not looked at. Outside a git work tree
# both say so and exit 0.
set -euo pipefail

usage() { echo "usage: tree-state.sh snapshot|compare FILE" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1 file=$2
export LC_ALL=C   # one order for sort and comm

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "tree-state.sh: not a git work tree; not checking for changed files"
  exit 0
fi

# "PATH<TAB>HASH" for each tracked file that differs from HEAD (staged or not).
state() {
  local path
  git diff --no-renames --name-only -z HEAD | while IFS= read -r -d '' path; do
    if [ -e "$path" ]; then
      printf '%s\t%s\n' "$path" "$(git hash-object -- "$path")"
    else
      printf '%s\t%s\n' "$path" deleted
    fi
  done | sort
}

case $cmd in
  snapshot)
    state >"$file"
    ;;
  compare)
    [ -r "$file" ] || { echo "tree-state.sh: no snapshot $file" >&2; exit 2; }
    # Paths whose line is in one list and not the other, each once.
    mapfile -t changed < <(state | comm -3 "$file" - | sed 's/^\t//' | cut -f1 | sort -u)
    if [ "${#changed[@]}" -eq 0 ]; then
      echo "tree-state.sh: the run left every tracked file as it found it"
      exit 0
    fi
    echo "tree-state.sh: FAILED: the run changed ${#changed[@]} tracked file(s):" >&2
    git diff --no-renames --stat HEAD -- "${changed[@]}" >&2
    echo "tree-state.sh: a build or test step rewrote them; commit the new content if it is" \
      "right (e.g. a lock file cargo brought up to date), or fix the step" >&2
    exit 1
    ;;
  *) usage ;;
esac
