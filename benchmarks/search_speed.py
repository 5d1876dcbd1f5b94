"""Speed of simulated NB201 searches: one 12,000 s RS / REA run through the library (algorithm +
``SimulatedExecutor`` + ``NB201TabularEvaluator``) next to a plain numpy loop doing the same protocol,
and optionally the wall time of the whole 500-run comparison of all 8 variants.

Usage:
    nice .venv/bin/python benchmarks/search_speed.py [--runs 200] \
        [--compare --compare-runs 500 --workers 2 [--stand-in-scores]]

Prints one table: per search, the median and mean wall milliseconds per run, and the mean CIFAR-10
test accuracy of the best-found network (so both sides demonstrably run the same protocol).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np


def library_run(name, evaluator, seed, budget, assistant=None):
    from gradsign_nas import algorithms
    from gradsign_nas.execution import SimulatedExecutor

    alg = algorithms.get(name, evaluator.space, seed, assistant=assistant, fidelities=(12,))
    return SimulatedExecutor(alg, evaluator, budget).run().test["cifar10"]


class Plain:
    """The same protocol written directly on numpy arrays (the baseline)."""

    def __init__(self, bench):
        from gradsign_nas.search_spaces.nb201 import _order

        self.reward = bench.column("cifar10_valid_12")
        self.cost = bench.column("cost_12") + bench.column("valid_epoch_s")
        self.test = bench.column("cifar10_test")
        self.code, self.index = _order()  # official index <-> base-5 op code
        self.pow = 5 ** np.arange(5, -1, -1)

    def rs(self, seed, budget):
        rng = np.random.default_rng(seed)
        spent, best, best_r = 0.0, -1, -np.inf
        while spent < budget:
            i = int(rng.integers(15625))
            c = self.cost[i]
            if spent + c > budget:
                break
            spent += c
            if self.reward[i] > best_r:
                best, best_r = i, self.reward[i]
        return self.test[best]

    def rea(self, seed, budget, population=10, sample=3):
        rng = np.random.default_rng(seed)
        pop, spent, best, best_r = [], 0.0, -1, -np.inf
        while len(pop) < population:  # the initial population is not budget-checked (NB201)
            i = int(rng.integers(15625))
            spent += self.cost[i]
            pop.append(i)
            if self.reward[i] > best_r:
                best, best_r = i, self.reward[i]
        while spent < budget:
            cand = [pop[int(k)] for k in rng.integers(len(pop), size=sample)]
            parent = max(cand, key=lambda j: self.reward[j])
            code = int(self.code[parent])
            e = int(rng.integers(6))
            old = (code // int(self.pow[e])) % 5
            new = int(rng.integers(4))
            new += new >= old
            i = int(self.index[code + (new - old) * int(self.pow[e])])
            c = self.cost[i]
            if spent + c > budget:
                break
            spent += c
            pop.append(i)
            pop.pop(0)
            if self.reward[i] > best_r:
                best, best_r = i, self.reward[i]
        return self.test[best]


def executor_only_run(evaluator, archs, seed, budget):
    """The executor and evaluator alone: an algorithm that replays fixed proposals (no sampling)."""
    from gradsign_nas.algorithms.base import Algorithm, Proposal
    from gradsign_nas.execution import SimulatedExecutor

    class Fixed(Algorithm):
        def __init__(self):  # no space, no generator: proposals are precomputed
            self.i, self.fidelities = 211 * seed, (12,)

        def ask(self):
            self.i += 1
            return Proposal(archs[self.i % len(archs)], 12, self.i)

        def tell(self, proposal, result):
            pass

    return SimulatedExecutor(Fixed(), evaluator, budget).run().test["cifar10"]


def timed(fn, runs):
    times, accs = [], []
    for s in range(runs):
        t = time.perf_counter()
        accs.append(fn(s))
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times), 1e3 * statistics.fmean(times), float(np.mean(accs))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"), help="data directory (default: $GRADSIGN_NAS_DATA)"
    )
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--budget", type=float, default=12000.0)
    p.add_argument("--compare", action="store_true", help="also time the full comparison (all 8 variants)")
    p.add_argument("--compare-runs", type=int, default=500)
    p.add_argument("--workers", type=int, default=None, help="processes for --compare (default all cores)")
    p.add_argument(
        "--stand-in-scores",
        action="store_true",
        help="time the assisted variants with a stand-in table (the 12-epoch rewards as scores) "
        "when the packaged GradSign table is missing; timing only, not a result",
    )
    args = p.parse_args(argv)

    from gradsign_nas.benchmarks import NB201Benchmark
    from gradsign_nas.benchmarks.nb201_evaluator import NB201TabularEvaluator

    bench = NB201Benchmark(args.data_dir)
    ev = NB201TabularEvaluator(bench)
    plain = Plain(bench)
    print(
        f"{args.runs} runs of {args.budget:,.0f} simulated s each; ms per run (median / mean); "
        f"mean CIFAR-10 test acc of the best found"
    )
    print("| search | median ms | mean ms | C10 test |")
    print("|---|---|---|---|")
    archs = ev.space.all()
    rows = [
        ("executor + evaluator only (fixed proposals)", lambda s: executor_only_run(ev, archs, s, args.budget)),
        ("plain numpy RS", lambda s: plain.rs(s, args.budget)),
        ("library RS", lambda s: library_run("rs", ev, s, args.budget)),
        ("plain numpy REA", lambda s: plain.rea(s, args.budget)),
        ("library REA", lambda s: library_run("rea", ev, s, args.budget)),
    ]
    for name, fn in rows:
        med, mean, acc = timed(fn, args.runs)
        print(f"| {name} | {med:.2f} | {mean:.2f} | {acc:.2f} |", flush=True)
    if args.compare:
        from gradsign_nas.assist import TableScorer
        from gradsign_nas.execution import run_all
        from gradsign_nas.execution.fanout import Context, make_specs

        try:
            scorer = TableScorer.nb201("cifar10")
            variants = ["vanilla", "assisted"]
        except ValueError as e:
            if args.stand_in_scores:
                print("no packaged score table: assisted variants use a stand-in table (timing only)", file=sys.stderr)
                scorer = TableScorer(dict(zip(bench.archs, bench.column("cifar10_valid_12").tolist())))
                variants = ["vanilla", "assisted"]
            else:
                print(f"no packaged score table ({e}); timing the vanilla variants only", file=sys.stderr)
                scorer, variants = None, ["vanilla"]
        specs = make_specs(["rs", "rea", "reinforce", "bohb"], variants, args.compare_runs, 0)
        t = time.perf_counter()
        rows = run_all(specs, Context(ev, budget_s=args.budget, scorer=scorer), workers=args.workers)
        wall = time.perf_counter() - t
        print(f"comparison: {len(rows)} runs ({args.compare_runs} x {len(variants) * 4} variants) in {wall:.1f} s wall")
        per = {}
        for r in rows:
            per.setdefault((r["algorithm"], r["variant"]), []).append(r["wall_s"])
        for (a, v), w in per.items():
            print(f"  {a} {v}: {1e3 * statistics.fmean(w):.1f} ms per run (inside the worker)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
