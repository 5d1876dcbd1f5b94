"""Per-ask/tell overhead of each algorithm, and wall time of one simulated NB201 run.

The NB201 protocol loop in plain Python: search reward cifar10-valid accuracy after 12 epochs, cost
= 12-epoch training time + one validation pass, 12,000 simulated seconds, the overrunning evaluation
discarded. Reported: median wall ms per run, microseconds per ask+tell, and as a sanity check the
mean +- std CIFAR-10 test accuracy (200 epochs) of the best architecture found by search reward.

Assisted variants (K = 10) look scores up in a SYNTHETIC table (not GradSign): the rank of each
architecture's CIFAR-10 test accuracy plus Gaussian noise (sd 0.25 of the rank range, Spearman ~0.76
with test accuracy, about what GradSign reaches). It measures overhead and shows the machinery; the
real GradSign numbers come from the packaged table and the compare command.

Usage: ``nice .venv/bin/python benchmarks/algorithm_overhead.py``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from gradsign_nas import algorithms
from gradsign_nas.algorithms import Result
from gradsign_nas.assist import Assistant, TableScorer
from gradsign_nas.benchmarks import NB201Benchmark


def one_run(alg, reward, cost, index, budget=12000.0):
    """Evaluations made and the index of the best one by reward."""
    used, n, best = 0.0, 0, None
    while True:
        p = alg.ask()
        i = index(p.arch)
        c = cost[i]
        if used + c > budget:
            alg.discard(p)
            return n, best
        used += c
        alg.tell(p, Result(metric=float(reward[i]), cost_s=float(c)))
        if best is None or reward[i] > reward[best]:
            best = i
        n += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"), help="data directory (default: $GRADSIGN_NAS_DATA)"
    )
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    bench = NB201Benchmark(args.data_dir)
    space = bench.space
    reward = bench.column("cifar10_valid_12")
    cost = bench.column("cost_12") + bench.column("valid_epoch_s")
    test = bench.column("cifar10_test")
    from scipy.stats import rankdata, spearmanr

    synthetic = rankdata(test) / len(test) + np.random.default_rng(0).normal(0, 0.25, len(test))
    table = TableScorer(synthetic, space=space)
    print(
        f"NB201 protocol, 12,000 s, {args.runs} runs each; synthetic proxy Spearman {spearmanr(synthetic, test)[0]:.2f}"
    )
    print("| algorithm | variant | evaluations/run | ms/run | us per ask+tell | C10 test of best (%) |")
    print("|---|---|---|---|---|---|")
    for name in algorithms.available():
        for variant in ("vanilla", "assisted"):
            assistant = Assistant(table, k=10) if variant == "assisted" else None
            algorithms.get(name, space, 0, assistant=assistant, fidelities=(12,))  # warm imports
            times, evals, found = [], [], []
            for seed in range(args.runs):
                alg = algorithms.get(name, space, seed, assistant=assistant, fidelities=(12,))
                t = time.perf_counter()
                n, best = one_run(alg, reward, cost, space.index)
                times.append(time.perf_counter() - t)
                evals.append(n)
                found.append(test[best])
            ms = float(np.median(times)) * 1e3
            print(
                f"| {name} | {variant} | {np.mean(evals):.1f} | {ms:.2f} | {ms * 1e3 / np.mean(evals):.0f} "
                f"| {np.mean(found):.2f} +- {np.std(found):.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
