"""Paired comparison of two ``bench_steer.py`` arms over the seeds both ran: reach (Wilson 95 %),
gained / lost, McNemar exact p (two-sided), and the median energy ratio on seeds both reached,
training energy alone and with the gate restores' energy added (its quartiles, range and sums),
and each arm's wall time and twin time simulated by its plans. Run by hand::

    python benchmarks/steer_paired.py --before d_predictive --after d_predictive_tries3 F.jsonl ...
"""

from __future__ import annotations

import argparse
import json
import statistics
from math import comb

from bench_steer import wilson


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p of ``gained`` / ``lost`` discordant pairs (binomial, p = 1/2)."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(gained, lost) + 1)) / 2**n
    return min(1.0, 2 * tail)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    args = ap.parse_args()
    rows: dict[tuple[str, int], dict] = {}
    for name in args.files:
        with open(name) as f:
            for line in f:
                r = json.loads(line)
                rows[(r["policy"], r["seed"])] = r
    seeds = sorted(s for (p, s) in rows if p == args.before and (args.after, s) in rows)
    b = [rows[(args.before, s)] for s in seeds]
    a = [rows[(args.after, s)] for s in seeds]
    kb, ka, n = sum(r["reached"] for r in b), sum(r["reached"] for r in a), len(seeds)
    gained = [
        s for s, rb, ra in zip(seeds, b, a, strict=True) if ra["reached"] and not rb["reached"]
    ]
    lost = [s for s, rb, ra in zip(seeds, b, a, strict=True) if rb["reached"] and not ra["reached"]]
    lo_b, hi_b = wilson(kb, n)
    lo_a, hi_a = wilson(ka, n)
    print(
        f"seeds {n}: {args.before} {kb}/{n} [{lo_b:.2f}, {hi_b:.2f}]"
        f" -> {args.after} {ka}/{n} [{lo_a:.2f}, {hi_a:.2f}]"
    )
    print(
        f"gained {len(gained)} {gained}, lost {len(lost)} {lost},"
        f" McNemar exact p = {mcnemar_exact(len(gained), len(lost)):.3g}"
    )

    def total(r: dict) -> float:
        return r["energy_j"] + (r.get("gate_restore_j") or 0.0)

    both = [(rb, ra) for rb, ra in zip(b, a, strict=True) if rb["reached"] and ra["reached"]]
    if both:
        same = sum(rb["energy_j"] == ra["energy_j"] for rb, ra in both)
        ratio = statistics.median(ra["energy_j"] / rb["energy_j"] for rb, ra in both)
        ratio_t = statistics.median(total(ra) / total(rb) for rb, ra in both)
        print(
            f"reached both {len(both)} ({same} identical): median energy ratio {ratio:.3g},"
            f" with restores {ratio_t:.3g}"
        )
    if len(both) > 1:
        rs = sorted(ra["energy_j"] / rb["energy_j"] for rb, ra in both)
        q = statistics.quantiles(rs, n=4)
        eb, ea = sum(rb["energy_j"] for rb, _ in both), sum(ra["energy_j"] for _, ra in both)
        print(
            f"  ratio quartiles {q[0]:.3g}, {q[2]:.3g}; range {rs[0]:.3g}-{rs[-1]:.3g};"
            f" sum {eb:.3g} -> {ea:.3g} J"
        )
    for name, rs in ((args.before, b), (args.after, a)):
        wall = [r["wall_s"] for r in rs]
        sim = [r.get("plan_simulated_s") or 0.0 for r in rs]
        print(
            f"  {name}: wall median {statistics.median(wall):.1f} s, sum {sum(wall):.0f} s;"
            f" twin time simulated median {statistics.median(sim):.1f} s, sum {sum(sim):.0f} s"
        )
    for s, ra in zip(seeds, a, strict=True):
        if s in gained:
            print(
                f"  gained {s}: {ra['energy_j']:.3g} J"
                f" + restores {ra.get('gate_restore_j') or 0:.3g} J,"
                f" {ra['time_s']:.2f} s, {ra.get('lowest_switches')} switches"
            )


if __name__ == "__main__":
    main()
