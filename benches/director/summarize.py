#!/usr/bin/env python3
"""benches/director/summarize.py RESULTS_DIR - min / median / max per
implementation, benchmark, size and metric from RESULTS_DIR/results.tsv,
as a markdown table (plus ratios of the peers to ldirectord-rs, and of
ldirectord-rs and keepalived to the floor, examples/check_floor.rs, where
it ran)."""
import statistics
import sys
from collections import defaultdict

NAMES = {"rs": "ldirectord-rs", "perl": "ldirectord (Perl)", "ka": "keepalived", "floor": "floor (check_floor)"}
ORDER = ["rs", "ka", "perl", "floor"]


def median_of(vals):
    try:
        return statistics.median(float(x) for x in vals)
    except ValueError:
        return None


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
    print("| benchmark | size | metric | implementation | median (min–max, n) | peer / ldirectord-rs (median) | / floor |")
    print("|---|---|---|---|---|---|---|")
    rank = lambda impl: ORDER.index(impl) if impl in ORDER else len(ORDER)
    for key in sorted(order, key=lambda k: (k[0], int(k[1]), k[2], rank(k[3]), k[3])):
        bench, size, metric, impl = key
        ratio = ""
        here = median_of(rows[key])
        ours = median_of(rows.get((bench, size, metric, "rs"), []))
        if impl != "rs" and here is not None and ours:
            ratio = f"{here / ours:.1f}×"
        to_floor = ""
        floor = median_of(rows.get((bench, size, metric, "floor"), []))
        if impl in ("rs", "ka") and here is not None and floor:
            to_floor = f"{here / floor:.2f}×"
        print(f"| {bench} | {size} | {metric} | {NAMES.get(impl, impl)} | {fmt(rows[key])} | {ratio} | {to_floor} |")


if __name__ == "__main__":
    main()
