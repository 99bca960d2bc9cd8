#!/bin/bash
# benches/director/guest.sh RESULTS_DIR - the director benchmarks, run INSIDE
# the qemu guest of tests/vm/run.sh (benches/director/run.sh starts it).
#
# One after another in this guest: ldirectord-rs ("rs"), Debian's Perl
# ldirectord ("perl") and `keepalived --check` ("ka"), on the configs that
# gen.py wrote to RESULTS_DIR/gen. Results go to RESULTS_DIR/results.tsv as
#   impl  bench  size  run  metric  value
# and logs to RESULTS_DIR/logs. Every wait and loop is bounded.
#
# Topology (test-net addresses only, no NIC):
#   client ns 198.51.100.10 -- vcli 198.51.100.1 [director = root ns, VIP 198.51.100.100/32]
#   reals ns eth0: 192.0.2.2-251/24, 203.0.113.2-251/24 -- vreals 192.0.2.1, 203.0.113.1
#   one busybox httpd per port (8000-8049, bound to every address of the namespace);
#   port 9001: the hung reals (httpd stopped with SIGSTOP); 9002-9006: victims.
#   The throughput and idle benchmarks put one single-worker nginx (pinned
#   to vCPU 1) on ports 8000-8049 instead, and the director on vCPU 0; the
#   throughput benchmark also runs the floor ("floor": a minimal epoll
#   client, examples/check_floor.rs) on the same targets.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
[ "${LDRS_VM:-}" = 1 ] || { echo "guest.sh: run me in the guest (benches/director/run.sh)" >&2; exit 2; }
RES=${1:?usage: guest.sh RESULTS_DIR}
GEN=$RES/gen
# shellcheck source=/dev/null
[ -f "$RES/params.sh" ] && . "$RES/params.sh"

LD=${BENCH_LD:-${LDIRECTORD:-$root/target/release/ldirectord}}   # BENCH_LD: another build (absolute path)
FLOOR=${BENCH_FLOOR:-$root/target/release/examples/check_floor}
PERL_LD=/usr/sbin/ldirectord
IMPLS=${BENCH_IMPLS:-rs ka perl}
BENCHES=${BENCH_BENCHES:-startup startup_on detect reload capacity throughput idle}
# Perl needs two ipvsadm processes per real before its first check (about
# 1 s each under TCG on a loaded host): its reload warm-up doubles as its
# start-up sample, and detection (200 reals) does not fit the time budget.
PERL_BENCHES=${BENCH_PERL_BENCHES:-reload capacity}
SIZES=${BENCH_SIZES:-10 100 300 1000}
RUNS=${BENCH_RUNS:-3}
# One run of each Perl measurement by default: its warm-up alone takes
# minutes (1.5 s per real), and the README's table is the defaults' run.
RUNS_PERL=${BENCH_RUNS_PERL:-1}
START_CAP=${BENCH_START_CAP:-180}            # s, per start-up run (rs, ka)
START_CAP_PERL=${BENCH_START_CAP_PERL:-90}   # s, per start-up run (perl)
ON_SIZES=${BENCH_ON_SIZES:-1000 3000}        # start-up with no check in the way
ON_CAP=${BENCH_ON_CAP:-120}                  # s, per run
ON_SETTLE=${BENCH_ON_SETTLE:-5}              # s after the table is complete: CPU again
DETECT_SAMPLES=${BENCH_DETECT_SAMPLES:-5}
DETECT_SAMPLES_PERL=${BENCH_DETECT_SAMPLES_PERL:-3}
DETECT_CAP=${BENCH_DETECT_CAP:-100}          # s, per detection sample
WARM_CAP=${BENCH_WARM_CAP:-240}              # s, wait for a full table before a measurement
WARM_CAP_PERL=${BENCH_WARM_CAP_PERL:-480}
RELOAD_N=${BENCH_RELOAD_N:-1000}
RELOAD_N_PERL=${BENCH_RELOAD_N_PERL:-10}
RELOAD_CAP=${BENCH_RELOAD_CAP:-90}
CAP_WINDOW=${BENCH_CAP_WINDOW:-60}
CAP_WARM_PERL=${BENCH_CAP_WARM_PERL:-60}
THRU_SIZES=${BENCH_THRU_SIZES:-100 1000}
THRU_WINDOW=${BENCH_THRU_WINDOW:-30}
THRU_WARM=${BENCH_THRU_WARM:-180}
# After the first throughput run of each director at each size: a profile
# (perf record -e cpu-clock -g, BENCH_PROFILE_SECONDS), system calls per
# check (strace -c -f, BENCH_STRACE_SECONDS) and a sample of the network
# calls (strace -f -e trace=network,...) in RESULTS_DIR/logs. Off: 0.
PROFILE=${BENCH_PROFILE:-1}
PROFILE_SECONDS=${BENCH_PROFILE_SECONDS:-20}
STRACE_SECONDS=${BENCH_STRACE_SECONDS:-10}
IDLE_SIZE=${BENCH_IDLE_SIZE:-100}             # virtuals x 10 reals, checkinterval=10
IDLE_WINDOW=${BENCH_IDLE_WINDOW:-60}

