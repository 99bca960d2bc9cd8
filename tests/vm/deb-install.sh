#!/bin/bash
# The checks are eval'd strings, expanded when they run:
# shellcheck disable=SC2016
# tests/vm/deb-install.sh [DEB] - the Debian package (`cargo deb`) installed
# over Debian's Perl ldirectord, run, upgraded and purged with dpkg in a
# throw-away qemu guest (dpkg writes to the guest's tmpfs overlay; the
# host's packages are untouched):
#
#   1. a director running Debian's ldirectord (1:4.12.0-2, installed on the
#      host by tests/vm/install-deps.sh --ocf): /etc/ha.d/ldirectord.cf
#      written, CONFIG_FILE set in /etc/default/ldirectord, started by
#      Debian's init script. `dpkg -i` of ours removes the Perl package,
#      stops its daemon, starts ours on the same file (postinst), and the
#      virtual service stays in the table; every file of the package is
#      there (the unit too: see Cargo.toml, [package.metadata.deb]);
#   2. `ldirectord -t` on an installed example; the man page is ours;
#   3. /etc/init.d/ldirectord stop, start (the table goes and comes back);
#   4. an upgrade (dpkg -i again) restarts a running daemon and leaves a
#      stopped one stopped;
#   5. `dpkg --purge` with the daemon running stops it and leaves none of
#      the package's files, conffiles, rc.d or systemd links, state or log;
#   6. with no ldirectord.cf and no /etc/ha.d (Debian's ldirectord and
#      resource-agents purged too), `apt-get install ./PACKAGE.deb` (the
#      README's way; offline: the dependencies are installed) creates
#      /etc/ha.d and starts nothing; the purge removes /etc/ha.d again
#      (empty, no owner).
#
# The guest has no systemd: the maintainer scripts take their SysV path.
# They see runlevel 2 (RUNLEVEL=2) and no policy-rc.d (a Docker-style one
# on the host that denies every start is moved aside in the guest), as on
# a director booted with sysvinit. The man-db trigger is turned off (it
# only costs time).
#
# DEB defaults to $LDRS_DEB, else the newest target/debian/ldirectord-rs_*.deb.
# Each step prints "ok - NAME" or "not ok - NAME"; the last line is
# "N passed, M failed". Exit 0 only when nothing failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
if [ "${LDRS_VM:-}" != 1 ]; then
  deb=${1:-${LDRS_DEB:-}}
  if [ -z "$deb" ]; then
    # shellcheck disable=SC2012
    deb=$(ls -t "$root"/target/debian/ldirectord-rs_*_amd64.deb 2>/dev/null | head -n 1)
  fi
  [ -f "$deb" ] || {
    echo "deb-install.sh: no target/debian/ldirectord-rs_*_amd64.deb (run cargo deb first)" >&2; exit 2; }
  dpkg-query -W -f='${Status}\n' ldirectord resource-agents 2>/dev/null | grep -c '^install ok installed$' |
    grep -qx 2 || {
    echo "deb-install.sh: needs Debian's ldirectord and resource-agents (tests/vm/install-deps.sh --ocf)" >&2; exit 2; }
  LDRS_DEB=$(cd "$(dirname "$deb")" && pwd -P)/$(basename "$deb") LDRS_VM_ENV="${LDRS_VM_ENV:-} LDRS_DEB" \
    exec "$here/run.sh" -t "${LDRS_VM_TIMEOUT:-600}" "$here/deb-install.sh"
fi

DEB=$LDRS_DEB
LD=/usr/sbin/ldirectord
CF=/etc/ha.d/ldirectord.cf
PIDF=/run/ldirectord.ldirectord.pid
VIRTUAL=198.51.100.100:80
work=$(mktemp -d /tmp/deb-install.XXXXXX)
cleanup() {
  local p
  p=$(cat "$PIDF" 2>/dev/null) && [ -n "$p" ] && kill -9 "$p" 2>/dev/null
  ipvsadm -C 2>/dev/null
  true
}
trap cleanup EXIT

