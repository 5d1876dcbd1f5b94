"""Does BOHB's model learn on NAS-Bench-201?  Mean reward of model-proposed vs random configurations.

Runs BOHB on the NB201 tables (reward: cifar10-valid accuracy after the 12-epoch schedule; at the
200-epoch fidelity the 200-epoch validation accuracy), ``--evals`` evaluations per run, ``--seeds``
runs, and prints the mean (over runs) of each run's mean reward of model-proposed and randomly
proposed new configurations. Rows:

- fidelities (12,) with the shipped categorical bandwidth cap (default ``max_bandwidth`` 0.5) and a
  sweep of the cap (1.0 = the uniform kernel: the model cannot learn);
- fidelities (12, 200) (Hyperband, eta 3), per fidelity;
- hpbandster 0.7.4's own ``get_config`` on the same fitted data (``sampler="hpbandster"``: its
  uncapped statsmodels bandwidths), the behaviour we measured as worse than random, and NB201's BOHB
  (the default preset: that sampler with 4 samples and no random fraction).

Usage: ``nice .venv/bin/python benchmarks/bohb_learning.py``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from gradsign_nas import algorithms
from gradsign_nas.algorithms import Result
from gradsign_nas.benchmarks import NB201Benchmark


def run(bench, seed, evals, fidelities=(12,), **opts):
    space = bench.space
    metric = {12: bench.column("cifar10_valid_12"), 200: bench.column("cifar10_valid_200")}
    alg = algorithms.get("bohb", space, seed, fidelities=fidelities, **opts)
    for _ in range(evals):
        p = alg.ask()
        alg.tell(p, Result(metric=float(metric[p.fidelity][space.index(p.arch)])))
    return alg.stats()


def summarise(stats, key=None):
    rows = [s["by_fidelity"].get(key, {}) if key else s for s in stats]
    out = {}
    for src in ("model", "random"):
        vals = [r[f"{src}_mean_reward"] for r in rows if r.get(f"{src}_mean_reward") is not None]
        out[src] = (float(np.mean(vals)) if vals else float("nan"), sum(r.get(f"{src}_count", 0) for r in rows))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"), help="data directory (default: $GRADSIGN_NAS_DATA)"
    )
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args()
    bench = NB201Benchmark(args.data_dir)
    print(f"BOHB on NB201, {args.evals} evaluations x {args.seeds} seeds; reward = cifar10-valid accuracy (%)")
    print("| setting | fidelity | model-proposed mean (n) | random mean (n) | s/run |")
    print("|---|---|---|---|---|")
    ours = {"preset": "ours"}
    configs = [
        ("ours, max_bandwidth 0.5 (its default)", (12,), ours),
        ("ours, max_bandwidth 0.25", (12,), {**ours, "max_bandwidth": 0.25}),
        ("ours, max_bandwidth 0.75", (12,), {**ours, "max_bandwidth": 0.75}),
        ("ours, max_bandwidth 1.0 (uniform kernel)", (12,), {**ours, "max_bandwidth": 1.0}),
        ("ours with hpbandster's get_config, uncapped", (12,), {**ours, "sampler": "hpbandster"}),
        ("NB201's BOHB (the default preset)", (12,), {}),
        ("ours, Hyperband over 12 and 200 epochs", (12, 200), ours),
    ]
    for label, fids, opts in configs:
        t = time.perf_counter()
        stats = [run(bench, seed, args.evals, fids, **opts) for seed in range(args.seeds)]
        per_run = (time.perf_counter() - t) / args.seeds
        for key in [None] if len(fids) == 1 else [str(f) for f in fids]:
            s = summarise(stats, key)
            fid = key or str(fids[0])
            print(
                f"| {label} | {fid} | {s['model'][0]:.2f} ({s['model'][1]}) | {s['random'][0]:.2f} ({s['random'][1]}) "
                f"| {per_run:.3f} |"
            )


if __name__ == "__main__":
    main()
