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
#
# Options:
#   --peers   also install the reference implementations ldirectord and keepalived,
#             and nginx (the throughput benchmark's server; no service is started:
#             no systemd here, and policy-rc.d denies it where present)
#   --lint    also install shellcheck (to lint these scripts)
#   --ocf     also install the Perl ldirectord, resource-agents (Pacemaker's OCF
#             agent ocf:heartbeat:ldirectord and ocf-tester) and libxml2-utils
#             (xmllint, for ocf-tester's meta-data check): what
#             tests/vm/upgrade-ocf.sh runs against ldirectord-rs
#   --deb     also install what `cargo deb` and its checks use: dpkg-dev
#             (dpkg-shlibdeps computes Depends), binutils (strip), lintian
#
# Idempotent: when every package is already installed it returns at once without
# touching apt. Must run as root (no sudo is used). Non-interactive.
set -euo pipefail

pkgs=(qemu-system-x86 linux-image-cloud-amd64 busybox-static kmod cpio ipvsadm iproute2 curl)
for arg in "$@"; do
  case $arg in
    --peers) pkgs+=(ldirectord keepalived nginx) ;;
    --lint) pkgs+=(shellcheck) ;;
    --ocf) pkgs+=(ldirectord resource-agents libxml2-utils) ;;
    --deb) pkgs+=(dpkg-dev binutils lintian) ;;
    -h|--help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Which of the wanted packages are not installed yet?
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps.sh: all present (${pkgs[*]})"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "install-deps.sh: must run as root to install: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Other jobs on the same machine may hold the dpkg lock: wait for it instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
echo "install-deps.sh: installing: ${missing[*]}"
apt-get "${apt_opts[@]}" update -qq
apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}"

# Sanity checks of what the harness relies on.
ls /boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1 || { echo "install-deps.sh: no cloud kernel in /boot" >&2; exit 1; }
[ -x /usr/lib/qemu/virtiofsd ] || command -v virtiofsd >/dev/null || {
  echo "install-deps.sh: no virtiofsd found (expected /usr/lib/qemu/virtiofsd from qemu-system-common 7.2)" >&2; exit 1; }
echo "install-deps.sh: done"
