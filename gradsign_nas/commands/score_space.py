"""Score every NB201 architecture (or the first --limit) with GradSign (or any --proxies) on fixed
real CIFAR-10 and CIFAR-100 batches through the scoring engine (every GPU of the host, CPU cores, or a Ray
cluster), and write the score
tables that assisted searches and correlate --scores table look up (--out; with several proxies a
path with {proxy} in it). Prints the throughput; with --json one JSON summary as the last line."""

from __future__ import annotations

import argparse
import os

from ._options import add_data_dir, positive_int, split_list


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--proxies",
        default="gradsign",
        help="proxies to score, comma-separated, from gradsign_nas.proxies.available() (default gradsign)",
    )
    p.add_argument(
        "--datasets",
        default="cifar10,cifar100",
        help="image batches to score on, comma-separated: cifar10, cifar100 (default both)",
    )
    p.add_argument("--batch-size", type=int, default=64, help="images in the scoring batch (default 64)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the batch choice and torch.manual_seed before every build (default 0)",
    )
    add_data_dir(p, "the CIFAR images")
    p.add_argument("--gpu-procs", type=int, default=0, help="scoring processes per visible GPU (default 0)")
    p.add_argument(
        "--cpu-procs",
        type=int,
        default=None,
        help="single-threaded CPU scoring processes (default: all cores, or none with --gpu-procs)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="GradSign on the GPU: score the space in 125 blocks of equal shapes with the stacked pass "
        "compiled by torch.compile (the first block per process compiles, minutes; PyTorch caches it)",
    )
    p.add_argument("--limit", type=int, default=None, help="score only the first N indices, for timing (default all)")
    p.add_argument(
        "--address",
        default=None,
        help="score as Ray tasks on this Ray cluster ('local' starts one); with --gpu-procs, on its GPUs",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE.npz",
        help="the score table to write (only with all 15,625 architectures; with several --proxies a "
        "path containing {proxy}, e.g. tables/nb201_{proxy}.npz; default: none)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line on stdout")


def run(args: argparse.Namespace) -> int:
    from gradsign_nas import proxies as proxy_registry
    from gradsign_nas.benchmarks import load_batch
    from gradsign_nas.benchmarks.images import IMAGE_DATASETS
    from gradsign_nas.errors import InputError
    from gradsign_nas.space_scoring import score_space, write_table

    from ._options import check_out_dir

    datasets = split_list("--datasets", args.datasets, IMAGE_DATASETS)
    names = split_list("--proxies", args.proxies, proxy_registry.available())
    if args.out and len(names) > 1 and "{proxy}" not in args.out:
        raise InputError(f"expected --out to contain {{proxy}} when scoring {len(names)} proxies, but got {args.out!r}")
    positive_int("--batch-size", args.batch_size)
    positive_int("--seed", args.seed, 0)
    positive_int("--gpu-procs", args.gpu_procs, 0)
    if args.cpu_procs is not None:
        positive_int("--cpu-procs", args.cpu_procs, 0)
    if args.limit is not None and not 1 <= args.limit <= 15625:
        raise InputError(f"expected --limit in 1..15625, but got {args.limit}")
    if args.out and args.limit is not None:
        raise InputError("expected either --out (a whole-space table) or --limit, but got both")
    if args.out:  # checked before hours of scoring, not after
        out = os.path.abspath(args.out.replace("{proxy}", names[0]))
        if os.path.isdir(out):
            raise InputError(f"expected --out to be an .npz file, but {args.out} is a directory")
        check_out_dir(os.path.dirname(out))
    for d in datasets:  # fail on missing data before any work starts
        load_batch(d, args.batch_size, args.seed, args.data_dir)
    default_cpu = 0 if args.gpu_procs else (os.cpu_count() or 1)  # on a GPU host the GPUs do the work
    cpu = args.cpu_procs if args.cpu_procs is not None else default_cpu
    if cpu + args.gpu_procs < 1 and args.address is None:
        raise InputError("expected at least one scoring process, but got --gpu-procs 0 and --cpu-procs 0")
    n = args.limit or 15625
    res = score_space(
        range(n),
        datasets,
        args.batch_size,
        args.seed,
        args.data_dir,
        args.gpu_procs,
        cpu,
        progress=not args.quiet,
        proxies=names,
        address=args.address,
        compile=args.compile,
    )
    import numpy as np

    summary = {
        "n": n,
        "wall_s": round(res["wall_s"], 2),
        "archs_per_s": round(n / res["wall_s"], 2),
        "gpu_procs": args.gpu_procs,
        "cpu_procs": cpu,
        "compile": args.compile,
        "by_worker": res["by_worker"],
        "median_s": {q: {d: round(float(np.nanmedian(res["seconds"][q][d])), 4) for d in datasets} for q in names},
    }
    if args.out:
        summary["tables"] = []
        for q in names:
            path = args.out.replace("{proxy}", q)
            write_table(
                path,
                res,
                datasets,
                args.batch_size,
                args.seed,
                {"workers": f"{args.gpu_procs} per GPU + {cpu} CPU", "compiled": args.compile},
                proxy=q,
            )
            summary["tables"].append(path)
    print(
        f"scored {n} architectures x {len(datasets)} batches x {len(names)} proxies in {summary['wall_s']} s "
        f"({summary['archs_per_s']} archs/s)" + (f"; wrote {', '.join(summary['tables'])}" if args.out else "")
    )
    if args.json:
        from gradsign_nas._io import dumps

        print(dumps(summary))
    return 0
