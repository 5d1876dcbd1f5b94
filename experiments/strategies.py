"""Assistance strategies at an equal proxy budget, 500 runs each, NB201 protocol.

Best-of-K (the GradSign paper's rule) asks K proxy scores per evaluation. A zero-cost warm-up
(``warmup=M``) scores M uniform samples first: RS then evaluates them best-scored first, REA starts
from the best ``population_size`` of them and mutates with best-of-K' after that. Each strategy here
asks at most about as many scores per run as best-of-10 does (the ``scores`` column: the mean per
run, repeats included). p: one-sided Mann-Whitney U of the strategy > best-of-10, per data set.

Usage:
    .venv/bin/python experiments/strategies.py [--runs 500] [--charge-proxy-time] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

STRATEGIES = [  # (label, algorithm, variant, k, options)
    ("RS, vanilla", "rs", "vanilla", 10, {}),
    ("RS, best of 10", "rs", "assisted", 10, {}),
    ("RS, warm-up: the best of 800 random first", "rs", "assisted", 10, {"warmup": 800}),
    ("REA, vanilla", "rea", "vanilla", 10, {}),
    ("REA, best of 10 mutations (G-REA)", "rea", "assisted", 10, {}),
    ("REA, warm-up 300 + best of 5 mutations", "rea", "assisted", 5, {"warmup": 300}),
    ("REA, warm-up 500 + best of 2 mutations", "rea", "assisted", 2, {"warmup": 500}),
]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"), help="data directory (default: $GRADSIGN_NAS_DATA)")
    p.add_argument("--runs", type=int, default=500, help="runs per strategy (default 500)")
    p.add_argument("--charge-proxy-time", action="store_true", help="charge the table's GPU scoring seconds")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: all cores)")
    p.add_argument("--out", default="experiments/results/strategies", help="output folder")
    args = p.parse_args(argv)
    import numpy as np
    from scipy.stats import mannwhitneyu

    from gradsign_nas.assist import TableScorer
    from gradsign_nas.benchmarks.nb201 import DATASETS
    from gradsign_nas.benchmarks.nb201_evaluator import NB201TabularEvaluator
    from gradsign_nas.execution.fanout import Context, make_specs, run_all

    ev = NB201TabularEvaluator.from_directory(args.data_dir)
    scorer = TableScorer.nb201("cifar10")
    ceiling = ev.ceiling(12)
    t0, results, base = time.perf_counter(), [], {}
    print(f"| strategy | {' | '.join(DATASETS)} | found 13714 | scores per run | p vs best of 10 |")
    for label, algo, variant, k, opts in STRATEGIES:
        ctx = Context(ev, budget_s=12000, fidelities=(12,), scorer=scorer, k=k, options={algo: opts},
                      charge_proxy_time=args.charge_proxy_time)
        rows = run_all(make_specs([algo], [variant], args.runs, 0), ctx, workers=args.workers, progress=False)
        acc = {d: np.asarray([r[d] for r in rows]) for d in DATASETS}
        if "best of 10" in label:
            base[algo] = acc
        ps = {d: (float(mannwhitneyu(acc[d], base[algo][d], alternative="greater").pvalue)
                  if algo in base and "best of 10" not in label and variant == "assisted" else None) for d in DATASETS}
        cell = {"label": label, "mean": {d: float(acc[d].mean()) for d in DATASETS},
                "std": {d: float(acc[d].std(ddof=1)) for d in DATASETS},
                "found": float(np.mean([r["best_index"] == ceiling["index"] for r in rows])),
                "scores": float(np.mean([r["proxy_scores"] for r in rows])), "p": ps}
        results.append(cell)
        print(f"| {label} | " + " | ".join(f"{cell['mean'][d]:.2f} +- {cell['std'][d]:.2f}" for d in DATASETS)
              + f" | {100 * cell['found']:.1f} % | {cell['scores']:.0f} | "
              + " / ".join("-" if ps[d] is None else f"{ps[d]:.1e}" for d in DATASETS) + " |", flush=True)
    print(f"({len(STRATEGIES)} x {args.runs} runs in {time.perf_counter() - t0:.1f} s"
          + (", proxy time charged" if args.charge_proxy_time else "") + ")")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    name = "strategies_charged.json" if args.charge_proxy_time else "strategies.json"
    (Path(args.out) / name).write_text(json.dumps({"ceiling": ceiling, "strategies": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