[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd   # process substitution; the guest's devtmpfs lacks it
W=/tmp/ldbench   # gen.py puts the daemons' log files here; shown live in RESULTS_DIR/work
H=/tmp/ldbench-httpd   # the servers' request logs (guest RAM)
mkdir -p "$W" "$H" "$RES/logs" "$RES/work"
mount --bind "$RES/work" "$W"
OUT=$RES/results.tsv
: > "$OUT"
# shellcheck source=/dev/null
. "$root/tests/vm/lib/netns.sh"

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
note() { echo "# [$(cut -d' ' -f1 /proc/uptime)] $*" | tee -a "$RES/guest.log"; }
rec() { # IMPL BENCH SIZE RUN METRIC VALUE
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$OUT"
  echo "RESULT $*" | tee -a "$RES/guest.log"
}
hexof() { # ADDR PORT -> /proc/net/ip_vs form C0000202:1F40
  local a b c d
  IFS=. read -r a b c d <<< "$1"
  printf '%02X%02X%02X%02X:%04X' "$a" "$b" "$c" "$d" "$2"
}
ndests() { grep -c '^  ->' /proc/net/ip_vs; }
has_real() { grep -q "^  -> $1 " /proc/net/ip_vs; }
wait_until() { # CAP CMD...: poll CMD every 0.2 s; prints seconds since $T0
  local cap=$1; shift
  while :; do
    if "$@"; then since "$T0"; return 0; fi
    awk -v a="$T0" -v b="$EPOCHREALTIME" -v c="$cap" 'BEGIN { exit !(b - a > c) }' && return 1
    sleep 0.2
  done
}
count_is() { [ "$(ndests)" -ge "$1" ]; }

# --- topology -----------------------------------------------------------------
note "kernel $(uname -r), $(nproc) vCPUs; rs=$LD"
modprobe -a ip_vs ip_vs_rr veth
sysctl -qw net.ipv4.ip_forward=1
ns_create client
ns_veth client vcli 198.51.100.10/24 198.51.100.1/24
ns_exec client ip route add default via 198.51.100.1
ns_addr "" vcli 198.51.100.100/32
ns_create reals
ns_veth reals vreals 192.0.2.2/24 192.0.2.1/24
ns_addr "" vreals 203.0.113.1/24
{
  for i in $(seq 3 251); do echo "addr add 192.0.2.$i/24 dev eth0"; done
  for i in $(seq 2 251); do echo "addr add 203.0.113.$i/24 dev eth0"; done
} > "$W/addrs.batch"
ip -n reals -batch "$W/addrs.batch"
ip -n reals route add default via 192.0.2.1
mkdir -p "$H/www"; echo OK > "$H/www/health.html"; echo hello > "$H/www/index.html"
declare -A HTTPD
start_httpd() { # PORT
  ip netns exec reals busybox httpd -f -v -p "$1" -h "$H/www" 2>> "$H/httpd-$1.log" &
  HTTPD[$1]=$!; NS_PIDS+=($!)
}
read -ra GEN_PORTS < "$GEN/ports.txt"
for p in "${GEN_PORTS[@]}" 9001 9002 9003 9004 9005 9006; do start_httpd "$p"; done
sleep 1
ns_wait_http "" http://203.0.113.251:8000/health.html >/dev/null || note "reals not answering"
kill -STOP "${HTTPD[9001]}"
note "topology up: $(ip -n reals -4 addr show dev eth0 | grep -c inet) addresses, ${#HTTPD[@]} httpd"
cleanup() {
  stop_impl 2>/dev/null
  kill -CONT "${HTTPD[9001]}" 2>/dev/null
  ns_teardown
  umount "$W" 2>/dev/null
  return 0
}
trap cleanup EXIT

# The real ipvsadm, and a counting shim for the Perl reload benchmark
# (ldirectord runs /sbin/ipvsadm = /usr/sbin/ipvsadm; this is the guest's
# tmpfs overlay, the host is untouched).
cp /usr/sbin/ipvsadm "$W/ipvsadm.real"
IPVSADM=$W/ipvsadm.real
shim_on() {
  printf '#!/bin/sh\necho "$*" >> %s/ipvsadm-calls.log\nexec %s "$@"\n' "$W" "$IPVSADM" > /usr/sbin/ipvsadm
  chmod 755 /usr/sbin/ipvsadm
}
shim_off() { cp "$IPVSADM" /usr/sbin/ipvsadm; }

# --- the three directors ------------------------------------------------------
CUR_IMPL="" CUR_CFG="" STARTER=""
PIN=()   # e.g. (taskset -c 0): the director and everything it forks on one vCPU
cfg_of() { # IMPL NAME
  case $1 in ka) echo "$GEN/ka-$2.conf" ;; floor) echo "$GEN/targets-$2.txt" ;; *) echo "$GEN/$1-$2.cf" ;; esac
}
start_impl() { # IMPL CFG (T0 is set just before the launch)
  CUR_IMPL=$1 CUR_CFG=$2
  rm -f /var/run/ldirectord.*.pid
  T0=$(now)
  case $1 in
    rs) "${PIN[@]}" "$LD" "$2" start >> "$W/rs-start.out" 2>&1 & ;;
    perl) "${PIN[@]}" "$PERL_LD" "$2" start >> "$W/perl-start.out" 2>&1 & ;;
    ka) "${PIN[@]}" keepalived --check --dont-fork --log-console --log-detail -f "$2" \
          -p "$W/ka.pid" -c "$W/ka-check.pid" >> "$W/ka.log" 2>&1 & ;;
    floor) "${PIN[@]}" "$FLOOR" "$2" "${FLOOR_INTERVAL:-1}" 64 3 /health.html >> "$W/floor.out" 2>&1 & ;;
  esac
  STARTER=$!
}
main_pid() {
  case $CUR_IMPL in
    ka|floor) echo "$STARTER" ;;
    *) cat "/var/run/ldirectord.$(basename "$CUR_CFG").pid" 2>/dev/null ;;
  esac
}
impl_pids() { # the director's processes: main and its children
  local m; m=$(main_pid); [ -n "$m" ] || return 0
  echo "$m"; pgrep -P "$m" || true
}
stop_impl() { # kill -9 and flush: quick and the same for everyone
  [ -n "$CUR_IMPL" ] || return 0
  local p
  # the floor prints its counts on SIGTERM
  [ "$CUR_IMPL" = floor ] && { kill -TERM "$STARTER"; sleep 0.5; }
  for p in $(impl_pids) $STARTER; do kill -9 "$p" 2>/dev/null; done
  sleep 0.5
  "$IPVSADM" -C
  rm -f /var/run/ldirectord.*.pid "$W/ka.pid" "$W/ka-check.pid"
  CUR_IMPL="" STARTER=""
}

