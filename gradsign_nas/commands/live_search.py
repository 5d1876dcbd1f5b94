"""Live search: every trial really trains a network (the embedded default of ``gradsign-nas search``).

With no data options it runs a vanilla and a GradSign-assisted regularized evolution on the
NAS-Bench-201 cell space sized for scikit-learn's 8x8 digits (C=8, N=1, one input channel), each
trial a real training run under Ray Tune on all local cores, and writes per variant
``<out>/<algorithm>-<variant>/`` (``history.jsonl``, ``best.json``, ``best_model.pt``), a
side-by-side summary (``summary.json``) and a plot (``live_search.png``).

``add_live_arguments(parser)`` adds the options; ``run_live(args)`` runs it (the ``search``
command calls it for live searches).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any, Optional

DEFAULTS = {"trials": 20, "epochs": 3, "k": 10, "seed": 0, "out": "live-search"}


def add_live_arguments(parser: argparse.ArgumentParser, include_common: bool = True) -> None:
    """Add the live-search options to ``parser``.

    Args:
        parser: the (sub)parser.
        include_common: also add ``--space --algorithm --seed --out --address --data-dir --json
            --no-progress`` (set False when the caller already defines them).
    """
    g = parser.add_argument_group("live search (real training)")
    if include_common:
        g.add_argument("--space", default="nb201", help="search space (default nb201, sized for the data)")
        g.add_argument("--algorithm", default="rea", help="rs, rea, reinforce or bohb (default rea)")
        g.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="seed of search, split and training")
        g.add_argument("--out", default=DEFAULTS["out"], help="output directory (default ./live-search)")
        g.add_argument("--address", default=None, help="an existing Ray cluster, e.g. 10.0.0.1:6379")
        g.add_argument("--data-dir", default=None, help="data directory (for --data cifar10)")
        g.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
        g.add_argument("--no-progress", action="store_true", help="no progress bars")
        g.add_argument("--k", type=int, default=DEFAULTS["k"], help="candidates per assisted proposal (default 10)")
    g.add_argument("--data", default=None,
                   help="digits (default, bundled), cifar10 (npz in the data dir), an image folder or an .npz")
    g.add_argument("--trials", type=int, default=DEFAULTS["trials"], help="trials per variant (default 20)")
    g.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="training epochs per trial (default 3)")
    g.add_argument("--variants", default="vanilla,assisted", help="vanilla, assisted or both (default both)")
    g.add_argument("--proxy", default="gradsign", help="proxy of the assisted variant (default gradsign)")
    g.add_argument("--C", type=int, default=None, help="NB201 channels (default 8 on digits, 16 otherwise)")
    g.add_argument("--N", type=int, default=None, help="NB201 cells per stage (default 1 on digits, 5 otherwise)")
    g.add_argument("--batch-size", type=int, default=64, help="training batch size (default 64)")
    g.add_argument("--lr", type=float, default=None, help="learning rate (default 0.1, SGD + cosine)")
    g.add_argument("--limit", type=int, default=None, help="use at most this many images (stratified)")
    g.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    g.add_argument("--cpus-per-trial", type=float, default=1, help="CPUs (torch threads) per trial (default 1)")
    g.add_argument("--gpus-per-trial", type=float, default=None,
                   help="GPUs per trial; fractions share a GPU (default 1 when --device is cuda, else 0)")
    g.add_argument("--max-failures", type=int, default=2, help="retries of a trial whose worker died (default 2)")
    g.add_argument("--scheduler", default="fifo", choices=("fifo", "hyperband", "asha"),
                   help="Tune scheduler (default fifo: every trial to --epochs)")
    g.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray (default all cores)")
    g.add_argument("--no-ray", action="store_true", help="run trials one after another without Ray")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_live_arguments(parser, include_common=True)


def _variants(text: str) -> list[str]:
    out = [v.strip() for v in str(text).split(",") if v.strip()]
    bad = [v for v in out if v not in ("vanilla", "assisted")]
    if not out or bad:
        raise ValueError(f"--variants must list vanilla and/or assisted, but got {text!r}")
    return out


def _space(args, data: Any):
    from gradsign_nas import search_spaces
    from gradsign_nas.execution.live import digits_nb201_space

    name = getattr(args, "space", None) or "nb201"
    digits = data == "digits"
    C = args.C if args.C is not None else (8 if digits else 16)
    N = args.N if args.N is not None else (1 if digits else 5)
    if name == "nb201":
        if digits:
            return digits_nb201_space(C=C, N=N)
        return search_spaces.get("nb201", C=C, N=N)
    return search_spaces.get(name)


def _fidelities(algorithm: str, epochs: int) -> tuple:
    if algorithm == "bohb":
        return tuple(sorted({max(1, epochs // 9), max(1, epochs // 3), epochs}))
    return (epochs,)


def build_run(args, variant: str):
    """``(algorithm, evaluator, run_info)`` for one variant of a live search described by ``args``."""
    from gradsign_nas import algorithms
    from gradsign_nas.assist import Assistant
    from gradsign_nas.benchmarks.live import LiveTrainingEvaluator
    from gradsign_nas.execution.live import TrainingBatchScorer

    algo = getattr(args, "algorithm", None) or "rea"
    seed = int(getattr(args, "seed", 0))
    if args.epochs is None or args.epochs < 1:
        raise ValueError(f"--epochs must be a positive integer, but got {args.epochs!r}")
    if args.trials is None or args.trials < 1:
        raise ValueError(f"--trials must be a positive integer, but got {args.trials!r}")
    data = args.data or "digits"
    space = _space(args, data)
    fids = _fidelities(algo, args.epochs)
    out = Path(getattr(args, "out", None) or DEFAULTS["out"])
    evaluator = LiveTrainingEvaluator(
        space, data, fidelities=fids, batch_size=args.batch_size, lr=args.lr, device=args.device, seed=seed,
        data_dir=getattr(args, "data_dir", None), limit=args.limit,
        checkpoint_dir=out / f"{algo}-{variant}" / "checkpoints" if algo == "bohb" else None)
    assistant = None
    if variant == "assisted":
        assistant = Assistant(TrainingBatchScorer(evaluator, proxy=args.proxy, seed=seed), k=args.k)
    alg = algorithms.get(algo, space, seed, assistant=assistant, fidelities=fids)
    info = {"command": "live-search", "algorithm": algo, "variant": variant, "seed": seed, "space": space.name,
            "C": getattr(space, "C", None), "N": getattr(space, "N", None), "data": str(data),
            "fidelities": list(fids), "trials": args.trials, "k": args.k if assistant else None,
            "proxy": args.proxy if assistant else None, "batch_size": args.batch_size, "lr": evaluator.lr,
            "limit": args.limit}
    return alg, evaluator, info


def run_live(args) -> int:
    """Run the live search described by ``args`` (see ``add_live_arguments``); returns 0."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from gradsign_nas.execution.live import run_live_search, sequential_search

    variants = _variants(args.variants)
    out = Path(getattr(args, "out", None) or DEFAULTS["out"])
    progress = not getattr(args, "no_progress", False)
    t0 = time.perf_counter()
    runs = {}
    started = False
    try:
        for variant in variants:
            alg, ev, info = build_run(args, variant)
            run_dir = out / f"{info['algorithm']}-{variant}"
            label = info["algorithm"] + ("+" + args.proxy if variant == "assisted" else "")
            if args.no_ray:
                runs[variant] = sequential_search(alg, ev, trials=args.trials, out_dir=run_dir, name=label,
                                                  progress=progress, run_info=info,
                                                  threads=max(1, int(args.cpus_per_trial)))
                continue
            gpus = args.gpus_per_trial if args.gpus_per_trial is not None else (1.0 if ev.device.startswith("cuda") else 0.0)
            if not started and not getattr(args, "address", None):
                from gradsign_nas.execution.live import _init_ray

                started = _init_ray(args.num_cpus, None)  # one local Ray for every variant
            runs[variant] = run_live_search(
                alg, ev, trials=args.trials, out_dir=run_dir, name=label, cpus_per_trial=args.cpus_per_trial,
                gpus_per_trial=gpus, max_failures=args.max_failures, scheduler=args.scheduler,
                address=getattr(args, "address", None), num_cpus=args.num_cpus, progress=progress, run_info=info)
    finally:
        if started:
            import ray

            ray.shutdown()
    wall = time.perf_counter() - t0
    summary = summarise(runs, wall)
    from gradsign_nas.results import write_json_atomic

    write_json_atomic(out / "summary.json", summary)
    plot_path = plot_runs(runs, out / "live_search.png")
    print(format_summary(summary))
    print(f"wrote {out}/summary.json, {plot_path}, and per variant history.jsonl, best.json, best_model.pt")
    if getattr(args, "json", False):
        print(json.dumps(summary))
    return 0


