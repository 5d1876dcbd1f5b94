"""Score every NB201 architecture (or the first --limit) with GradSign on fixed real CIFAR-10 and CIFAR-100
batches, using GPU and CPU workers side by side, and write the score table assisted searches look up."""

from __future__ import annotations

import argparse
import json
import os


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--datasets", default="cifar10,cifar100")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--gpu-procs", type=int, default=0, help="scoring processes per visible GPU")
    p.add_argument("--cpu-procs", type=int, default=None, help="single-threaded CPU scoring processes (default: all cores, minus GPU feeders)")
    p.add_argument("--limit", type=int, default=None, help="score only the first N indices (for timing)")
    p.add_argument("--chunk", type=int, default=8, help="architectures per work item")
    p.add_argument("--out", default=None, help="npz table to write (only with all 15,625 architectures)")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")


def run(args: argparse.Namespace) -> int:
    from ..benchmarks import load_batch
    from ..space_scoring import score_space, write_table

    datasets = [d for d in args.datasets.split(",") if d]
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, but got {args.batch_size}")
    if args.limit is not None and not 1 <= args.limit <= 15625:
        raise ValueError(f"--limit must be in 1..15625, but got {args.limit}")
    if args.out and args.limit is not None:
        raise ValueError("--out writes a whole-space table, so it cannot be combined with --limit")
    for d in datasets:  # fail on missing data before any work starts
        load_batch(d, args.batch_size, args.seed, args.data_dir)
    cpu = args.cpu_procs if args.cpu_procs is not None else max(1, (os.cpu_count() or 1) - args.gpu_procs)
    n = args.limit or 15625
    res = score_space(range(n), datasets, args.batch_size, args.seed, args.data_dir, args.gpu_procs, cpu, args.chunk)
    summary = {"n": n, "wall_s": round(res["wall_s"], 2), "archs_per_s": round(n / res["wall_s"], 2),
               "gpu_procs": args.gpu_procs, "cpu_procs": cpu, "by_worker": res["by_worker"],
               "median_s": {d: float(f"{float(__import__('numpy').nanmedian(res['seconds'][d])):.4f}") for d in datasets}}
    if args.out:
        write_table(args.out, res, datasets, args.batch_size, args.seed, {"workers": f"{args.gpu_procs} per GPU + {cpu} CPU"})
        summary["table"] = args.out
    print(json.dumps(summary))
    return 0
