#!/bin/bash
# tests/vm/run.sh - run a command as root inside a throw-away qemu guest that
# boots Debian's cloud kernel (which has IPVS as modules).
#
# usage: tests/vm/run.sh [-t SECONDS] [-w DIR]... [-m MiB] [-c N] [-v] [--] COMMAND...
#
#   -t SECONDS  wall-clock limit for the whole run, boot included (default 600).
#               On expiry the guest is killed and we exit 124.
#   -w DIR      share host DIR read-write at the same path in the guest
#               (repeatable). Everything else the guest writes stays in its RAM.
#   -m MiB      guest memory (default 1024)
#   -c N        guest vCPUs (default 2)
#   -v          after the run, print the guest kernel console to stderr
#   -h          this help
#
# COMMAND: a single argument is a shell command line, run by bash in the guest
# ('cd x && make'); several arguments are an argv, quoted exactly as given.
# It runs as root in the host's current directory, stdin /dev/null, and its
# stdout and stderr are streamed to our stdout. Exit status: the command's;
# 124 on timeout; 125 if the VM or this script failed.
#
# Environment honoured (host side):
#   LDRS_VM_TIMEOUT   default for -t
#   LDRS_VM_MEM       default for -m
#   LDRS_VM_CPUS      default for -c
#   LDRS_VM_ACCEL     auto (default) | tcg | kvm. auto picks kvm only when
#                     kvm_intel/kvm_amd is loaded and /dev/kvm is usable; on
#                     PVM hosts (kvm_pvm, no VT-x/AMD-V) Debian's kernel hangs
#                     under KVM, so auto uses TCG there.
#   LDRS_VM_TCG_CPU   qemu -cpu model under TCG (default max)
#   LDRS_VM_KERNEL    vmlinuz to boot (default: newest /boot/vmlinuz-*-cloud-amd64;
#                     its modules must be in /lib/modules/<version>)
#   LDRS_VM_ENV       extra names of host environment variables to copy into
#                     the guest (space separated); always copied: CI
#                     RUST_BACKTRACE RUST_LOG RUST_TEST_THREADS RUST_MIN_STACK
# Inside the guest LDRS_VM=1 is set, PATH is the host's PATH plus the sbin dirs.
#
# How it works: the host root (/) is shared read-only over virtio-fs (the cloud
# kernel has no 9p) and a tmpfs overlay is put on top, so all host tools and
# build outputs are visible and /etc, /tmp, /var are writable (in RAM). A tiny
# initramfs (static busybox + virtio/virtiofs/overlay modules) mounts that and
# switch_roots into it. The guest has no network device at all (-nic none).
# Output travels over a second serial port (ttyS1, ~400 KB/s: put large
# outputs in a -w directory). Requires root and the packages installed by
# tests/vm/install-deps.sh.
set -euo pipefail

me=run.sh
die() { echo "$me: error: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; }

timeout_s=${LDRS_VM_TIMEOUT:-600}
mem=${LDRS_VM_MEM:-1024}
cpus=${LDRS_VM_CPUS:-2}
verbose=0
rw_dirs=()
while getopts ":t:w:m:c:vh" opt; do
  case $opt in
    t) timeout_s=$OPTARG ;;
    w) d=$(realpath -e -- "$OPTARG" 2>/dev/null) || die "-w $OPTARG: no such directory"
       [ -d "$d" ] || die "-w $OPTARG: not a directory"
       # The path travels through the kernel's mount code and a word list.
       case $d in *[[:space:],:\\]*) die "-w $d: path must not contain blanks, commas, colons or backslashes" ;; esac
       rw_dirs+=("$d") ;;
    m) mem=$OPTARG ;;
    c) cpus=$OPTARG ;;
    v) verbose=1 ;;
    h) usage; exit 0 ;;
    :) echo "$me: -$OPTARG needs an argument" >&2; usage >&2; exit 125 ;;
    *) echo "$me: unknown option -$OPTARG" >&2; usage >&2; exit 125 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { usage >&2; exit 125; }
