"""``gradsign-nas compare --live``: vanilla against assisted in live searches that really train networks.

S seeds x variants x algorithms of live searches (``commands.search``'s own runs, one run directory
each under ``<out>/searches/seed-<r>/<algorithm>-<variant>``), every trial a Ray Tune trial, all
searches on one Ray (local by default, ``--address`` for a cluster; GPUs shared with fractional
``--gpus-per-trial``), or with ``--no-ray`` every trial in this process. Each search keeps its own history, so the comparison resumes after an
interruption without re-running a finished trial. Run r of every algorithm and variant shares one seed
(``run_seed``), as in the tabular compare.

The statistics are the tabular compare's, on the best validation accuracy each search found:
mean +- std per algorithm and variant, and the one-sided Mann-Whitney p-value of assisted > vanilla.
The curves are the best-so-far validation accuracy against trials and against wall-clock seconds;
the wall clock includes the time spent on the proxy, because in a live search that is real time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence, Union

from gradsign_nas.errors import InputError

METRIC = "valid_acc"
LIVE_DEFAULT_RUNS = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options only ``--live`` reads (``--space``, ``--data-dir``, ``--k``, ``--proxy``, ``--runs``,
    ``--seed``, ``--address`` are shared with the tabular compare)."""
    g = p.add_argument_group("live searches (--live)")
    g.add_argument(
        "--live",
        action="store_true",
        help="compare live searches that really train networks (seeds x variants x algorithms), every trial "
        "a Ray Tune trial; --runs is the number of seeds (default 3)",
    )
    g.add_argument("--data", default="digits", help="as in search: digits (default), cifar10, a folder or an .npz")
    g.add_argument("--trials", type=int, default=20, help="trials per search (default 20)")
    g.add_argument("--epochs", type=int, default=3, help="training epochs per trial (default 3)")
    g.add_argument("--train-batch-size", type=int, default=64, help="training batch size (default 64)")
    g.add_argument("--lr", type=float, default=None, help="learning rate (default 0.1)")
    g.add_argument("--limit", type=int, default=None, help="use at most this many images (default all)")
    g.add_argument("--C", type=int, default=None, help="NB201 channels (default 8 on digits, 16 otherwise)")
    g.add_argument("--N", type=int, default=None, help="NB201 cells per stage (default 1 on digits, 5 otherwise)")
    g.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:i]")
    g.add_argument("--cpus-per-trial", type=float, default=1, help="CPUs (torch threads) per trial (default 1)")
    g.add_argument("--gpus-per-trial", type=float, default=None, help="GPUs per trial, fractions share a GPU")
    g.add_argument("--max-failures", type=int, default=None, help="retries of a trial whose worker died (default 2)")
    g.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default all cores)")
    g.add_argument(
        "--no-ray",
        action="store_true",
        help="run every trial in this process, one after another (a machine without Ray, e.g. one GPU)",
    )


def _search_args(args: argparse.Namespace, algorithm: str, variants: list, run: int, seed: int) -> argparse.Namespace:
    """The ``search`` options of one search of the comparison (its variants: those of --variants and
    --strategies)."""
    return argparse.Namespace(
        space=args.space,
        algorithm=algorithm,
        variants=",".join(variants),
        data=args.data,
        data_dir=args.data_dir,
        trials=args.trials,
        epochs=args.epochs,
        batch_size=args.train_batch_size,
        lr=args.lr,
        limit=args.limit,
        metric=METRIC,
        C=args.C,
        N=args.N,
        k=args.k,
        proxy=args.proxy,
        device=args.device,
        no_ray=args.no_ray,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        max_failures=args.max_failures,
        scheduler=None,
        num_cpus=args.num_cpus,
        address=args.address,
        seed=seed,
        out=str(Path(args.out) / "searches" / f"seed-{run}"),
    )


