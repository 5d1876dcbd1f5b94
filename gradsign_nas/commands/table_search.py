"""One search on NAS-Bench-201's tables under the NAS-Bench-201 protocol (cifar10-valid reward after
the 12-epoch schedule, a budget of simulated seconds, the overrunning evaluation discarded), vanilla
or GradSign-assisted. Nothing is trained: each evaluation is a table look-up. With --out every
evaluation is appended to history.jsonl and the best network to best.json; running the same command
again on the same --out resumes (recorded results are replayed, not re-evaluated) and reaches the
same result."""

from __future__ import annotations

import argparse
import sys

from gradsign_nas.errors import InputError

from ._options import (
    VARIANTS,
    add_address,
    add_common,
    add_tabular,
    check_out_dir,
    check_tabular,
    load_evaluator,
    load_scorer,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algorithm", default="rea", help="rs, rea, reinforce, bohb or a registered one (default rea)")
    p.add_argument(
        "--variant",
        default="assisted",
        choices=VARIANTS,
        help="assisted: evaluate the best-scored of --k candidates; vanilla: the algorithm alone (default assisted)",
    )
    add_tabular(p)
    p.add_argument(
        "--executor",
        default="simulated",
        choices=("simulated", "ray"),
        help="simulated: the simulated clock in this process (default); ray: one Ray Tune trial per "
        "evaluation, --sim-workers trials at once",
    )
    add_address(p, "run the Ray Tune trials on (with --executor ray)")
    add_common(
        p,
        out_help="run directory: run.json, history.jsonl, best.json (resumes when it exists; "
        "default: nothing is written)",
    )


def run_info(args: argparse.Namespace, fidelities: tuple) -> dict:
    """The settings that define a tabular run (stored in run.json; a resume must repeat them)."""
    from gradsign_nas._meta import data_checksums, environment
    from gradsign_nas.benchmarks.nb201 import _SOURCES as NB201_SOURCES

    info = {
        "command": "table-search",
        "space": args.space,
        "algorithm": args.algorithm,
        "variant": args.variant,
        "seed": args.seed,
        "budget_s": float(args.budget),
        "sim_workers": args.sim_workers,
        "fidelities": list(fidelities),
        "charge_proxy_time": bool(args.charge_proxy_time),
        "executor": args.executor,
        "environment": environment(data_checksums(NB201_SOURCES)),
    }
    if args.variant == "assisted":
        info.update(k=args.k, scores=args.score_table or args.scores, score_dataset=args.score_dataset)
        if args.score_table is None and args.proxy != "gradsign":
            info["proxy"] = args.proxy
    return info


def run(args: argparse.Namespace) -> int:
    from ._options import check_algorithms

    # 1. validate everything and load the data: nothing is written before this succeeds
    fidelities = check_tabular(args)
    check_algorithms([args.algorithm])
    if args.address and args.executor != "ray":
        raise InputError(f"expected --executor ray with --address, but got --executor {args.executor}")
    out = check_out_dir(args.out)
    evaluator = load_evaluator(args)
    scorer = load_scorer(args, evaluator.space) if args.variant == "assisted" else None
    from gradsign_nas import algorithms
    from gradsign_nas.assist import Assistant
    from gradsign_nas.execution import RayTuneExecutor, SimulatedExecutor
    from gradsign_nas.results import History

    assistant = Assistant(scorer, k=args.k) if scorer is not None else None
    alg = algorithms.get(args.algorithm, evaluator.space, args.seed, assistant=assistant, fidelities=fidelities)
    history = History(out, run_info(args, fidelities)) if out is not None else None  # checks a resume first
    # 2. search
    ex: RayTuneExecutor | SimulatedExecutor
    try:
        if args.executor == "ray":
            ex = RayTuneExecutor(
                alg,
                evaluator,
                args.budget,
                args.sim_workers,
                args.charge_proxy_time,
                history,
                address=args.address,
                progress=None if args.no_progress else f"{args.algorithm} (Ray Tune)",
            )
        else:
            ex = SimulatedExecutor(alg, evaluator, args.budget, args.sim_workers, args.charge_proxy_time, history)
        result = ex.run()
    finally:
        if history is not None:
            history.close()
    # 3. report
    assert ex.driver is not None  # set by run()
    message = ex.driver.resume_message()
    if message:
        print(message, file=sys.stderr)
    summary = {
        "algorithm": args.algorithm,
        "variant": args.variant,
        "seed": args.seed,
        "budget": float(args.budget),
        "best_arch": result.best_arch,
        "best_index": result.best_index,
        "reward": result.best_metric,
        "fidelity": result.best_fidelity,
        "test": result.test,
        "evaluations": result.n_evaluations,
        "discarded": result.n_discarded,
        "sim_time": result.sim_time,
        "resumed_records": result.n_replayed,
        "stats": result.stats,
    }
    if args.json:
        from gradsign_nas._io import dumps

        print(dumps(summary))
        return 0
    print(
        f"best network ({args.variant} {args.algorithm}, seed {args.seed}, "
        f"{result.n_evaluations} evaluations in {result.sim_time:,.0f} of {args.budget:,.0f} simulated s):"
    )
    if result.best_arch is None:
        print("  none: no evaluation fit in the budget")
        return 0
    print(f"  arch   {result.best_arch}")
    print(f"  index  {result.best_index}")
    print(f"  search reward (cifar10-valid, {result.best_fidelity} epochs)  {result.best_metric:.2f}")
    for d, acc in result.test.items():
        print(f"  {d} test accuracy (200 epochs)  {acc:.2f}")
    if out is not None:
        print(f"recorded in {out / 'history.jsonl'} and {out / 'best.json'}", file=sys.stderr)
    return 0