def summarise(runs: dict, wall_s: float) -> dict:
    """One JSON-ready summary of the variants' runs."""
    out = {"wall_s": round(wall_s, 1), "variants": {}}
    for variant, r in runs.items():
        done = [x for x in r.records if x.get("status") == "completed"]
        metrics = [x["metric"] for x in done]
        out["variants"][variant] = {
            "best_arch": r.best["arch"] if r.best else None,
            "best_valid_acc": r.best["metric"] if r.best else None,
            "best_epochs": r.best.get("epochs") if r.best else None,
            "mean_valid_acc": sum(metrics) / len(metrics) if metrics else None,
            "trials": r.n_completed, "failed": r.n_failed, "replayed": r.n_replayed,
            "train_s": round(sum(x["cost_s"] for x in done), 1),
            "proxy_s": round(sum(x.get("proxy_cost_s") or 0.0 for x in done), 1),
            "wall_s": round(r.wall_s, 1), "dir": str(r.out_dir),
        }
    return out


def format_summary(summary: dict) -> str:
    """The variants side by side as a small text table."""
    vs = summary["variants"]
    names = list(vs)
    rows = [("", *names),
            ("best valid acc (%)", *(_fmt(vs[v]["best_valid_acc"]) for v in names)),
            ("mean valid acc (%)", *(_fmt(vs[v]["mean_valid_acc"]) for v in names)),
            ("trials (failed)", *(f"{vs[v]['trials']} ({vs[v]['failed']})" for v in names)),
            ("training s", *(str(vs[v]["train_s"]) for v in names)),
            ("proxy s", *(str(vs[v]["proxy_s"]) for v in names)),
            ("wall s", *(str(vs[v]["wall_s"]) for v in names))]
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, width)) for r in rows]
    for v in names:
        lines.append(f"best {v}: {vs[v]['best_arch']}")
    lines.append(f"total wall time: {summary['wall_s']} s")
    return "\n".join(lines)


def _fmt(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.2f}"


def plot_runs(runs: dict, path: Path) -> Path:
    """Best-so-far validation accuracy against trials and against wall time, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for variant, r in runs.items():
        done = [x for x in r.records if x.get("status") == "completed"]
        if not done:
            continue
        best, ys, ts = -1.0, [], []
        t0 = min(x["wall_start"] for x in done)
        for x in done:
            best = max(best, x["metric"])
            ys.append(best)
            ts.append(x["wall_time"] - t0)
        axes[0].plot(range(1, len(ys) + 1), ys, marker=".", label=variant)
        axes[1].plot(ts, ys, marker=".", label=variant)
    axes[0].set_xlabel("trials finished")
    axes[1].set_xlabel("wall time (s)")
    for ax in axes:
        ax.set_ylabel("best validation accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(args) -> int:
    return run_live(args)