def _row(algorithm: str, variant: str, run: int, seed: int, run_dir: Path) -> dict:
    """One search's compact result, in the tabular compare's row shape (``valid_acc`` as its one
    "dataset"; ``trajectory`` by trials, ``wall_trajectory`` by wall-clock seconds)."""
    from .search import summarise

    s = summarise({variant: run_dir}, 0.0, METRIC)["variants"][variant]
    curve, wall = s["curve"], s["wall"]
    best = [max(curve[: i + 1]) for i in range(len(curve))]
    return {
        "algorithm": algorithm,
        "variant": variant,
        "run": run,
        "seed": seed,
        "best_arch": s["best_arch"],
        METRIC: s[f"best_{METRIC}"],
        "trials": s["trials"],
        "failed": s["failed"],
        "train_s": s["train_s"],
        "proxy_s": s["proxy_s"],
        "wall_s": round(max(wall), 2) if wall else 0.0,
        "trajectory": {"time": list(range(1, len(best) + 1)), METRIC: best},
        "wall_trajectory": {"time": wall, METRIC: best},
    }


def run(args: argparse.Namespace) -> int:
    from gradsign_nas import stats
    from gradsign_nas._io import write_json_atomic, write_text_atomic
    from gradsign_nas.execution.fanout import run_seed
    from gradsign_nas.plots import plot_curves

    from ._options import MAX_PROCS, MAX_RUNS, check_algorithms, check_out_dir, positive_int
    from .compare import _mean_proxy_scores, check_variants, finish
    from .search import data_label, run_search, session, validate

    # 1. every search's options, data and any record to resume checked before the first trial
    algos = check_algorithms(args.algorithms.split(","))
    variants = check_variants(args, algos)
    if args.workers is not None and not args.no_ray:
        raise InputError(
            "expected --workers with the tabular compare or with --live --no-ray; with Ray use --num-cpus or --address"
        )
    positive_int("--runs", args.runs, 1, MAX_RUNS)
    if args.workers is not None:
        positive_int("--workers", args.workers, 1, MAX_PROCS)
    out = check_out_dir(args.out)
    assert out is not None  # --out is required
    searches = []
    for r in range(args.runs):
        seed = run_seed(args.seed, r)
        for a in algos:
            sargs = _search_args(args, a, variants, r, seed)
            validate(sargs)
            for v in variants:
                searches.append((a, v, r, seed, sargs, *_open_search(args, sargs, v, r)))

    # 2. the searches: one after another on one Ray (each search's trials concurrently on the cluster),
    # or with --no-ray in this process, or in local processes (--workers; one per GPU on CUDA)
    from tqdm.auto import tqdm

    progress = not args.no_progress
    devices = _search_devices(args) if args.no_ray else []
    t0 = time.perf_counter()
    rows, replayed = [], 0
    bar = tqdm(total=len(searches), desc="live searches", unit="search", disable=not progress, file=sys.stderr)
    try:
        if len(devices) > 1:
            for s in searches:  # each search's process opens (and locks) its own history
                s[-1].close()
            done = _run_in_processes([(s[0], s[1], s[2], s[3], s[4]) for s in searches], args, devices, bar)
            for (a, v, r, seed, _sargs, _alg, _ev, run_dir, _h), (n_replayed, scores) in zip(searches, done):
                replayed += n_replayed
                rows.append(dict(_row(a, v, r, seed, run_dir), proxy_scores=scores))
        else:
            with session(args):  # one Ray for every search
                for a, v, r, seed, sargs, alg, ev, run_dir, history in searches:
                    res = run_search(sargs, alg, ev, run_dir, f"seed {r} {a} {v}", history, progress)
                    replayed += res.n_replayed
                    rows.append(dict(_row(a, v, r, seed, run_dir), proxy_scores=getattr(alg, "proxy_scores", 0)))
                    bar.update(1)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    if replayed:
        print(f"resumed: {replayed} recorded trials replayed, not re-run", file=sys.stderr)

    # 3. statistics and files, as the tabular compare writes them
    datasets = [METRIC]
    summary = stats.summarize(rows, datasets)
    pvals = stats.p_values(rows, datasets)
    results = {
        a: {v: {d: {"mean": c["mean"], "std": c["std"]} for d, c in cells.items()} for v, cells in vs.items()}
        for a, vs in summary.items()
    }
    proxy_time = {
        a: {
            v: _share([x for x in rows if x["algorithm"] == a and x["variant"] == v])
            for v in dict.fromkeys(x["variant"] for x in rows if x["algorithm"] == a)
        }
        for a in algos
    }
    line = {
        "runs": args.runs,
        "budget": {"trials": args.trials, "epochs": args.epochs},
        "results": results,
        "p_values": pvals,
        "ceiling": None,  # no table: the best possible network of a live search is unknown
        "proxy_scores": _mean_proxy_scores(rows),
        "proxy_time": proxy_time,
    }
    spvals = stats.strategy_p_values(rows, datasets)
    if spvals:
        line["strategy_p_values"] = spvals
    label = data_label(args.data)  # the data's name, or the arrays' shapes and sha256
    config = {
        "live": True,
        "space": args.space,
        "data": label,
        "algorithms": algos,
        "variants": variants,
        "runs": args.runs,
        "seed": args.seed,
        "trials": args.trials,
        "epochs": args.epochs,
        "k": args.k,
        "proxy": args.proxy,
    }
    md = stats.markdown_table(summary, pvals, datasets)
    write_text_atomic(out / "results.md", md)
    write_text_atomic(out / "results.csv", stats.table_csv(summary, pvals, datasets))
    write_json_atomic(out / "runs.json", {"config": config, "runs": rows})
    write_json_atomic(out / "summary.json", {**line, "config": config, "n": summary, "wall_s": wall})
    title = f"{', '.join(algos)} on {args.data if isinstance(args.data, str) else 'arrays'} ({args.space}), seed {args.seed}"
    plots = [out / "curves_trials.png", out / "curves_wall.png"]
    plot_curves(
        rows,
        args.trials,
        plots[0],
        datasets,
        points=args.trials,
        title=title,
        xlabel="trials finished",
        ylabel="best-so-far validation accuracy (%)",
    )
    wall_rows = [dict(x, trajectory=x["wall_trajectory"]) for x in rows]
    plot_curves(
        wall_rows,
        max((x["wall_s"] for x in rows), default=1.0) or 1.0,
        plots[1],
        datasets,
        title=title,
        xlabel="wall-clock seconds since the first trial started (proxy time between trials included)",
        ylabel="best-so-far validation accuracy (%)",
    )
    return finish(
        args,
        out,
        line,
        md,
        f"gradsign-nas compare --live: {', '.join(algos)} on {label}",
        plots,
        f"{args.runs} seeds per algorithm and variant, {args.trials} trials x {args.epochs} epochs each",
        f"{len(rows)} live searches in {wall:.1f} s; files in {out}",
    )