# --- 1. start-up programming ---------------------------------------------------
bench_startup() {
  local impl n run runs cap t skip pids
  for impl in $IMPLS; do
    skip=""
    cap=$START_CAP; [ "$impl" = perl ] && cap=$START_CAP_PERL
    for n in $SIZES; do
      runs=$RUNS; [ "$impl" = perl ] && runs=$RUNS_PERL
      for run in $(seq 1 "$runs"); do
        if [ -n "$skip" ]; then rec "$impl" startup "$n" "$run" skipped "$skip"; continue; fi
        start_impl "$impl" "$(cfg_of "$impl" "start-$n")"
        if t=$(wait_until "$cap" count_is $((n * 10))); then
          rec "$impl" startup "$n" "$run" seconds "$t"
          sleep 5   # then the memory of holding (and checking) N x 10 reals
          mapfile -t pids < <(impl_pids)
          rec "$impl" startup "$n" "$run" peak_rss_mb \
            "$(awk -v k="$(hwm_kb "${pids[@]}")" 'BEGIN { printf "%.1f", k / 1024 }')"
        else
          rec "$impl" startup "$n" "$run" timeout "$cap"
          rec "$impl" startup "$n" "$run" dests_at_timeout "$(ndests)"
          skip="after a timeout at N=$n"
        fi
        stop_impl
      done
    done
  done
}