for n in "$timeout_s" "$mem" "$cpus"; do
  case $n in ''|*[!0-9]*) die "-t, -m and -c take whole numbers (got '$n')" ;; esac
done

[ "$(id -u)" = 0 ] || die "must run as root (virtiofsd exports / and needs it)"

# ---- find qemu, virtiofsd, busybox and the guest kernel ------------------------
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not found; run tests/vm/install-deps.sh"
# qemu 7.2 (bookworm) ships the C virtiofsd; later Debian releases have a
# separate Rust 'virtiofsd' package with a different command line (see below).
if [ -x /usr/lib/qemu/virtiofsd ]; then
  VIRTIOFSD=/usr/lib/qemu/virtiofsd; vfsd_style=c
elif [ -x /usr/libexec/virtiofsd ]; then
  VIRTIOFSD=/usr/libexec/virtiofsd; vfsd_style=rust
elif VIRTIOFSD=$(command -v virtiofsd 2>/dev/null); then
  vfsd_style=rust
else
  die "virtiofsd not found; run tests/vm/install-deps.sh"
fi
BUSYBOX=/bin/busybox
# Only the static build works in an initramfs without libc.
{ [ -x "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1; } ||
  die "$BUSYBOX missing or not static; run tests/vm/install-deps.sh (busybox-static)"
command -v cpio >/dev/null || die "cpio not found; run tests/vm/install-deps.sh"

kernel=${LDRS_VM_KERNEL:-}
if [ -z "$kernel" ]; then
  kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' 2>/dev/null | sort -V | tail -n 1)
  [ -n "$kernel" ] || die "no /boot/vmlinuz-*-cloud-amd64; run tests/vm/install-deps.sh"
fi
[ -r "$kernel" ] || die "cannot read kernel $kernel"
kver=${kernel##*/vmlinuz-}
[ -f "/lib/modules/$kver/modules.dep" ] || die "/lib/modules/$kver/modules.dep missing (modules of $kernel not installed)"

# ---- accelerator ---------------------------------------------------------------
accel=${LDRS_VM_ACCEL:-auto}
if [ "$accel" = auto ]; then
  accel=tcg
  if [ -r /dev/kvm ] && [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
    accel=kvm
  fi
fi
# shellcheck disable=SC2054 # the commas belong to qemu option values
case $accel in
  kvm) accel_args=(-accel kvm -cpu host) ;;
  # multi-threaded TCG so that -smp 2 really uses two host threads
  tcg) accel_args=(-accel tcg,thread=multi,tb-size=256 -cpu "${LDRS_VM_TCG_CPU:-max}") ;;
  *) die "LDRS_VM_ACCEL must be auto, tcg or kvm (got '$accel')" ;;
esac

# ---- job directory and cleanup -------------------------------------------------
# $job/share is shared read-write with the guest (tag "job"): command, cwd,
# environment, list of rw dirs, and the command's exit status on the way back.
job=$(mktemp -d "${TMPDIR:-/tmp}/ldrs-vm.XXXXXX")
pids=()
# shellcheck disable=SC2317 # called through trap
cleanup() {
  local i
  # newest first: qemu (through timeout, which passes the signal on), then
  # the virtiofsd daemons
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$job"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
mkdir "$job/share" "$job/initrd"

# The command: one argument is a command line, several are an argv.
if [ $# -eq 1 ]; then
  printf '%s\n' "$1" > "$job/share/cmd.sh"
else
  { printf '%q ' "$@"; echo; } > "$job/share/cmd.sh"
fi
pwd -P > "$job/share/cwd" 2>/dev/null || echo / > "$job/share/cwd"
{
  guest_path="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
  printf 'export PATH=%q\n' "$guest_path"
  for v in CI RUST_BACKTRACE RUST_LOG RUST_TEST_THREADS RUST_MIN_STACK ${LDRS_VM_ENV:-}; do
    case $v in ''|*[!A-Za-z0-9_]*|[0-9]*) die "LDRS_VM_ENV: bad variable name '$v'" ;; esac
    if [ -n "${!v+set}" ]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
  done
} > "$job/share/env.sh"
if [ "${#rw_dirs[@]}" -gt 0 ]; then printf '%s\n' "${rw_dirs[@]}"; fi > "$job/share/rw-dirs"

# ---- initramfs: static busybox, the modules to mount virtio-fs + overlay, /init
ir=$job/initrd
mkdir -p "$ir/bin" "$ir/mod" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/lower" "$ir/upper" "$ir/newroot"
cp "$BUSYBOX" "$ir/bin/busybox"
order=()
for m in virtio_pci virtiofs overlay; do
  # prints "insmod /lib/modules/.../x.ko" lines in load order, dependencies first
  deps=$(modprobe -S "$kver" --show-depends "$m" 2>/dev/null) ||
    die "modprobe -S $kver --show-depends $m failed"
  while read -r verb f _; do
    [ "$verb" = insmod ] || continue        # "builtin x" needs nothing
    b=$(basename "$f")
    case $b in
      *.ko) cp "$f" "$ir/mod/$b" ;;
      *.ko.xz) b=${b%.xz}; xz -dc "$f" > "$ir/mod/$b" ;;
      *.ko.zst) b=${b%.zst}; zstd -qdc "$f" > "$ir/mod/$b" ;;
      *) die "unexpected module file $f" ;;
    esac
    case " ${order[*]} " in *" $b "*) ;; *) order+=("$b") ;; esac
  done <<<"$deps"