def _search_devices(args: argparse.Namespace) -> list[str]:
    """With --no-ray, the device of each local search process: ``--workers`` processes (default one
    per GPU of the host on CUDA, else one, which runs in this process), GPUs taken round-robin."""
    from gradsign_nas.benchmarks.live import resolve_device
    from gradsign_nas.scoring import local_devices

    device = resolve_device(args.device)
    return local_devices(device, args.workers or (None if device == "cuda" else 1))


_DEVICE: list = []  # the device of this search process (set once by _pin_device)


def _pin_device(device: str) -> None:
    _DEVICE.append(device)


def _open_search(args: argparse.Namespace, sargs: argparse.Namespace, variant: str, run: int) -> tuple:
    """``(algorithm, evaluator, run directory, history)`` of one search of the comparison: ``search``'s
    run for ``variant``, recorded as run ``run`` of this comparison (its history opened, so locked)."""
    from gradsign_nas.execution.live import open_history

    from .search import build_run

    alg, ev, info, run_dir = build_run(sargs, variant)
    info["comparison"] = {"run": run, "seed": args.seed, "runs": args.runs}
    return alg, ev, run_dir, open_history(ev, run_dir, info)


def _one_search(args: argparse.Namespace, a: str, v: str, r: int, sargs: argparse.Namespace) -> tuple[int, int]:
    """Search ``a``/``v`` of seed ``r`` in a search process, on its device; returns the number of trials
    replayed from its history and the proxy scores it computed."""
    from .search import run_search

    sargs = argparse.Namespace(**{**vars(sargs), "device": _DEVICE[0]})
    alg, ev, run_dir, history = _open_search(args, sargs, v, r)
    res = run_search(sargs, alg, ev, run_dir, f"seed {r} {a} {v}", history, False)
    return res.n_replayed, getattr(alg, "proxy_scores", 0)


