"""A live search: every trial really trains a network. With no options, a vanilla and a
GradSign-assisted regularized evolution on the NAS-Bench-201 cell space sized for scikit-learn's
bundled 8x8 digits (C=8, N=1, one input channel; no download), 20 trials x 3 epochs per variant,
each trial a Ray Tune trial on all local cores. Writes per variant <out>/<algorithm>-<variant>/
(run.json, history.jsonl, best.json, best_model.pt: load it with gradsign_nas.load_best), a
side-by-side summary.json, live_search.png and report.html. Running it again on the same --out resumes without
re-running finished trials. For a search on NAS-Bench-201's tables (no training), see table-search."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Optional

from gradsign_nas.errors import InputError

from ._options import (
    VARIANTS,
    add_address,
    add_assist,
    add_common,
    add_data_dir,
    check_out_dir,
    positive_int,
    positive_number,
    split_list,
)

DEFAULTS: dict[str, Any] = {"trials": 20, "epochs": 3, "out": "live-search", "max_failures": 2, "scheduler": "fifo"}
SCHEDULERS = ("fifo", "hyperband", "asha")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--space",
        default="nb201",
        help="search space to build and train: nb201 (default), nats_size, nb101, darts or a registered one",
    )
    p.add_argument("--algorithm", default="rea", help="rs, rea, reinforce, bohb or a registered one (default rea)")
    p.add_argument(
        "--variants",
        default="vanilla,assisted",
        help="which variants to run, comma-separated: vanilla, assisted (best of K) and the strategies "
        "of gradsign_nas.strategies, e.g. warmup, adaptive (default vanilla,assisted)",
    )
    d = p.add_argument_group("data and training")
    d.add_argument(
        "--data",
        default="digits",
        help="digits (default, bundled with scikit-learn), cifar10 (the npz in --data-dir), an image "
        "folder root/<class>/*.png or an .npz with x and y",
    )
    add_data_dir(d, "the CIFAR-10 images (only with --data cifar10)")
    d.add_argument("--trials", type=int, default=DEFAULTS["trials"], help="trials per variant (default 20)")
    d.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="training epochs per trial (default 3)")
    d.add_argument("--batch-size", type=int, default=64, help="training batch size (default 64)")
    d.add_argument("--lr", type=float, default=None, help="learning rate (default 0.1: SGD, Nesterov, cosine schedule)")
    d.add_argument("--limit", type=int, default=None, help="use at most this many images, class-balanced (default all)")
    d.add_argument(
        "--metric",
        default="valid_acc",
        choices=("valid_acc", "valid_loss"),
        help="what a trial reports and the search optimises: valid_acc (maximised, the default) or "
        "valid_loss (minimised); Tune's schedulers, CSV and TensorBoard files use this name",
    )
    d.add_argument("--C", type=int, default=None, help="NB201 channels (nb201 only; default 8 on digits, 16 otherwise)")
    d.add_argument(
        "--N", type=int, default=None, help="NB201 cells per stage (nb201 only; default 1 on digits, 5 otherwise)"
    )
    a = p.add_argument_group("GradSign assistance")
    add_assist(a)
    a.add_argument("--proxy", default="gradsign", help="proxy of the assisted variant (default gradsign)")
    e = p.add_argument_group("execution")
    e.add_argument("--device", default="auto", help="auto (CUDA when present, the default), cpu or cuda[:i]")
    e.add_argument(
        "--no-ray", action="store_true", help="run the trials one after another in this process, without Ray"
    )
    e.add_argument("--cpus-per-trial", type=float, default=1, help="CPUs (torch threads) per trial (default 1)")
    e.add_argument(
        "--gpus-per-trial",
        type=float,
        default=None,
        help="GPUs per trial, fractions share a GPU (Ray only; default 1 with CUDA, else 0)",
    )
    e.add_argument(
        "--max-failures",
        type=int,
        default=None,
        help="retries of a trial whose worker died, from its last checkpoint (Ray only; default 2)",
    )
    e.add_argument(
        "--scheduler",
        default=None,
        choices=SCHEDULERS,
        help="Tune scheduler (Ray only; default fifo: every trial to --epochs)",
    )
    e.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (Ray only; default all cores)")
    add_address(e, "run the trials on (Ray only)")
    add_common(
        p,
        out_default=DEFAULTS["out"],
        seed_help="seed of the search, the data split and the training (default 0)",
        out_help="output directory (default ./live-search)",
    )


def _refuse(flag: str, why: str) -> InputError:
    return InputError(f"{flag} {why}")


def validate(args: argparse.Namespace) -> list[str]:
    """Check every option before anything runs or is written; returns the variants."""
    from gradsign_nas import algorithms, proxies, search_spaces, strategies

    variants = split_list("--variants", args.variants, VARIANTS + tuple(strategies.available()))
    if args.algorithm not in algorithms.available():
        raise InputError(f"expected --algorithm among {', '.join(algorithms.available())}, but got {args.algorithm!r}")
    if args.space not in search_spaces.available():
        raise InputError(f"expected --space among {', '.join(search_spaces.available())}, but got {args.space!r}")
    from gradsign_nas.execution.driver import MAX_TRIALS

    from ._options import MAX_BATCH, MAX_EPOCHS, MAX_K

    positive_int("--trials", args.trials, 1, MAX_TRIALS)
    positive_int("--epochs", args.epochs, 1, MAX_EPOCHS)
    positive_int("--batch-size", args.batch_size, 1, MAX_BATCH)
    positive_int("--seed", args.seed, 0)
    if args.limit is not None:
        positive_int("--limit", args.limit, 2)
    if args.lr is not None and not positive_number("--lr", args.lr) <= 10:
        raise InputError(f"expected --lr of at most 10 (larger rates diverge at once), but got {args.lr:g}")
    positive_number("--cpus-per-trial", args.cpus_per_trial)
    if set(variants) - {"vanilla"}:
        positive_int("--k", args.k, 1, MAX_K)
        if args.proxy not in proxies.available():
            raise InputError(f"expected --proxy among {', '.join(proxies.available())}, but got {args.proxy!r}")
        for v in set(variants) - set(VARIANTS):  # a strategy must be defined for the algorithm
            strategies.settings(v, args.algorithm, args.k)
    if args.data_dir is not None and args.data != "cifar10":
        raise _refuse("--data-dir", f"is read only with --data cifar10, but --data is {args.data!r}")
    for flag, value in (("--C", args.C), ("--N", args.N)):
        if value is not None:
            if args.space != "nb201":
                raise _refuse(flag, f"sizes the nb201 space only, but --space is {args.space!r}")
            positive_int(flag, value)
    if args.no_ray:
        given = [
            f
            for f, v in (
                ("--address", args.address),
                ("--gpus-per-trial", args.gpus_per_trial),
                ("--max-failures", args.max_failures),
                ("--scheduler", args.scheduler),
                ("--num-cpus", args.num_cpus),
            )
            if v is not None
        ]
        if given:
            raise _refuse(given[0], "applies to Ray trials only, but --no-ray runs them in this process")
    else:
        if args.max_failures is not None:
            positive_int("--max-failures", args.max_failures, 0, 1000)
        if args.num_cpus is not None:
            positive_int("--num-cpus", args.num_cpus, 1, 4096)
        if args.address is None:  # a trial that asks for more than this machine has would wait forever
            import os

            cpus = args.num_cpus or os.cpu_count() or 1
            if args.cpus_per_trial > cpus:
                raise InputError(
                    f"expected --cpus-per-trial of at most the {cpus} CPUs of the local Ray, "
                    f"but got {args.cpus_per_trial:g}"
                )
        if args.gpus_per_trial is not None:
            positive_number("--gpus-per-trial", args.gpus_per_trial, allow_zero=True)
            if args.gpus_per_trial > 0 and args.address is None:
                import torch

                gpus = torch.cuda.device_count()
                if args.gpus_per_trial > gpus:
                    raise InputError(
                        f"expected --gpus-per-trial of at most the {gpus} GPUs of this machine, "
                        f"but got {args.gpus_per_trial:g}"
                    )
    from gradsign_nas.benchmarks.live import resolve_device

    resolve_device(args.device)
    check_out_dir(args.out)
    return variants


def _space(args: argparse.Namespace):
    from gradsign_nas import search_spaces

    if args.space != "nb201":
        return search_spaces.get(args.space)
    digits = args.data == "digits"
    C = args.C if args.C is not None else (8 if digits else 16)
    N = args.N if args.N is not None else (1 if digits else 5)
    return search_spaces.get("nb201", C=C, N=N)


def _fidelities(algorithm: str, epochs: int) -> tuple:
    if algorithm == "bohb":
        return tuple(sorted({max(1, epochs // 9), max(1, epochs // 3), epochs}))
    return (epochs,)


def build_run(args: argparse.Namespace, variant: str) -> tuple:
    """``(algorithm, evaluator, run_info)`` for one variant of the live search ``args`` describes."""
    from gradsign_nas import algorithms
    from gradsign_nas._meta import data_checksums, environment
    from gradsign_nas.assist import TrainingBatchScorer
    from gradsign_nas.benchmarks.live import LiveTrainingEvaluator
    from gradsign_nas.strategies import assistance

    space = _space(args)
    fids = _fidelities(args.algorithm, args.epochs)
    run_dir = Path(args.out) / f"{args.algorithm}-{variant}"
    evaluator = LiveTrainingEvaluator(
        space,
        args.data,
        fidelities=fids,
        batch_size=args.batch_size,
        lr=args.lr,
        device=args.device,
        seed=args.seed,
        data_dir=args.data_dir,
        limit=args.limit,
        metric=args.metric,
        checkpoint_dir=run_dir / "checkpoints" if args.algorithm == "bohb" else None,
    )
    scorer = TrainingBatchScorer(evaluator, proxy=args.proxy, seed=args.seed) if variant != "vanilla" else None
    assistant, options = assistance(variant, args.algorithm, scorer, args.k)
    alg = algorithms.get(args.algorithm, space, args.seed, assistant=assistant, fidelities=fids, **options)
    info = {
        "command": "search",
        "algorithm": args.algorithm,
        "variant": variant,
        "seed": args.seed,
        "space": space.name,
        "space_options": space.options(),
        "data": data_label(args.data),
        "limit": args.limit,
        "fidelities": list(fids),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": evaluator.lr,
        "k": args.k if assistant else None,
        "proxy": args.proxy if assistant else None,
        "request": {
            "trials": args.trials,
            "no_ray": bool(args.no_ray),
            "device": args.device,
            "scheduler": args.scheduler,
            "cpus_per_trial": args.cpus_per_trial,
        },
        "environment": environment(data_checksums(["cifar10_images"] if args.data == "cifar10" else [])),
    }
    return alg, evaluator, info, run_dir


def run(args: argparse.Namespace) -> int:
    variants = validate(args)
    from gradsign_nas.execution.live import open_history

    runs, histories = [], {}
    for v in variants:  # data, settings and any run to resume checked for every variant before the first trial
        alg, ev, info, run_dir = build_run(args, v)
        histories[v] = open_history(ev, run_dir, info)
        runs.append((v, alg, ev, info, run_dir))
    out = Path(args.out)
    progress = not args.no_progress
    t0 = time.perf_counter()
    results = {}
    with session(args):  # one Ray for every variant
        for variant, alg, ev, _info, run_dir in runs:
            results[variant] = run_search(args, alg, ev, run_dir, _label(args, variant), histories[variant], progress)
    for variant, r in results.items():
        if r.n_replayed:
            print(f"{variant}: resumed, {r.n_replayed} recorded trials replayed, not re-run", file=sys.stderr)
    summary = summarise({v: run_dir for v, _, _, _, run_dir in runs}, time.perf_counter() - t0, args.metric)
    summary["settings"] = {
        "algorithm": args.algorithm,
        "space": args.space,
        "data": args.data,
        "seed": args.seed,
        "trials": args.trials,
        "epochs": args.epochs,
    }
    from gradsign_nas._io import dumps, write_json_atomic

    write_json_atomic(out / "summary.json", summary)
    plot = plot_runs(summary, out / "live_search.png")
    from gradsign_nas.report import write_report

    report = write_report(
        out,
        f"gradsign-nas search: {args.algorithm} on {args.data} ({args.space})",
        [plot],
        environment=runs[0][3].get("environment"),
        subtitle=f"{args.trials} trials x {args.epochs} epochs per variant, seed {args.seed}",
    )
    print(format_summary(summary))
    print(
        f"wrote {out / 'summary.json'}, {plot}; per variant run.json, history.jsonl, best.json, best_model.pt "
        f"(gradsign_nas.load_best('{runs[0][4]}'))",
        file=sys.stderr,
    )
    print(f"report: {report}", file=sys.stderr)
    if args.json:
        print(dumps(summary))
    return 0


def session(args: argparse.Namespace):
    """Where the searches of ``args`` run: one Ray for all of them, or nothing to start with --no-ray."""
    import contextlib

    from gradsign_nas.execution.ray_env import ray_session

    return contextlib.nullcontext() if args.no_ray else ray_session(args.num_cpus, args.address)


def run_search(args: argparse.Namespace, alg, ev, run_dir: Path, name: str, history, progress: bool):
    """One live search as ``args`` asks: its trials in this process (--no-ray), else as Ray Tune trials
    on the session ``session(args)`` opened (a GPU per trial on CUDA unless --gpus-per-trial says)."""
    from gradsign_nas.execution import run_live_search, sequential_search

    if args.no_ray:
        return sequential_search(
            alg,
            ev,
            trials=args.trials,
            out_dir=run_dir,
            name=name,
            progress=progress,
            history=history,
            threads=max(1, int(args.cpus_per_trial)),
        )
    gpus = args.gpus_per_trial if args.gpus_per_trial is not None else (1.0 if ev.device.startswith("cuda") else 0.0)
    return run_live_search(
        alg,
        ev,
        trials=args.trials,
        out_dir=run_dir,
        name=name,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=gpus,
        max_failures=args.max_failures if args.max_failures is not None else DEFAULTS["max_failures"],
        scheduler=args.scheduler or DEFAULTS["scheduler"],
        progress=progress,
        history=history,
    )


def data_label(data) -> str:
    """How a run records its data: the name or path given, or for arrays/tensors ``(x, y, ...)`` their
    shapes and the sha256 of their bytes (so a resume on other tensors is refused)."""
    if isinstance(data, (str, Path)):
        return str(data)
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    shapes = []
    for a in data:
        arr = np.ascontiguousarray(a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a))
        shapes.append("x".join(map(str, arr.shape)))
        h.update(str(arr.dtype).encode() + arr.tobytes())
    return f"arrays {'/'.join(shapes)} sha256:{h.hexdigest()[:16]}"


def _label(args: argparse.Namespace, variant: str) -> str:
    return args.algorithm + ("+" + args.proxy if variant == "assisted" else "")


def summarise(run_dirs: dict, wall_s: float, metric: str = "valid_acc") -> dict:
    """One JSON-ready summary of the variants' run directories (from their files only): per variant
    ``best_<metric>`` and ``mean_<metric>`` (e.g. ``best_valid_acc``), trials, times, the curve."""
    from gradsign_nas.results import read_best, read_history

    out: dict[str, Any] = {"wall_s": round(wall_s, 1), "metric": metric, "variants": {}}
    for variant, d in run_dirs.items():
        recs = read_history(d)
        done = [x for x in recs if x["status"] == "completed"]
        best = read_best(d)
        metrics = [x["metric"] for x in done]
        t0 = min((r["wall_start"] for r in done), default=0.0)
        out["variants"][variant] = {
            "best_arch": best["arch"] if best else None,
            f"best_{metric}": best["metric"] if best else None,
            f"mean_{metric}": sum(metrics) / len(metrics) if metrics else None,
            "trials": len(done),
            "failed": sum(x["status"] == "failed" for x in recs),
            "train_s": round(sum(x["cost_s"] for x in done), 1),
            "proxy_s": round(sum(x.get("proxy_cost_s") or 0.0 for x in recs), 1),
            "dir": str(d),
            "curve": [x["metric"] for x in done],
            "wall": [x["wall_time"] - t0 for x in done],
        }
    return out


def format_summary(summary: dict) -> str:
    """The variants side by side as a small text table."""
    vs = summary["variants"]
    names = list(vs)
    m = summary.get("metric", "valid_acc")
    label = m.replace("_", " ") + (" (%)" if m.endswith("acc") else "")
    rows = [
        ("", *names),
        (f"best {label}", *(_fmt(vs[v][f"best_{m}"]) for v in names)),
        (f"mean {label}", *(_fmt(vs[v][f"mean_{m}"]) for v in names)),
        ("trials (failed)", *(f"{vs[v]['trials']} ({vs[v]['failed']})" for v in names)),
        ("training s", *(str(vs[v]["train_s"]) for v in names)),
        ("proxy s", *(str(vs[v]["proxy_s"]) for v in names)),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, width)) for r in rows]
    for v in names:
        lines.append(f"best {v}: {vs[v]['best_arch']}")
    lines.append(f"total wall time: {summary['wall_s']} s")
    return "\n".join(lines)


def _fmt(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.2f}"


def plot_runs(summary: dict, path: Path) -> Path:
    """Each trial's validation accuracy as a point and the best so far as steps, against trials and
    against wall time, one colour per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gradsign_nas._io import atomic_path

    s = summary.get("settings", {})
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for i, (variant, v) in enumerate(summary["variants"].items()):
        ys = v["curve"]
        if not ys:
            continue
        pick = min if summary.get("metric", "valid_acc").endswith("loss") else max
        best = [pick(ys[: j + 1]) for j in range(len(ys))]
        color = f"C{i}"
        for ax, xs in ((axes[0], list(range(1, len(ys) + 1))), (axes[1], v["wall"])):
            ax.scatter(xs, ys, s=12, color=color, alpha=0.5)
            ax.step(xs, best, where="post", color=color, label=f"{variant} (best {best[-1]:.2f})")
    axes[0].set_xlabel("trials finished")
    axes[1].set_xlabel("wall time (s)")
    for ax in axes:
        ax.set_ylabel(
            summary.get("metric", "valid_acc").replace("valid_", "validation ").replace("acc", "accuracy (%)")
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    n = max((len(v["curve"]) for v in summary["variants"].values()), default=0)
    fig.suptitle(
        f"{s.get('algorithm', '')} on {s.get('data', '')} ({s.get('space', '')}), seed {s.get('seed', '')}, "
        f"n = {n} trials per variant: points = trials, steps = best so far",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