TAP_STAMP=1
# shellcheck source=tests/vm/lib/tap.sh
. "$here/lib/tap.sh"
# wait_for SECONDS CMD...: this script's own, silent (its callers test the
# status only): poll every 0.2 s, bounded, then CMD's own status.
wait_for() {
  local i n=$(($1 * 5)); shift
  for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.2; done
  "$@"
}
# dpkg ARGS...: dpkg as apt runs it non-interactively; its output goes to
# $work/dpkg.log (shown when a check fails).
run_dpkg() {
  echo "+ dpkg $*" >>"$work/dpkg.log"
  dpkg --force-confdef --force-confold "$@" >>"$work/dpkg.log" 2>&1
}
run_apt() {
  echo "+ apt-get $*" >>"$work/dpkg.log"
  apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" \
    >>"$work/dpkg.log" 2>&1
}
# (grep without -q reads all of ipvsadm's output: no closed pipe for it.)
has_virtual() { ipvsadm -Ln | grep "TCP  $VIRTUAL " >/dev/null; }
no_virtual() { ! ipvsadm -Ln | grep "TCP  $VIRTUAL " >/dev/null; }
daemon_pid() { cat "$PIDF" 2>/dev/null; }
# ours: the pid file names a live process running /usr/sbin/ldirectord
# itself (the Perl daemon's executable is perl).
ours_runs() {
  local p; p=$(daemon_pid)
  [ -n "$p" ] && [ "$(readlink "/proc/$p/exe")" = "$LD" ]
}
none_runs() {
  local p; p=$(daemon_pid)
  { [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; } && ! pgrep -f 'ldirectord.* start$' >/dev/null
}
status_of() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null; }
# The package's own paths (files and symlinks, not directories) and conffiles.
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' >"$work/files"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles >"$work/conffiles"
all_there() { local f; while read -r f; do [ -e "$f" ] || { echo "# missing: $f"; return 1; }; done <"$work/files"; }
none_left() {
  local f rc=0
  for f in $(cat "$work/files" "$work/conffiles") /etc/rc[0-6S].d/[SK][0-9][0-9]ldirectord \
    /etc/systemd/system/multi-user.target.wants/ldirectord.service \
    /var/lib/systemd/deb-systemd-helper-enabled/ldirectord.service.dsh-also \
    /var/lib/ldirectord /var/log/ldirectord.log; do
    if [ -e "$f" ] || [ -L "$f" ]; then echo "# left behind: $f"; rc=1; fi
  done
  return $rc
}

log "kernel $(uname -r); package $(basename "$DEB")"
modprobe ip_vs
export DEBIAN_FRONTEND=noninteractive RUNLEVEL=2 PREVLEVEL=N
[ -e /usr/sbin/policy-rc.d ] && mv /usr/sbin/policy-rc.d "$work/policy-rc.d"
rm -f /var/lib/man-db/auto-update
# dpkg reads its whole database (3,900 files here) on every run: through
# virtio-fs under TCG that was 27-36 s per dpkg -i; from a tmpfs copy of the
# same database 14 s (host load 11-14), after a 30 s copy.
cp -a /var/lib/dpkg /run/dpkg && mount --bind /run/dpkg /var/lib/dpkg

check "the package: Provides, Conflicts, Replaces ldirectord; computed Depends (libc6)" eval \
  '[ "$(dpkg-deb -f "$DEB" Provides Conflicts Replaces | sed "s/^[A-Za-z]*: //" | sort -u)" = ldirectord ] &&
   dpkg-deb -f "$DEB" Depends | grep -q "libc6 (>= "'
check "the package: the man page is gzipped, conffiles are the init script and the default file" eval \
  'grep -qx /usr/share/man/man8/ldirectord.8.gz "$work/files" &&
   [ "$(sort "$work/conffiles" | xargs)" = "/etc/default/ldirectord /etc/init.d/ldirectord" ]'

# --- 1. over a director running Debian's ldirectord -------------------------
log "Debian's ldirectord $(dpkg-query -W -f='${Version}' ldirectord), started by its init script"
check "Debian's ldirectord is installed" eval '[ "$(status_of ldirectord)" = installed ]'
cp "$root/examples/forward-masq.cf" "$CF"
sed -i 's|^# *CONFIG_FILE=.*|CONFIG_FILE=/etc/ha.d/ldirectord.cf|' /etc/default/ldirectord
check "the Perl daemon starts (Debian's /etc/init.d/ldirectord start)" eval \
  '/etc/init.d/ldirectord start >"$work/perl-start.log" 2>&1 && wait_for 30 has_virtual'
perl_pid=$(cat /run/ldirectord.ldirectord.cf.pid 2>/dev/null)
log "the Perl daemon: pid $perl_pid ($(readlink "/proc/$perl_pid/exe" 2>/dev/null))"

log "dpkg -i $(basename "$DEB")"
check "dpkg -i installs ours over it" run_dpkg -i "$DEB"
check "ours is installed, Debian's removed with its conffiles kept" eval \
  '[ "$(status_of ldirectord-rs)" = installed ] && [ "$(status_of ldirectord)" = config-files ]'
