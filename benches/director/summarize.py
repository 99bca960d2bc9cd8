#!/usr/bin/env python3
"""benches/director/summarize.py RESULTS_DIR - min / median / max per
implementation, benchmark, size and metric from RESULTS_DIR/results.tsv,
as a markdown table (plus ratios of the peers to ldirectord-rs)."""
import statistics
import sys
from collections import defaultdict

NAMES = {"rs": "ldirectord-rs", "perl": "ldirectord (Perl)", "ka": "keepalived"}


def fmt(vals):
    nums = []
    for v in vals:
        try:
            nums.append(float(v))
        except ValueError:
            return ", ".join(vals)
    if len(nums) == 1:
        return f"{nums[0]:g}"
    return f"{statistics.median(nums):g} ({min(nums):g}–{max(nums):g}, n={len(nums)})"


def main():
    rows = defaultdict(list)
    order = []
    with open(sys.argv[1] + "/results.tsv") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 6:
                continue
            impl, bench, size, run, metric, value = parts
            key = (bench, size, metric, impl)
            if key not in rows:
                order.append(key)
            rows[key].append(value)
    print("| benchmark | size | metric | implementation | median (min–max, n) | peer / ldirectord-rs (median) |")
    print("|---|---|---|---|---|---|")
    for key in sorted(order, key=lambda k: (k[0], int(k[1]), k[2], ["rs", "ka", "perl"].index(k[3]))):
        bench, size, metric, impl = key
        ratio = ""
        ours = rows.get((bench, size, metric, "rs"))
        if impl != "rs" and ours:
            try:
                a = statistics.median(float(x) for x in rows[key])
                b = statistics.median(float(x) for x in ours)
                ratio = f"{a / b:.1f}×" if b else ""
            except ValueError:
                pass
        print(f"| {bench} | {size} | {metric} | {NAMES.get(impl, impl)} | {fmt(rows[key])} | {ratio} |")


if __name__ == "__main__":
    main()