# --- 1b. start-up with no check in the way -------------------------------------
# checktype=on (ours) and keepalived real servers without a checker: every
# real is up from the start, so this measures how fast each director gets
# its configuration into the kernel. One fresh start per run; ours and
# keepalived alternate within a run, so the host's load falls on both alike.
# From the launch (T0): the first real in the table (polled every 0.05 s),
# the table complete (the last virtual's 10 reals, then the full count,
# every 0.1 s); CPU = utime + stime of the director's processes when the
# table is complete and again ON_SETTLE s later (start-up's whole cost:
# ours writes its log lines after the table is in). Ours counts the command
# that parsed the file and forked the daemon (exited by then: bash's
# `times` in a subshell) beside the daemon. Logs go to the guest's RAM for
# both; ours also writes its timeline (LDIRECTORD_TIMELINE, copied to
# RESULTS_DIR/logs).
RAM=/tmp/ldbench-ram
mkdir -p "$RAM"
ON_VIP=198.51.100.100
start_on() { # IMPL CFG TIMELINE
  CUR_IMPL=$1 CUR_CFG=$2
  rm -f /var/run/ldirectord.*.pid "$RAM/parent.times"
  T0=$(now)
  case $1 in
    rs) ( LDIRECTORD_TIMELINE=$3 "$LD" "$2" start >> "$RAM/rs-start.out" 2>&1
          times > "$RAM/parent.times" ) & ;;
    ka) keepalived --check --dont-fork --log-console --log-detail -f "$2" \
          -p "$W/ka.pid" -c "$W/ka-check.pid" >> "$RAM/ka-on.log" 2>&1 & ;;
  esac
  STARTER=$!
}
first_real() { grep -q -m1 '^  ->' /proc/net/ip_vs; }
last_virtual_full() { # N
  [ "$("$IPVSADM" -Ln -t "$ON_VIP:$((10000 + $1 - 1))" 2>/dev/null | grep -c '^  -> [0-9]')" -ge 10 ]
}
on_complete() { last_virtual_full "$1" && count_is $(($1 * 10)); }
poll_until() { # CAP STEP CMD...: like wait_until, polling every STEP s
  local cap=$1 step=$2; shift 2
  while :; do
    if "$@"; then since "$T0"; return 0; fi
    awk -v a="$T0" -v b="$EPOCHREALTIME" -v c="$cap" 'BEGIN { exit !(b - a > c) }' && return 1
    sleep "$step"
  done
}
on_cpu() { # seconds of CPU of the director now (ours: with its exited parent)
  local pids hz parent=0
  hz=$(getconf CLK_TCK)
  mapfile -t pids < <(impl_pids)
  if [ "$CUR_IMPL" = rs ]; then
    # `times`, second line: the children's user and system time, 0m1.234s
    parent=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }; print s }' "$RAM/parent.times" 2>/dev/null)
  fi
  awk -v t="$(cpu_ticks "${pids[@]}")" -v h="$hz" -v p="${parent:-0}" 'BEGIN { printf "%.2f", t / h + p }'
}
bench_startup_on() {
  local impl n run t cfg tl
  for n in $ON_SIZES; do
    for run in $(seq 1 "$RUNS"); do
      for impl in $IMPLS; do
        case $impl in rs) cfg=$GEN/rs-on-$n.cf ;; ka) cfg=$GEN/ka-on-$n.conf ;; *) continue ;; esac
        tl=$RAM/rs-timeline-$n-$run.txt; rm -f "$tl"
        start_on "$impl" "$cfg" "$tl"
        if t=$(poll_until "$ON_CAP" 0.05 first_real); then
          rec "$impl" startup_on "$n" "$run" first_real_seconds "$t"
        else
          rec "$impl" startup_on "$n" "$run" first_real_timeout "$ON_CAP"
        fi
        if t=$(poll_until "$ON_CAP" 0.1 on_complete "$n"); then
          rec "$impl" startup_on "$n" "$run" seconds "$t"
          # ours: the command has exited once the daemon said it started
          local i=0
          while [ "$impl" = rs ] && [ ! -s "$RAM/parent.times" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
          rec "$impl" startup_on "$n" "$run" cpu_seconds "$(on_cpu)"
          sleep "$ON_SETTLE"
          rec "$impl" startup_on "$n" "$run" cpu_seconds_settled "$(on_cpu)"
        else
          rec "$impl" startup_on "$n" "$run" timeout "$ON_CAP"
          rec "$impl" startup_on "$n" "$run" dests_at_timeout "$(ndests)"
        fi
        if [ "$impl" = rs ]; then
          [ -f "$RAM/parent.times" ] && rec rs startup_on "$n" "$run" parent_cpu_seconds \
            "$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }; print s }' "$RAM/parent.times")"
          [ -f "$tl" ] && cp "$tl" "$RES/logs/"
        fi
        stop_impl
        sleep 1
      done
    done
  done
  tail -n 50 "$RAM/ka-on.log" > "$RES/logs/ka-on.log.tail" 2>/dev/null
  tail -n 20 "$RAM/rs-start.out" > "$RES/logs/rs-on-start.out" 2>/dev/null
  return 0
}

# --- 2. detection under head-of-line blocking ----------------------------------
bench_detect() {
  local impl samples i victim hex t
  mapfile -t victims < "$GEN/victims.txt"
  for impl in $IMPLS; do
    samples=$DETECT_SAMPLES; [ "$impl" = perl ] && samples=$DETECT_SAMPLES_PERL
    start_impl "$impl" "$(cfg_of "$impl" detect)"
    if t=$(wait_until "$WARM_CAP" count_is 180); then   # 200 - 20 hung
      rec "$impl" detect 200 0 warm_seconds "$t"
    else
      rec "$impl" detect 200 0 warm_timeout "$(ndests)"
    fi
    sleep 2
    for i in $(seq 1 "$samples"); do
      victim=${victims[i-1]}
      hex=$(hexof "${victim% *}" "${victim#* }")
      if ! has_real "$hex"; then rec "$impl" detect 200 "$i" victim_absent "$victim"; continue; fi
      # a random phase against the check cycle
      sleep "0.$((RANDOM % 10))"
      T0=$(now)
      kill "${HTTPD[${victim#* }]}"
      if t=$(wait_until "$DETECT_CAP" eval "! has_real $hex"); then
        rec "$impl" detect 200 "$i" seconds "$t"
      else
        rec "$impl" detect 200 "$i" timeout "$DETECT_CAP"
      fi
    done
    stop_impl
    for i in 9002 9003 9004 9005 9006; do
      kill "${HTTPD[$i]}" 2>/dev/null; wait "${HTTPD[$i]}" 2>/dev/null; start_httpd "$i"
    done
    sleep 1
  done
}

