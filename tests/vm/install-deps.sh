#!/bin/bash
# tests/vm/install-deps.sh [--peers] [--lint] [--ocf] [--deb]
#
# Installs, from Debian 12 (bookworm) packages only, everything the real-kernel
# harness in tests/vm/ needs on the host:
#
#   qemu-system-x86         qemu-system-x86_64; its dependency qemu-system-common
#                           (7.2 in bookworm) ships the C virtiofsd at
#                           /usr/lib/qemu/virtiofsd
#   linux-image-cloud-amd64 the guest kernel (/boot/vmlinuz-*-cloud-amd64) and its
#                           modules (/lib/modules/<kver>, with ip_vs*, veth, bridge,
#                           virtiofs, overlay)
#   busybox-static          /bin/busybox for the initramfs, plus httpd/wget in tests
#   kmod                    modprobe (host: resolve initramfs modules; guest: load ip_vs)
#   cpio                    builds the initramfs archive
#   ipvsadm iproute2 curl   used by tests and demos inside the guest
#   prometheus              promtool: checks a live /metrics scrape (tests/vm/observe.sh)
#   chromium                a real headless browser for the status page (observe.sh)
#   python3-jsonschema      validates /status.json against man/status.schema.json
#
# Options:
#   --peers   also install the reference implementations ldirectord and keepalived,
#             and nginx (the throughput benchmark's server; no service is started:
#             no systemd here, and policy-rc.d denies it where present), and
#             linux-perf and strace (the throughput benchmark's profiles in the guest)
#   --lint    also install shellcheck (to lint these scripts)
#   --ocf     also install the Perl ldirectord, resource-agents (Pacemaker's OCF
#             agent ocf:heartbeat:ldirectord and ocf-tester) and libxml2-utils
#             (xmllint, for ocf-tester's meta-data check): what
#             tests/vm/upgrade-ocf.sh runs against ldirectord-rs
#   --deb     also install what `cargo deb` and its checks use: dpkg-dev
#             (dpkg-shlibdeps computes Depends), binutils (strip), lintian;
#             and the Perl ldirectord and resource-agents that
#             tests/vm/deb-install.sh installs ours over (and purges)
#
# What is already there is used: a package is installed only when what the
# harness takes from it is missing (qemu-system-x86_64 >= 7.2 with a
# virtiofsd, a cloud kernel with its modules, a static /bin/busybox, the
# commands), so a qemu or kernel of the machine's own is never replaced.
# When nothing is missing it returns at once without touching apt. The
# install goes through tests/apt-install.sh, which says before anything
# changes if apt would remove or downgrade a package the machine has (and
# then asks, or stops unless LDRS_APT_REMOVE=yes or CI is set). Must run as
# root (no sudo is used). Non-interactive unless apt would remove something.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
peers=0 lint=0 ocf=0 deb=0
for arg in "$@"; do
  case $arg in
    --peers) peers=1 ;;
    --lint) lint=1 ;;
    --ocf) ocf=1 ;;
    --deb) deb=1 ;;
    -h|--help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# qemu-system-x86_64 of at least 7.2 (the version the harness is tested
# with) and a virtiofsd where run.sh looks for one.
have_qemu() {
  local v
  v=$(qemu-system-x86_64 --version 2>/dev/null | sed -n '1s/.*version \([0-9][0-9.]*\).*/\1/p')
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 7.2 || return 1
  [ -x /usr/lib/qemu/virtiofsd ] || [ -x /usr/libexec/virtiofsd ] || command -v virtiofsd >/dev/null
}
# The guest kernel run.sh boots, with its modules.
have_kernel() {
  local k
  if [ -n "${LDRS_VM_KERNEL:-}" ]; then k=$LDRS_VM_KERNEL; else
    k=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' 2>/dev/null | sort -V | tail -n 1)
  fi
  [ -n "$k" ] && [ -r "$k" ] && [ -f "/lib/modules/${k##*/vmlinuz-}/modules.dep" ]
}
have_static_busybox() { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

missing=()
have_qemu || missing+=(qemu-system-x86)
have_kernel || missing+=(linux-image-cloud-amd64)
have_static_busybox || missing+=(busybox-static)
have modprobe || missing+=(kmod)
have cpio || missing+=(cpio)
have ipvsadm || missing+=(ipvsadm)
have ip || missing+=(iproute2)
have curl || missing+=(curl)
have promtool || missing+=(prometheus)
have chromium || missing+=(chromium)
python3 -c 'import jsonschema' 2>/dev/null || missing+=(python3-jsonschema)
# By package: the Perl ldirectord (/usr/sbin/ldirectord may be ours) and
# the OCF agent are files of their packages, not commands.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
if [ "$peers" = 1 ] || [ "$ocf" = 1 ]; then installed ldirectord || missing+=(ldirectord); fi
if [ "$peers" = 1 ]; then
  have keepalived || missing+=(keepalived)
  have nginx || missing+=(nginx)
  have perf || missing+=(linux-perf)
  have strace || missing+=(strace)
fi
if [ "$ocf" = 1 ]; then
  installed resource-agents || missing+=(resource-agents)
  have xmllint || missing+=(libxml2-utils)
fi
if [ "$lint" = 1 ]; then have shellcheck || missing+=(shellcheck); fi
if [ "$deb" = 1 ]; then
  # What tests/vm/deb-install.sh installs ours over, and the packaging tools.
  installed ldirectord || missing+=(ldirectord)
  installed resource-agents || missing+=(resource-agents)
  have dpkg-shlibdeps || missing+=(dpkg-dev)
  have strip || missing+=(binutils)
  have lintian || missing+=(lintian)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps.sh: all present (qemu, virtiofsd, cloud kernel, static busybox, tools, promtool, chromium, jsonschema, and what the options ask for)"
  exit 0
fi

echo "install-deps.sh: missing, to install from Debian: ${missing[*]}"
"$here/../apt-install.sh" "${missing[@]}"

# Sanity checks of what the harness relies on.
have_kernel || { echo "install-deps.sh: no cloud kernel with modules in /boot" >&2; exit 1; }
have_qemu || { echo "install-deps.sh: no qemu-system-x86_64 >= 7.2 with a virtiofsd (expected /usr/lib/qemu/virtiofsd from qemu-system-common 7.2)" >&2; exit 1; }
echo "install-deps.sh: done"
