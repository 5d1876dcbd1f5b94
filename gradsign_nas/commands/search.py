"""Run one architecture search and print the best network found.

With no data options, the embedded live search: a vanilla and a GradSign-assisted regularized
evolution on the NB201 cell space sized for scikit-learn's bundled 8x8 digits, every trial a real
training run under Ray Tune (``--data cifar10|FOLDER|FILE.npz`` for other data, ``--no-ray`` for
trials one after another).

Tabular (``--space nb201`` or ``--data-dir``): one search on NAS-Bench-201's tables under the
NAS-Bench-201 protocol (cifar10-valid reward, simulated budget, the overrunning evaluation
discarded), vanilla or GradSign-assisted. With ``--out`` every evaluation is appended to
``history.jsonl`` and the best network to ``best.json``; running the same command again on the same
``--out`` resumes (recorded results are replayed, not re-evaluated) and reaches the same result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

SCORE_SOURCES = ("table", "on-demand")
NB201_FIDELITIES = (12, 200)


# -- options shared with `compare` ---------------------------------------------------------------
def add_tabular_arguments(p: argparse.ArgumentParser) -> None:
    """Options of a tabular search (shared by ``search`` and ``compare``)."""
    p.add_argument("--space", default=None, help="search space of a tabular search: nb201")
    p.add_argument("--data-dir", default=None, help="directory of the NB201 data files (default: $GRADSIGN_NAS_DATA)")
    p.add_argument("--budget", type=float, default=12000.0, help="search budget in simulated seconds (default 12000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--k", type=int, default=10, help="candidates per assisted proposal (default 10)")
    p.add_argument("--fidelities", default="12",
                   help="training epochs the search may use: 12 (NB201 protocol) or 12,200 (default 12)")
    p.add_argument("--charge-proxy-time", action="store_true",
                   help="charge the measured proxy-scoring time to the search budget (the paper did not)")
    p.add_argument("--scores", default="table", choices=SCORE_SOURCES,
                   help="proxy scores: the packaged GradSign table, or computed on demand (slow on CPU)")
    p.add_argument("--score-table", default=None, metavar="PATH",
                   help="your own score table: JSON {arch string: score} or an npz like the packaged one")
    p.add_argument("--score-dataset", default="cifar10", choices=("cifar10", "cifar100"),
                   help="images the GradSign scores are computed on (default cifar10)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line last")


def check_common(args: argparse.Namespace) -> tuple:
    """Validate the shared options; returns the fidelities tuple. Raises ``ValueError``."""
    if args.space not in (None, "nb201"):
        raise ValueError(f"expected --space nb201 (the tabular space available), but got {args.space!r}")
    if not args.budget > 0 or args.budget != args.budget or args.budget == float("inf"):
        raise ValueError(f"expected --budget to be a positive number of seconds, but got {args.budget:g}")
    if args.k < 1:
        raise ValueError(f"expected --k (candidates per assisted proposal) >= 1, but got {args.k}")
    if args.seed < 0:
        raise ValueError(f"expected --seed to be a non-negative integer, but got {args.seed}")
    return parse_fidelities(args.fidelities)


def parse_fidelities(text: str) -> tuple:
    try:
        fids = tuple(sorted({int(x) for x in str(text).split(",") if x.strip()}))
    except ValueError:
        fids = ()
    if not fids or any(f not in NB201_FIDELITIES for f in fids):
        raise ValueError(f"expected --fidelities 12 or 12,200 (NB201 epochs), but got {text!r}")
    return fids


def check_algorithms(names) -> list:
    from gradsign_nas import algorithms

    valid = algorithms.available()
    out = []
    for n in names:
        if n not in valid:
            raise ValueError(f"expected an algorithm among {', '.join(valid)}, but got {n!r}")
        if n not in out:
            out.append(n)
    if not out:
        raise ValueError(f"expected at least one algorithm among {', '.join(valid)}, but got none")
    return out


def load_evaluator(args: argparse.Namespace):
    """The NB201 tabular evaluator from ``--data-dir`` (a clear ``DataError`` if a file is missing)."""
    from gradsign_nas.benchmarks.nb201_evaluator import NB201TabularEvaluator

    return NB201TabularEvaluator.from_directory(args.data_dir)


def load_scorer(args: argparse.Namespace, space) -> Any:
    """The proxy scorer the options ask for, loaded (and checked) before anything is written."""
    from gradsign_nas.assist import OnDemandScorer, TableScorer

    if args.score_table is not None:
        return _user_table(args.score_table, args.score_dataset, space)
    if args.scores == "on-demand":
        from gradsign_nas.benchmarks import locate

        locate(f"{args.score_dataset}_images", args.data_dir)  # a missing image file fails now, not mid-search
        return OnDemandScorer(space, "gradsign", args.score_dataset, batch_size=64, seed=0, directory=args.data_dir)
    try:
        return TableScorer.nb201(args.score_dataset)
    except ValueError as e:
        raise ValueError(f"missing score table: {e}") from None


def _user_table(path: str, dataset: str, space):
    from gradsign_nas.assist import TableScorer

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"missing score table: expected a file at {path}, but there is none")
    if p.suffix == ".npz":
        scorer = TableScorer.from_file(p, dataset, space=space)
    else:
        try:
            data = json.loads(p.read_text())
        except ValueError as e:
            raise ValueError(f"expected a JSON object {{arch string: score}} in {path}, but it does not parse ({e})") from None
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object {{arch string: score}} in {path}, but got a {type(data).__name__}")
        for key in data:
            try:
                space.parse(key)
            except ValueError:
                raise ValueError(f"expected {space.name} architecture strings in {path}, but got {key!r}") from None
        scorer = TableScorer(data)
    missing = sum(1 for a in space.all() if a not in scorer)
    if missing:
        raise ValueError(f"expected a score for every {space.name} architecture in {path}, but {missing} are missing")
    return scorer


# -- the command ---------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algorithm", default="rea", help="rs, rea, reinforce or bohb (default rea)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--assisted", dest="assisted", action="store_true", default=True,
                   help="GradSign-assisted: evaluate the best-scored of K candidates (default)")
    g.add_argument("--vanilla", dest="assisted", action="store_false", help="the algorithm without assistance")
    add_tabular_arguments(p)
    p.add_argument("--workers", type=int, default=1,
                   help="parallel workers: simulated ones, or concurrent Ray Tune trials with --executor ray")
    p.add_argument("--executor", default="simulated", choices=("simulated", "ray"),
                   help="simulated clock in this process (default), or one Ray Tune trial per evaluation")
    p.add_argument("--address", default=None, help="existing Ray cluster for --executor ray (default: a local Ray)")
    p.add_argument("--out", default=None, help="run directory: history.jsonl, best.json (resumes when it exists)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    from .live_search import add_live_arguments

    add_live_arguments(p, include_common=False)


def run_live(args: argparse.Namespace) -> int:
    """The live search that trains networks (``gradsign_nas.commands.live_search``)."""
    from .live_search import run_live as live

    return live(args)


def is_tabular(args: argparse.Namespace) -> bool:
    """Tabular NB201 unless live data is named (--data) or another space is asked for; with no data
    options at all, the embedded live digits search runs."""
    return args.data is None and (args.space == "nb201" or (args.space is None and args.data_dir is not None))


def run(args: argparse.Namespace) -> int:
    if not is_tabular(args):
        return run_live(args)
    return run_tabular(args)


def run_info(args: argparse.Namespace, fidelities: tuple, scorer: Any) -> dict:
    """The settings that define a tabular run (stored in run.json; a resume must repeat them)."""
    info = {"space": "nb201", "algorithm": args.algorithm, "variant": "assisted" if args.assisted else "vanilla",
            "seed": args.seed, "budget_s": float(args.budget), "workers": args.workers, "fidelities": list(fidelities),
            "charge_proxy_time": bool(args.charge_proxy_time), "executor": args.executor}
    if args.assisted:
        info.update(k=args.k, scores=args.score_table or args.scores, score_dataset=args.score_dataset)
    return info


def run_tabular(args: argparse.Namespace) -> int:
    # 1. validate everything and load the data: nothing is written before this succeeds
    fidelities = check_common(args)
    check_algorithms([args.algorithm])
    if args.workers < 1:
        raise ValueError(f"expected --workers >= 1, but got {args.workers}")
    if args.address and args.executor != "ray":
        raise ValueError(f"expected --executor ray with --address, but got --executor {args.executor}")
    evaluator = load_evaluator(args)
    scorer = load_scorer(args, evaluator.space) if args.assisted else None
    from gradsign_nas import algorithms
    from gradsign_nas.assist import Assistant
    from gradsign_nas.execution import RayTuneExecutor, SimulatedExecutor
    from gradsign_nas.results import History

    assistant = Assistant(scorer, k=args.k) if scorer is not None else None
    alg = algorithms.get(args.algorithm, evaluator.space, args.seed, assistant=assistant, fidelities=fidelities)
    history = None
    if args.out is not None:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"expected --out to be a directory, but {out} is a file")
        history = History(out, run_info(args, fidelities, scorer))  # checks a resumed run's settings first
    # 2. search
    try:
        if args.executor == "ray":
            ex = RayTuneExecutor(alg, evaluator, args.budget, args.workers, args.charge_proxy_time, history,
                                 address=args.address)
        else:
            ex = SimulatedExecutor(alg, evaluator, args.budget, args.workers, args.charge_proxy_time, history)
        resumed = len(history.replay()) if history is not None else 0
        result = ex.run()
    finally:
        if history is not None:
            history.close()
    # 3. report
    summary = {"algorithm": args.algorithm, "variant": "assisted" if args.assisted else "vanilla", "seed": args.seed,
               "budget": float(args.budget), "best_arch": result.best_arch, "best_index": result.best_index,
               "reward": result.best_metric, "fidelity": result.best_fidelity, "test": result.test,
               "evaluations": result.n_evaluations, "sim_time": result.sim_time, "resumed_records": resumed,
               "stats": result.stats}
    if args.json:
        print(json.dumps(summary, default=float))
        return 0
    print(f"best network ({summary['variant']} {args.algorithm}, seed {args.seed}, "
          f"{result.n_evaluations} evaluations in {result.sim_time:,.0f} of {args.budget:,.0f} simulated s"
          + (f", {resumed} replayed from the history" if resumed else "") + "):")
    if result.best_arch is None:
        print("  none: no evaluation fit in the budget")
        return 0
    print(f"  arch   {result.best_arch}")
    print(f"  index  {result.best_index}")
    print(f"  search reward (cifar10-valid, {result.best_fidelity} epochs)  {result.best_metric:.2f}")
    for d, acc in result.test.items():
        print(f"  {d} test accuracy (200 epochs)  {acc:.2f}")
    if args.out is not None:
        print(f"recorded in {os.path.join(args.out, 'history.jsonl')} and best.json", file=sys.stderr)
    return 0
