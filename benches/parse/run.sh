#!/usr/bin/env bash
# Parser benchmark: ldirectord-rs vs upstream ldirectord's own Perl parser
# (read_config + ld_setup, run in process by upstream_parse.pl) on the same
# files. Prints a Markdown table: median wall-clock milliseconds per parse.
#
# usage: benches/parse/run.sh            (installs Debian's ldirectord if needed)
#   UPSTREAM_MAX_VIRTUALS=N  skip the Perl parser on files of more than N
#                            virtuals (it is quadratic: 10,000 take minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=benches/parse
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -x /usr/sbin/ldirectord ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ldirectord >/dev/null
fi

files=()
for n in 100 1000 3000 10000; do
    python3 "$here/gen_config.py" "$n" > "$work/generated-$n.cf"
    files+=("$work/generated-$n.cf")
done
corpus=../shared/compat-corpus
if [ -d "$corpus" ]; then
    cp "$corpus/grimli-ScriptUtili-ldirectord.cf" "$work/"
    files+=("$work/grimli-ScriptUtili-ldirectord.cf")
    # The 477-virtual production file uses site-specific service= values
    # that upstream rejects, a log file in a directory that does not exist
    # here, and two duplicate virtuals: make it one both parsers read whole.
    python3 - "$corpus/wjesus374-ldirectord-gprs2.cf" > "$work/wjesus374-ldirectord-gprs2-fixed.cf" <<'PY'
import re, sys
seen = set()
for line in open(sys.argv[1]):
    if line.startswith("logfile"):
        continue
    line = re.sub(r"service *= *[a-z_]+", "service=none", line)
    m = re.match(r"virtual=(\S+):(\d+)", line)
    if m:
        key = (m[1], int(m[2]))
        while key in seen:
            key = (key[0], key[1] + 10000)
        seen.add(key)
        line = f"virtual={key[0]}:{key[1]}\n"
    sys.stdout.write(line)
PY
    files+=("$work/wjesus374-ldirectord-gprs2-fixed.cf")
fi

cargo bench --bench parse_config --no-run -q
ours=$(cargo bench --bench parse_config -q -- -n 51 "${files[@]}")

printf '| file | virtuals | ldirectord-rs (ms) | upstream Perl (ms) | speed-up |\n|---|---|---|---|---|\n'
for f in "${files[@]}"; do
    read -r _ o_min o_med o_max v <<<"$(grep -F "$f" <<<"$ours" | tr '\t' ' ')"
    if [ "$v" -gt "${UPSTREAM_MAX_VIRTUALS:-$v}" ]; then
        printf '| %s | %s | %s (%s–%s) | not run | |\n' "$(basename "$f")" "$v" "$o_med" "$o_min" "$o_max"
        continue
    fi
    # Perl runs: 21 where a run is short (up to 500 virtuals), fewer above.
    iters=21
    [ "$v" -gt 500 ] && iters=5
    case "$f" in *generated-10000*) iters=1 ;; *generated-3000*) iters=3 ;; esac
    read -r p_min p_med p_max pv <<<"$(perl "$here/upstream_parse.pl" "$f" "$iters")"
    [ "$pv" = "$v" ] || echo "warning: upstream read $pv virtuals, ours $v ($f)" >&2
    ratio=$(awk -v a="$p_med" -v b="$o_med" 'BEGIN { printf "%.0f×", a / b }')
    printf '| %s | %s | %s (%s–%s) | %s (%s–%s) | %s |\n' "$(basename "$f")" "$v" \
        "$o_med" "$o_min" "$o_max" "$p_med" "$p_min" "$p_max" "$ratio"
done