done
printf '%s\n' "${order[@]}" > "$ir/mod/order"

# Stage 1, PID 1 in the initramfs: mount host / read-only with a tmpfs overlay
# on top, the job share and the rw shares, then switch_root into it.
cat > "$ir/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
fail() { echo "ldrs-vm stage1: $*"; echo "LDRS-VM-EXIT: 125"; poweroff -f; sleep 10; }
for m in $(cat /mod/order); do insmod "/mod/$m" || fail "insmod $m"; done
mount -t virtiofs -o ro hostroot /lower || fail "mount virtiofs hostroot"
mount -t tmpfs -o mode=0755 upper /upper
mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot || fail "mount overlay"
mount -t tmpfs -o mode=0755,nosuid,nodev run /newroot/run
mkdir -p /newroot/run/ldrs-vm
mount -t virtiofs job /newroot/run/ldrs-vm || fail "mount virtiofs job"
i=0
for p in $(cat /newroot/run/ldrs-vm/rw-dirs); do
  mkdir -p "/newroot$p" && mount -t virtiofs "rw$i" "/newroot$p" || fail "mount rw$i on $p"
  i=$((i+1))
done
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
exec switch_root /newroot /bin/sh /run/ldrs-vm/stage2.sh
EOF
chmod 755 "$ir/init"

# Stage 2, PID 1 in the overlay root: finish the system setup, run the command,
# hand back its status, power off.
cat > "$job/share/stage2.sh" <<'EOF'
J=/run/ldrs-vm
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mkdir -p /run/netns /run/lock
hostname ldrs-vm
echo ldrs-vm > /etc/hostname
ip link set lo up
echo 1 > /proc/sys/kernel/printk
# raw: no \n -> \r\n translation, no echo, so output arrives byte for byte
busybox stty -F /dev/ttyS1 raw -echo 2>/dev/null
. $J/env.sh
export HOME=/root LANG=C.UTF-8 TERM=dumb LDRS_VM=1
cd "$(cat $J/cwd)" 2>/dev/null || cd /
echo "LDRS-VM-START uptime=$(cut -d' ' -f1 /proc/uptime)" > /dev/ttyS0
bash $J/cmd.sh < /dev/null > /dev/ttyS1 2>&1
rc=$?
echo "$rc" > $J/status
sync
echo "LDRS-VM-EXIT: $rc uptime=$(cut -d' ' -f1 /proc/uptime)" > /dev/ttyS0
busybox poweroff -f
sleep 10
EOF

(cd "$ir" && find . | cpio -o -H newc --quiet) > "$job/initrd.cpio" || die "cpio failed"

