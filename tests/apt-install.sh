#!/bin/sh
# tests/apt-install.sh PACKAGE... - install Debian packages for the tests
# without surprises (used by tests/vm/install-deps.sh and
# tests/servers/install.sh; run as root).
#
#   1. apt-get update, waiting up to 600 s for the dpkg lock (other jobs on
#      the machine may hold it);
#   2. simulates the install (apt-get -s). If apt would remove or downgrade
#      a package the machine has (example: qemu-utils 10 from
#      bookworm-backports breaks bookworm's qemu-system-common 7.2, so
#      installing qemu-system-x86 removes it), it says which packages, at
#      which versions and why, before anything changes, and then
#        - goes ahead when LDRS_APT_REMOVE=yes, or on a CI runner (CI set:
#          a throw-away machine);
#        - asks, when stdin is a terminal;
#        - otherwise stops with exit 1, the machine unchanged;
#   3. installs with --no-install-recommends (apt lists each package as it
#      unpacks), non-interactive, keeping the machine's configuration files.
#
# LDRS_APT_REMOVE=no refuses every removal, on CI too.
set -eu

[ $# -gt 0 ] || { echo "apt-install.sh: no packages given" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then
    echo "apt-install.sh: must run as root to install: $*" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
lock="-o DPkg::Lock::Timeout=600"
echo "apt-install.sh: apt-get update (then installing: $*)"
# shellcheck disable=SC2086 # $lock is two words on purpose
apt-get $lock update -qq

# The plan, as apt would carry it out.
# shellcheck disable=SC2086
plan=$(apt-get $lock -s install --no-install-recommends "$@" 2>&1) || {
    printf '%s\n' "$plan" >&2
    echo "apt-install.sh: apt cannot install $* on this machine (above); nothing was changed" >&2
    exit 1
}
# "Remv pkg [version]" and downgrades "Inst pkg [installed] (new release [arch])".
changes=$(printf '%s\n' "$plan" | awk '
    $1 == "Remv" { v = $3; gsub(/[][]/, "", v); print "remove", $2, v; next }
    $1 == "Inst" && $3 ~ /^\[/ {
        old = $3; gsub(/[][]/, "", old); new = $4; sub(/^\(/, "", new)
        print "check", $2, old, new
    }' | while read -r what pkg old new; do
        if [ "$what" = remove ]; then
            echo "    remove    $pkg $old"
        elif dpkg --compare-versions "$new" lt "$old"; then
            echo "    downgrade $pkg $old -> $new"
        fi
    done)

if [ -n "$changes" ]; then
    echo "apt-install.sh: installing $* would change packages this machine already has:"
    printf '%s\n' "$changes"
    # Why: what the installed version declares against others.
    printf '%s\n' "$changes" | awk '{ print $2, $3 }' | while read -r pkg old; do
        apt-cache show "$pkg=$old" 2>/dev/null |
            sed -n "s/^\(Breaks\|Conflicts\): /    ($pkg $old: \1 /p" | sed 's/$/)/' | sort -u
    done
    go=${LDRS_APT_REMOVE:-}
    if [ -z "$go" ] && [ -n "${CI:-}" ]; then
        echo "apt-install.sh: CI is set (a throw-away machine): going ahead"
        go=yes
    fi
    if [ -z "$go" ] && [ -t 0 ]; then
        printf 'apt-install.sh: go ahead? [y/N] '
        read -r answer || answer=
        case $answer in [yY]*) go=yes ;; *) go=no ;; esac
    fi
    if [ "$go" != yes ]; then
        echo "apt-install.sh: nothing was changed. To go ahead, run again with LDRS_APT_REMOVE=yes;" >&2
        echo "apt-install.sh: or install the packages above yourself from a release that fits this machine." >&2
        exit 1
    fi
fi

# shellcheck disable=SC2086
apt-get $lock install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
