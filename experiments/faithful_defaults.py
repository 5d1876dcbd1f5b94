"""Each NB201-protocol default next to the alternative it replaced or keeps as an option, 500 runs
per cell, same seeds (the README's "Faithful defaults" table).

- REA mutation: NAS-Bench-201's node-then-edge rule (default) vs one of the six edges uniformly.
- Assisted REA: plain random initial population (GradSign's released G-REA, default) vs an assisted
  initial population (best of K random samples; ours).
- REINFORCE learning rate: 0.001 (scripts-search/algos/REINFORCE.sh) vs 0.5 (the command in
  docs/NAS-Bench-201.md).
- BOHB: NB201's BOHB (default: hpbandster's sampler, 4 samples, no random fraction, budgets 22.2 /
  66.7 / 200 each evaluated at 12 epochs, the best at the largest budget) vs our learning BOHB
  (preset "ours"), with and without repeated proposals.

Usage:
    .venv/bin/python experiments/faithful_defaults.py [--runs 500] [--workers W] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

CASES = [  # (label, algorithm, variant, options)
    ("REA, NB201 mutation (default)", "rea", "vanilla", {}),
    ("REA, uniform edge mutation", "rea", "vanilla", {"mutation": "uniform"}),
    ("G-REA, random initial population (default)", "rea", "assisted", {}),
    ("G-REA, assisted initial population", "rea", "assisted", {"assist_initial": True}),
    (
        "G-REA, uniform mutation + assisted initial (before)",
        "rea",
        "assisted",
        {"mutation": "uniform", "assist_initial": True},
    ),
    ("REINFORCE, lr 0.001 (default)", "reinforce", "vanilla", {}),
    ("REINFORCE, lr 0.5", "reinforce", "vanilla", {"learning_rate": 0.5}),
    ("BOHB, NB201's BOHB (default)", "bohb", "vanilla", {}),
    ("BOHB, ours (preset='ours')", "bohb", "vanilla", {"preset": "ours"}),
    ("BOHB, ours with repeats (dedupe=False)", "bohb", "vanilla", {"preset": "ours", "dedupe": False}),
    ("G-BOHB, NB201's BOHB (default)", "bohb", "assisted", {}),
    ("G-BOHB, ours (preset='ours')", "bohb", "assisted", {"preset": "ours"}),
]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"), help="data directory (default: $GRADSIGN_NAS_DATA)"
    )
    p.add_argument("--runs", type=int, default=500, help="runs per case (default 500)")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: all cores)")
    p.add_argument("--out", default="experiments/results/faithful", help="output folder")
    args = p.parse_args(argv)
    from gradsign_nas import stats
    from gradsign_nas.assist import TableScorer
    from gradsign_nas.benchmarks.nb201 import DATASETS
    from gradsign_nas.benchmarks.nb201_evaluator import NB201TabularEvaluator
    from gradsign_nas.execution.fanout import Context, make_specs, run_all

    ev = NB201TabularEvaluator.from_directory(args.data_dir)
    scorer = TableScorer.nb201("cifar10")
    ceiling = ev.ceiling(12)
    rows_out, t0 = [], time.perf_counter()
    for label, algo, variant, opts in CASES:
        ctx = Context(ev, budget_s=12000, fidelities=(12,), scorer=scorer, k=10, options={algo: opts})
        rows = run_all(make_specs([algo], [variant], args.runs, 0), ctx, workers=args.workers, progress=False)
        cell = {"label": label}
        for d in DATASETS:
            v = stats._values(rows, algo, variant, d)
            cell[d] = (float(v.mean()), float(v.std(ddof=1)))
        cell["found"] = sum(r["best_index"] == ceiling["index"] for r in rows) / len(rows)
        cell["evaluations"] = sum(r["n_evaluations"] for r in rows) / len(rows)
        uniq = [r["stats"].get("unique_new_configs") for r in rows if "unique_new_configs" in (r.get("stats") or {})]
        cell["unique"] = sum(uniq) / len(uniq) if uniq else None
        rows_out.append(cell)
        print(
            f"| {label} | "
            + " | ".join(f"{cell[d][0]:.2f} +- {cell[d][1]:.2f}" for d in DATASETS)
            + f" | {100 * cell['found']:.1f} % | {cell['evaluations']:.1f}"
            + (f" ({cell['unique']:.1f} unique)" if cell["unique"] is not None else "")
            + " |",
            flush=True,
        )
    print(f"({len(CASES)} x {args.runs} runs in {time.perf_counter() - t0:.1f} s)")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "faithful.json").write_text(json.dumps({"ceiling": ceiling, "cases": rows_out}, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