def _run_in_processes(jobs: list, args: argparse.Namespace, devices: list[str], bar) -> list[tuple[int, int]]:
    """Every search of ``jobs`` (algorithm, variant, run, seed, search options) in ``len(devices)``
    spawned processes, each pinned to one device; results in the order of ``jobs``."""
    from concurrent.futures import FIRST_EXCEPTION, wait

    from gradsign_nas.scoring import pinned_pool

    pool = pinned_pool(devices, _pin_device)
    try:
        futures = [pool.submit(_one_search, args, a, v, r, sargs) for a, v, r, _seed, sargs in jobs]
        for f in futures:
            f.add_done_callback(lambda _f: bar.update(1))
        wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            if f.done() and f.exception() is not None:
                raise f.exception()  # type: ignore[misc]  # the first failure; the others are cancelled
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _share(rows: list) -> dict:
    """Mean seconds spent on the proxy and on training per search, and the proxy's share of the two."""
    proxy = sum(x["proxy_s"] for x in rows) / max(1, len(rows))
    train = sum(x["train_s"] for x in rows) / max(1, len(rows))
    return {"proxy_s": round(proxy, 2), "train_s": round(train, 2), "proxy_share": proxy / (proxy + train or 1.0)}


def compare_live(
    out,
    data: Any = "digits",
    algorithms: Union[str, Sequence[str]] = ("rs", "rea"),
    variants: Union[str, Sequence[str]] = ("vanilla", "assisted"),
    strategies: Union[str, Sequence[str], None] = None,
    progress: bool = False,
    **options: Any,
) -> dict:
    """``gradsign-nas compare --live`` from Python: the same options (by their command-line names, with
    ``_`` for ``-``: ``runs=10``, ``trials=30``, ``epochs=1``, ``C=8``, ``N=1``, ``no_ray=True``,
    ``workers=2``, ``device="cuda"``...), the same files in ``out``. ``data`` is what ``--data`` takes,
    or ``(x, y)`` / ``(x_train, y_train, x_valid, y_valid)`` arrays or tensors (recorded by shape and
    sha256). Returns the comparison's ``summary.json``: the ``--json`` line plus config, n and wall_s.

    Example:
        >>> s = compare_live("out", runs=10, trials=30, epochs=1, no_ray=True)   # doctest: +SKIP
        >>> s["p_values"]["rs"]["valid_acc"]                                        # doctest: +SKIP
    """
    import json

    from gradsign_nas.cli import build_parser

    args = build_parser().parse_args(["compare", "--live", "--out", str(out)])
    unknown = sorted(set(options) - set(vars(args)))
    if unknown:
        raise InputError(f"expected options of compare --live, but got {', '.join(unknown)}")
    vars(args).update(options)

    def joined(v):
        return v if v is None or isinstance(v, str) else ",".join(v)

    args.data, args.no_progress = data, not progress
    args.algorithms, args.variants, args.strategies = joined(algorithms), joined(variants), joined(strategies)
    if args.runs is None:
        args.runs = LIVE_DEFAULT_RUNS
    run(args)
    return json.loads((Path(out) / "summary.json").read_text())