check "every file of the package is there (the systemd unit too)" all_there
log "dpkg's records: $(cd /var/lib/dpkg/info && echo ldirectord-rs.*)"
check "the Perl daemon is stopped" eval '! kill -0 "$perl_pid" 2>/dev/null'
check "postinst started ours on the same file" wait_for 30 ours_runs
check "the virtual service is in the table" wait_for 30 has_virtual
check "the init script is executable, linked for runlevel 2" eval \
  'test -x /etc/init.d/ldirectord && test -L /etc/rc2.d/S01ldirectord'
check "the administrator's /etc/default/ldirectord is kept" grep -qx 'CONFIG_FILE=/etc/ha.d/ldirectord.cf' /etc/default/ldirectord

# --- 2. the installed program, examples and man page -------------------------
check "ldirectord -t on an installed example exits 0" eval \
  '"$LD" -t /usr/share/doc/ldirectord-rs/examples/forward-masq.cf >"$work/t.out" 2>&1'
check "man -w finds our page (ldirectord-rs extensions)" eval \
  '[ "$(man -w ldirectord)" = /usr/share/man/man8/ldirectord.8.gz ] &&
   zcat /usr/share/man/man8/ldirectord.8.gz | cmp -s - "$root/man/ldirectord.8"'

# --- 3. the init script -------------------------------------------------------
pid=$(daemon_pid)
check "/etc/init.d/ldirectord stop: daemon and virtual gone" eval \
  '/etc/init.d/ldirectord stop >>"$work/init.log" 2>&1 && none_runs && no_virtual'
check "/etc/init.d/ldirectord status is 3 (stopped)" eval '/etc/init.d/ldirectord status >>"$work/init.log" 2>&1; [ $? = 3 ]'
check "/etc/init.d/ldirectord start: ours runs, the virtual is back" eval \
  '/etc/init.d/ldirectord start >>"$work/init.log" 2>&1 && wait_for 30 ours_runs && wait_for 30 has_virtual'
# Into a file first: grep -q stops reading at its match, and the status
# lines after it would then meet a closed pipe (pipefail).
check "ldirectord status names it" eval \
  '"$LD" status >"$work/status.out" 2>&1; grep -q "running with pid: $(daemon_pid)" "$work/status.out"'

# --- 4. upgrades ----------------------------------------------------------------
pid=$(daemon_pid)
log "dpkg -i again while it runs (pid $pid)"
check "dpkg -i (upgrade) succeeds" run_dpkg -i "$DEB"
check "the upgrade restarted it (a new pid), the virtual stays" eval \
  'wait_for 30 ours_runs && [ "$(daemon_pid)" != "$pid" ] && has_virtual'
/etc/init.d/ldirectord stop >>"$work/init.log" 2>&1
log "dpkg -i again while it is stopped"
check "dpkg -i (upgrade) succeeds" run_dpkg -i "$DEB"
check "the upgrade left it stopped" eval 'none_runs && no_virtual'

# --- 5. purge -------------------------------------------------------------------
/etc/init.d/ldirectord start >>"$work/init.log" 2>&1 && wait_for 30 ours_runs
pid=$(daemon_pid)
log "dpkg --purge while it runs (pid $pid)"
check "dpkg --purge succeeds" run_dpkg --purge ldirectord-rs
check "it stopped the daemon and removed its virtual" eval '! kill -0 "$pid" 2>/dev/null && no_virtual'
check "nothing of the package is left behind" none_left
check "/etc/ha.d stays (it holds ldirectord.cf)" test -f "$CF"

# --- 6. no configuration file -----------------------------------------------------
log "Debian's ldirectord and resource-agents purged too: no ldirectord.cf, no /etc/ha.d"
run_dpkg --purge --force-depends ldirectord resource-agents
rm -f "$CF"
[ -d /etc/ha.d ] && rmdir /etc/ha.d
check "apt-get install of the .deb without a configuration file succeeds" eval \
  '[ ! -e /etc/ha.d ] && run_apt install --no-install-recommends "$DEB" && [ "$(status_of ldirectord-rs)" = installed ]'
check "it created /etc/ha.d and started nothing" eval 'test -d /etc/ha.d && none_runs && no_virtual'
check "dpkg --purge removes /etc/ha.d again (empty, no owner) and all the rest" eval \
  'run_dpkg --purge ldirectord-rs && [ ! -e /etc/ha.d ] && none_left'

if [ "$failed" != 0 ]; then
  echo "# --- dpkg output"; sed 's/^/# /' "$work/dpkg.log"
  echo "# --- Perl init script"; sed 's/^/# /' "$work/perl-start.log"
  echo "# --- our init script"; sed 's/^/# /' "$work/init.log"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