# --- 3. reload of one changed real ---------------------------------------------
OPS_RE='Added (virtual|real|fallback) server|Changed (virtual|fallback) server|Purged (virtual|real) server|Restored real server|Quiescent real server|Deleted (real|fallback) server'
KA_RE='Removing service|Adding service|Enabling service|Disabling service|Adding VS|Removing VS|Updating|Removing Virtual|Adding Virtual'
client_loop() { # STOPFILE RESULTFILE: at most 150 requests, until STOPFILE exists
  local n=0 fails=0
  while [ ! -e "$1" ] && [ "$n" -lt 150 ]; do
    ns_exec client curl -s -o /dev/null --fail --max-time 2 --noproxy '*' \
      http://198.51.100.100:10000/ || fails=$((fails + 1))
    n=$((n + 1)); sleep 0.1
  done
  echo "$n $fails" > "$2"
}
bench_reload() {
  local impl n cap oa op na np cfg rep oldhex newhex t mark logf pid res fails
  for impl in $IMPLS; do
    n=$RELOAD_N; [ "$impl" = perl ] && n=$RELOAD_N_PERL
    read -r oa op na np < "$GEN/reload-$n.txt"  # the old real, the new real
    oldhex=$(hexof "$oa" "$op"); newhex=$(hexof "$na" "$np")
    cfg=$W/$impl-reload-$n.cf; [ "$impl" = ka ] && cfg=$W/ka-reload-$n.conf
    cp "$(cfg_of "$impl" "reloadA-$n")" "$cfg"
    case $impl in
      rs) logf=$W/rs-reload-$n.log ;; perl) logf=$W/ipvsadm-calls.log; shim_on ;; ka) logf=$W/ka.log ;;
    esac
    : > "$W/ipvsadm-calls.log"
    start_impl "$impl" "$cfg"
    cap=$WARM_CAP; [ "$impl" = perl ] && cap=$WARM_CAP_PERL
    if t=$(wait_until "$cap" count_is $((n * 10))); then
      rec "$impl" reload "$n" 0 warm_seconds "$t"
    else
      # measure anyway: what matters is the changed real
      rec "$impl" reload "$n" 0 warm_timeout "$(ndests)"
    fi
    sleep 3
    for rep in 1 2 3; do
      rm -f "$W/client.stop"
      client_loop "$W/client.stop" "$W/client.res" &
      local client=$!
      sleep 2
      mark=$(wc -l < "$logf")
      if [ $((rep % 2)) = 1 ]; then cp "$(cfg_of "$impl" "reloadB-$n")" "$cfg"; else cp "$(cfg_of "$impl" "reloadA-$n")" "$cfg"; fi
      pid=$(main_pid)
      T0=$(now)
      kill -HUP "$pid"
      if [ $((rep % 2)) = 1 ]; then
        t=$(wait_until "$RELOAD_CAP" eval "has_real $newhex && ! has_real $oldhex") || t="timeout>$RELOAD_CAP"
      else
        t=$(wait_until "$RELOAD_CAP" eval "has_real $oldhex && ! has_real $newhex") || t="timeout>$RELOAD_CAP"
      fi
      sleep 2
      touch "$W/client.stop"; wait "$client"
      rec "$impl" reload "$n" "$rep" seconds "$t"
      tail -n +$((mark + 1)) "$logf" > "$RES/logs/reload-$impl-$rep.ops"
      case $impl in
        rs) rec "$impl" reload "$n" "$rep" kernel_ops "$(grep -cE "$OPS_RE" "$RES/logs/reload-$impl-$rep.ops")" ;;
        perl) rec "$impl" reload "$n" "$rep" kernel_ops "$(grep -cvE '(^| )-(L|l|S)( |$)|--list|--save' "$RES/logs/reload-$impl-$rep.ops")"
              rec "$impl" reload "$n" "$rep" ipvsadm_calls "$(wc -l < "$RES/logs/reload-$impl-$rep.ops")" ;;
        ka) rec "$impl" reload "$n" "$rep" kernel_ops "$(grep -cE "$KA_RE" "$RES/logs/reload-$impl-$rep.ops")" ;;
      esac
      read -r res fails < "$W/client.res"
      rec "$impl" reload "$n" "$rep" client_requests "$res"
      rec "$impl" reload "$n" "$rep" failed_requests "$fails"
      # let a slow director finish its cycle before the next reload
      sleep 3
    done
    stop_impl
    [ "$impl" = perl ] && shim_off
  done
}

# --- diagnostics: ldirectord-rs in the foreground with -d for 40 s ------------
bench_debug() { # BENCH_DEBUG_CFGS: files (default: the N=10 start-up config)
  local cfg t i=0
  for cfg in ${BENCH_DEBUG_CFGS:-$(cfg_of rs start-10)}; do
    i=$((i + 1)); T0=$(now)
    timeout 40 "$LD" -d "$cfg" start > "$W/rs-debug-$i.err" 2>&1 &
    local dbg=$!
    if t=$(wait_until 40 count_is 100); then note "debug $cfg: 100 dests after $t s"; else note "debug $cfg: $(ndests) dests after 40 s"; fi
    kill "$dbg" 2>/dev/null; wait "$dbg"
    "$IPVSADM" -C
  done
}