# ---- virtiofsd daemons: host / (read-only in the guest), job share, rw dirs ---
vfs_args=()
start_vfsd() { # TAG SOURCE-DIR CACHE-MODE
  local tag=$1 src=$2 cache=$3 sock=$job/$1.sock i
  if [ "$vfsd_style" = c ]; then
    # sandbox=chroot: the default (namespace) fails for source=/ with
    # "pivot_root(., .): Device or resource busy".
    "$VIRTIOFSD" --socket-path="$sock" -o source="$src" -o cache="$cache" \
      -o sandbox=chroot -o log_level=err --rlimit-nofile=65536 \
      >"$job/$tag.vfsd.log" 2>&1 &
  else
    # Rust virtiofsd (Debian >= 13); untested here.
    "$VIRTIOFSD" --socket-path="$sock" --shared-dir="$src" --cache="$cache" \
      --sandbox=chroot --log-level=error >"$job/$tag.vfsd.log" 2>&1 &
  fi
  pids+=($!)
  for i in $(seq 1 200); do
    [ -S "$sock" ] && break
    [ "$i" = 200 ] || sleep 0.05
  done
  [ -S "$sock" ] || { cat "$job/$tag.vfsd.log" >&2; die "virtiofsd for $src did not start"; }
  vfs_args+=(-chardev "socket,id=c$tag,path=$sock" -device "vhost-user-fs-pci,chardev=c$tag,tag=$tag")
}
start_vfsd hostroot / always
start_vfsd job "$job/share" none
i=0
for d in "${rw_dirs[@]}"; do start_vfsd "rw$i" "$d" auto; i=$((i + 1)); done

# ---- boot ------------------------------------------------------------------------
# ttyS0 = kernel console -> file; ttyS1 = the command's output -> our stdout.
# vhost-user-fs needs guest RAM in a shared memory backend.
: > "$job/console.log"
# Under TCG the boot takes 5-15 s with nothing to show: say so (stderr, so
# that stdout stays the command's own).
echo "run.sh: booting a qemu guest ($kver, $accel, $cpus vCPUs, $mem MiB; under TCG" \
  "5-15 s before the command's output starts)" >&2
t0=$(date +%s.%N)
timeout -k 5 "$timeout_s" "$QEMU" \
  -machine q35 "${accel_args[@]}" -smp "$cpus" -m "$mem" \
  -object memory-backend-memfd,id=mem,size="${mem}M",share=on -numa node,memdev=mem \
  -nic none -nodefaults -no-user-config -display none -monitor none -no-reboot \
  -serial "file:$job/console.log" \
  -chardev stdio,id=out,signal=off -serial chardev:out \
  "${vfs_args[@]}" \
  -kernel "$kernel" -initrd "$job/initrd.cpio" \
  -append "console=ttyS0 quiet loglevel=1 panic=-1 8250.nr_uarts=2 i8042.noaux i8042.nokbd i8042.nopnp tsc=reliable" \
  </dev/null 2>"$job/qemu.log" &
qpid=$!
pids+=("$qpid")
qrc=0
wait "$qpid" || qrc=$?
t1=$(date +%s.%N)

if [ "$verbose" = 1 ]; then
  echo "---- guest console ($kver, accel=$accel, $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s) ----" >&2
  cat "$job/console.log" >&2
  cat "$job/qemu.log" >&2
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  echo "$me: timeout after ${timeout_s}s; guest console tail:" >&2
  tail -n 20 "$job/console.log" >&2
  exit 124
fi
if [ -s "$job/share/status" ]; then
  exit "$(cat "$job/share/status")"
fi
# the status file may be missing if the share broke; the console has it too
rc=$(sed -n 's/^LDRS-VM-EXIT: \([0-9]*\).*/\1/p' "$job/console.log" | tail -n 1)
if [ -n "$rc" ] && [ "$rc" != 125 ]; then
  exit "$rc"
fi
echo "$me: VM ended (qemu status $qrc) without the command's status; qemu said:" >&2
cat "$job/qemu.log" >&2
echo "$me: guest console tail:" >&2
tail -n 30 "$job/console.log" >&2
exit 125