# --- 4. check capacity --------------------------------------------------------
cpu_ticks() { # PIDS...: utime+stime+cutime+cstime, summed
  local p s=0 v
  for p in "$@"; do
    v=$(awk '{ sub(/.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || continue
    s=$((s + ${v:-0}))
  done
  echo "$s"
}
hwm_kb() { local p s=0 v; for p in "$@"; do v=$(awk '/^VmHWM/ { print $2 }' "/proc/$p/status" 2>/dev/null); s=$((s + ${v:-0})); done; echo "$s"; }
httpd_reqs() { cat "$H"/httpd-80[0-9][0-9].log | grep -c 'response:'; }
bench_capacity() {
  local impl cap t pids c0 c1 r0 r1 hz run runs
  hz=$(getconf CLK_TCK)
  for impl in $IMPLS; do
    cap=$WARM_CAP; [ "$impl" = perl ] && cap=$CAP_WARM_PERL
    runs=$RUNS; [ "$impl" = perl ] && runs=$RUNS_PERL
    for run in $(seq 1 "$runs"); do
      start_impl "$impl" "$(cfg_of "$impl" cap-100)"
      if t=$(wait_until "$cap" count_is 1000); then
        rec "$impl" capacity 1000 "$run" warm_seconds "$t"
      else
        rec "$impl" capacity 1000 "$run" warm_timeout_dests "$(ndests)"
      fi
      mapfile -t pids < <(impl_pids)
      c0=$(cpu_ticks "${pids[@]}"); r0=$(httpd_reqs); T0=$(now)
      sleep "$CAP_WINDOW"
      mapfile -t pids < <(impl_pids)
      c1=$(cpu_ticks "${pids[@]}"); r1=$(httpd_reqs); t=$(since "$T0")
      rec "$impl" capacity 1000 "$run" processes "${#pids[@]}"
      rec "$impl" capacity 1000 "$run" cpu_seconds "$(awk -v a="$c0" -v b="$c1" -v h="$hz" 'BEGIN { printf "%.2f", (b - a) / h }')"
      rec "$impl" capacity 1000 "$run" window_seconds "$t"
      rec "$impl" capacity 1000 "$run" peak_rss_mb "$(awk -v k="$(hwm_kb "${pids[@]}")" 'BEGIN { printf "%.1f", k / 1024 }')"
      rec "$impl" capacity 1000 "$run" checks_per_second "$(awk -v a="$r0" -v b="$r1" -v t="$t" 'BEGIN { printf "%.1f", (b - a) / t }')"
      rec "$impl" capacity 1000 "$run" dests_at_end "$(ndests)"
      stop_impl
    done
  done
}

# --- 5. throughput on one core -------------------------------------------------
# Every real due every second (checkinterval 1): N x 10 reals ask for more
# checks than one emulated core does, so the rate measured is the
# director's ceiling on one core. The director (and what it forks) is
# pinned to vCPU 0; the servers are one single-worker nginx pinned to
# vCPU 1 in place of the busybox httpds (a fork per request would bound the
# rate first). The server's share of its core is recorded beside: near 1.0
# it, not the director, was the limit. The floor (examples/check_floor.rs:
# the same targets, interval, 64 slots and 3 s deadline, on non-blocking
# sockets and epoll, no framework) runs in the same place after the
# directors: the CPU per check of the others is read against it.
nginx_start() {
  local p
  {
    echo "worker_processes 1; worker_rlimit_nofile 65536; pid $H/nginx.pid; user root;"
    echo "events { worker_connections 30000; }"
    echo "http { access_log off; keepalive_timeout 0;"
    echo "  server {"
    for p in "${GEN_PORTS[@]}"; do echo "    listen $p backlog=4096;"; done
    printf '    location / { return 200 "%s"; }\n' 'OK\n'
    echo "  }"
    echo "  server { listen 127.0.0.1:8999; location / { stub_status; } }"
    echo "}"
  } > "$H/nginx.conf"
  ip netns exec reals taskset -c 1 nginx -p "$H/" -e "$H/nginx-error.log" -c "$H/nginx.conf" \
    || { note "nginx did not start"; return 1; }
  ns_wait_http reals http://127.0.0.1:8999/ > /dev/null
}
nginx_pids() { local m; m=$(cat "$H/nginx.pid" 2>/dev/null) || return 0; echo "$m"; pgrep -P "$m" || true; }
nginx_reqs() { ip netns exec reals curl -s --max-time 5 http://127.0.0.1:8999/ | awk 'NR == 3 { print $3 }'; }
NPIDS=()
nginx_up() { # the busybox servers make way for nginx on their ports
  local p
  for p in "${GEN_PORTS[@]}"; do kill "${HTTPD[$p]}" 2>/dev/null; wait "${HTTPD[$p]}" 2>/dev/null; done
  nginx_start || return 1
  mapfile -t NPIDS < <(nginx_pids)
  note "nginx ${NPIDS[*]} on vCPU 1: $(taskset -pc "${NPIDS[-1]}")"
}
nginx_down() {
  local p
  kill "$(cat "$H/nginx.pid")" 2>/dev/null; sleep 1
  for p in "${GEN_PORTS[@]}"; do start_httpd "$p"; done
  sleep 1
}
ctx_switches() { # PIDS...: context switches of all their threads, summed
  cat $(printf '/proc/%s/task/*/status ' "$@") 2>/dev/null |
    awk '/^(voluntary|nonvoluntary)_ctxt_switches/ { s += $2 } END { print s + 0 }'
}
thread_switches() { # PIDS...: "pid/tid comm switches" per thread
  local t
  for t in $(printf '/proc/%s/task/* ' "$@"); do
    [ -r "$t/status" ] || continue
    echo "${t#/proc/} $(cat "$t/comm" 2>/dev/null | tr ' ' _) $(awk '/^(voluntary|nonvoluntary)_ctxt_switches/ { s += $2 } END { print s + 0 }' "$t/status")"
  done
}
warm_impl() { # IMPL BENCH N RUN CAP: wait for a full table (the floor keeps none)
  local t
  if [ "$1" = floor ]; then sleep 5; return; fi
  if t=$(wait_until "$5" count_is $(($3 * 10))); then
    rec "$1" "$2" "$3" "$4" warm_seconds "$t"
  else
    rec "$1" "$2" "$3" "$4" warm_timeout_dests "$(ndests)"
  fi
}
profile_impl() { # IMPL N: profile, system calls per check, a sample of the calls
  local impl=$1 n=$2 pids ppids=() p r0 r1 calls
  command -v perf > /dev/null && command -v strace > /dev/null || { note "no perf or strace: no profile"; return; }
  mapfile -t pids < <(impl_pids)
  for p in "${pids[@]}"; do ppids+=(-p "$p"); done
  note "profile $impl N=$n: perf ${PROFILE_SECONDS}s"
  perf record -q -F 1000 -e cpu-clock -g -o /tmp/perf.data -p "$(IFS=,; echo "${pids[*]}")" \
    -- sleep "$PROFILE_SECONDS" > /dev/null 2>&1
  perf report -i /tmp/perf.data --stdio --no-children -g none --sort sym --percent-limit 0.3 \
    > "$RES/logs/perf-$impl-$n.txt" 2>&1
  perf report -i /tmp/perf.data --stdio --children -g none --sort sym --percent-limit 2 \
    > "$RES/logs/perf-children-$impl-$n.txt" 2>&1
  perf report -i /tmp/perf.data --stdio --no-children -g none --sort comm,dso \
    > "$RES/logs/perf-dso-$impl-$n.txt" 2>&1
  rm -f /tmp/perf.data
  note "profile $impl N=$n: strace -c ${STRACE_SECONDS}s"
  r0=$(nginx_reqs)
  timeout -s INT "$STRACE_SECONDS" strace -c -f "${ppids[@]}" -o "$RES/logs/strace-c-$impl-$n.txt" 2> /dev/null
  r1=$(nginx_reqs)
  calls=$(awk '$NF == "total" { print $4 }' "$RES/logs/strace-c-$impl-$n.txt")
  echo "checks during strace -c: $((r1 - r0))" >> "$RES/logs/strace-c-$impl-$n.txt"
  rec "$impl" throughput "$n" 1 syscalls_per_check \
    "$(awk -v c="${calls:-0}" -v a="$r0" -v b="$r1" 'BEGIN { if (b > a) printf "%.1f", c / (b - a); else print "-" }')"
  timeout -s INT 2 strace -f -tt "${ppids[@]}" -o "$RES/logs/strace-sample-$impl-$n.txt" 2> /dev/null
  sed -i '2001,$d' "$RES/logs/strace-sample-$impl-$n.txt"
}
bench_throughput() {
  local impl impls n run t pids c0 c1 n0 n1 r0 r1 s0 s1 hz
  hz=$(getconf CLK_TCK)
  impls=$IMPLS; [ -x "$FLOOR" ] && impls="$impls floor"
  nginx_up || return
  PIN=(taskset -c 0)
  for n in $THRU_SIZES; do
    for impl in $impls; do
      for run in $(seq 1 "$RUNS"); do
        start_impl "$impl" "$(cfg_of "$impl" "thru-$n")"
        warm_impl "$impl" throughput "$n" "$run" "$THRU_WARM"
        mapfile -t pids < <(impl_pids)
        note "$impl on vCPU 0: $(taskset -pc "${pids[0]}" 2>&1)"
        c0=$(cpu_ticks "${pids[@]}"); n0=$(cpu_ticks "${NPIDS[@]}"); s0=$(ctx_switches "${pids[@]}"); r0=$(nginx_reqs); T0=$(now)
        sleep "$THRU_WINDOW"
        mapfile -t pids < <(impl_pids)
        c1=$(cpu_ticks "${pids[@]}"); n1=$(cpu_ticks "${NPIDS[@]}"); s1=$(ctx_switches "${pids[@]}"); r1=$(nginx_reqs); t=$(since "$T0")
        rec "$impl" throughput "$n" "$run" checks_per_second "$(awk -v a="$r0" -v b="$r1" -v t="$t" 'BEGIN { printf "%.1f", (b - a) / t }')"
        rec "$impl" throughput "$n" "$run" director_core_share "$(awk -v a="$c0" -v b="$c1" -v h="$hz" -v t="$t" 'BEGIN { printf "%.2f", (b - a) / h / t }')"
        rec "$impl" throughput "$n" "$run" cpu_ms_per_check "$(awk -v a="$c0" -v b="$c1" -v h="$hz" -v x="$r0" -v y="$r1" 'BEGIN { if (y > x) printf "%.3f", (b - a) / h * 1000 / (y - x); else print "-" }')"
        rec "$impl" throughput "$n" "$run" switches_per_check "$(awk -v a="$s0" -v b="$s1" -v x="$r0" -v y="$r1" 'BEGIN { if (y > x) printf "%.3f", (b - a) / (y - x); else print "-" }')"
        rec "$impl" throughput "$n" "$run" server_core_share "$(awk -v a="$n0" -v b="$n1" -v h="$hz" -v t="$t" 'BEGIN { printf "%.2f", (b - a) / h / t }')"
        [ "$impl" = floor ] || rec "$impl" throughput "$n" "$run" dests_at_end "$(ndests)"
        [ "$PROFILE" = 1 ] && [ "$run" = 1 ] && profile_impl "$impl" "$n"
        stop_impl
      done
    done
  done
  PIN=()
  nginx_down
}

# --- 6. idle cost --------------------------------------------------------------
# IDLE_SIZE x 10 reals at checkinterval=10 (100 checks a second at 1,000
# reals), the director pinned to vCPU 0, nginx on vCPU 1 as above: its
# share of a core and how often its threads wake (context switches of all
# its threads, from /proc/PID/task/*/status), over IDLE_WINDOW seconds
# once the table is full and a whole interval has passed. Per thread in
# RESULTS_DIR/logs/idle-IMPL-RUN.threads.
bench_idle() {
  local impl impls n=$IDLE_SIZE run pids c0 c1 s0 s1 r0 r1 t hz
  hz=$(getconf CLK_TCK)
  impls=$IMPLS; [ -x "$FLOOR" ] && impls="$impls floor"
  nginx_up || return
  PIN=(taskset -c 0)
  for impl in $impls; do
    for run in $(seq 1 "$RUNS"); do
      FLOOR_INTERVAL=10 start_impl "$impl" "$(cfg_of "$impl" "idle-$n")"
      warm_impl "$impl" idle "$n" "$run" "$WARM_CAP"
      sleep 12
      mapfile -t pids < <(impl_pids)
      thread_switches "${pids[@]}" | sort > "$W/threads.0"
      c0=$(cpu_ticks "${pids[@]}"); s0=$(ctx_switches "${pids[@]}"); r0=$(nginx_reqs); T0=$(now)
      sleep "$IDLE_WINDOW"
      mapfile -t pids < <(impl_pids)
      c1=$(cpu_ticks "${pids[@]}"); s1=$(ctx_switches "${pids[@]}"); r1=$(nginx_reqs); t=$(since "$T0")
      thread_switches "${pids[@]}" | sort | join - "$W/threads.0" |
        awk -v t="$t" '{ printf "%s %s %.1f wake-ups/s\n", $1, $2, ($3 - $5) / t }' > "$RES/logs/idle-$impl-$run.threads"
      rec "$impl" idle "$n" "$run" core_percent "$(awk -v a="$c0" -v b="$c1" -v h="$hz" -v t="$t" 'BEGIN { printf "%.2f", (b - a) / h / t * 100 }')"
      rec "$impl" idle "$n" "$run" wakeups_per_second "$(awk -v a="$s0" -v b="$s1" -v t="$t" 'BEGIN { printf "%.1f", (b - a) / t }')"
      rec "$impl" idle "$n" "$run" checks_per_second "$(awk -v a="$r0" -v b="$r1" -v t="$t" 'BEGIN { printf "%.1f", (b - a) / t }')"
      stop_impl
    done
  done
  PIN=()
  nginx_down
}

# The fast directors first, then the Perl one, so that a run cut short by
# the time limit still has the complete comparison of the first two.
ALL_IMPLS=$IMPLS
for group in "rs ka" perl; do
  IMPLS=""
  for i in $group; do case " $ALL_IMPLS " in *" $i "*) IMPLS="$IMPLS $i" ;; esac; done
  [ -n "$IMPLS" ] || continue
  benches=$BENCHES; [ "$group" = perl ] && benches=$PERL_BENCHES
  for b in $benches; do
    note "bench $b:$IMPLS"
    "bench_$b"
  done
done
note "done"
