"""Score sampled architectures with a zero-cost proxy and report Spearman's rho and Kendall's tau
against the benchmark's accuracy (NB201: 200-epoch test accuracy of --dataset; nb101/darts: the
500-architecture subsets' validation accuracy). Writes scores.csv, scatter.png and summary.json into
--out; with --json the last stdout line is one JSON object. Scores are cached, so a second run is
instant."""

from __future__ import annotations

import argparse
import json
import sys

from gradsign_nas.errors import InputError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ._options import add_address, add_common, add_data_dir, add_workers

    p.add_argument("--space", default="nb201", help="nb201 (default), nb101 or darts")
    p.add_argument("--dataset", default="cifar10", help="cifar10 (default) or cifar100 (nb201 only)")
    p.add_argument(
        "--proxy", default="gradsign", help="a proxy from gradsign_nas.proxies.available() (default gradsign)"
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--sample",
        type=int,
        default=None,
        metavar="N",
        help="architectures drawn without replacement (default: 1000 for nb201, all for nb101/darts)",
    )
    which.add_argument("--all", action="store_true", help="score every architecture of the space")
    p.add_argument(
        "--scores",
        default="computed",
        choices=("computed", "table"),
        help="computed: score every sampled network now (default); table: look the scores up in the "
        "packaged whole-space NB201 tables, instantly (--proxy may then be an ensemble a+b)",
    )
    p.add_argument("--batch-size", type=int, default=64, help="images in the scoring minibatch (default 64)")
    add_data_dir(p)
    add_workers(p, "default: all CPUs; on CUDA one per GPU")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    add_address(p, "score on as Ray tasks, or 'local' to start one here", default="local processes, no Ray")
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--cache", default=None, metavar="FILE", help="score cache file (default: under the cache dir)")
    cache.add_argument("--no-cache", action="store_true", help="neither read nor write the score cache")
    add_common(
        p,
        seed_help="seeds the sample, the image batch and each network's init (default 0)",
        out_help="output directory (default out/correlate/<space>-<dataset>-<proxy>-s<seed>)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .. import proxies
    from ..correlation import check_space_dataset, correlate_proxy, load_targets, write_outputs

    # everything that can be wrong is checked before any work and before --out exists
    check_space_dataset(args.space, args.dataset)
    for name in args.proxy.split("+") if args.scores == "table" else [args.proxy]:
        proxies.get(name)
    if args.scores == "table":
        from ..assist import TableScorer

        TableScorer.nb201(args.dataset, args.proxy)  # a missing table or batch fails now
    if args.sample is not None and args.sample < 2:
        raise InputError(f"expected --sample of at least 2 architectures, but got {args.sample}")
    from ._options import MAX_BATCH, MAX_PROCS, check_out_dir, positive_int

    positive_int("--batch-size", args.batch_size, 1, MAX_BATCH)
    positive_int("--seed", args.seed, 0)
    if args.workers is not None:
        positive_int("--workers", args.workers, 1, MAX_PROCS)
    out = (
        Path(args.out)
        if args.out
        else Path("out") / "correlate" / f"{args.space}-{args.dataset}-{args.proxy}-s{args.seed}"
    )
    check_out_dir(str(out))
    if args.cache is not None:
        cache = Path(args.cache)
        if cache.is_dir():
            raise InputError(f"expected --cache to be a file, but {cache} is a directory")
        check_out_dir(str(cache.parent) if str(cache.parent) else ".")
    targets = load_targets(args.space, args.dataset, args.data_dir)
    total = len(targets[0])
    if args.sample is not None and args.sample > total:
        raise InputError(
            f"expected --sample of at most the {total} architectures of {args.space}, but got {args.sample}"
        )

    result = correlate_proxy(
        args.space,
        args.dataset,
        args.proxy,
        sample=total if args.all else args.sample,
        seed=args.seed,
        batch_size=args.batch_size,
        directory=args.data_dir,
        workers=args.workers,
        device=args.device,
        address=args.address,
        cache=False if args.no_cache else args.cache,
        progress=not args.no_progress,
        targets=targets,
        scores_from=args.scores,
    )
    paths = write_outputs(result, out)
    c = result.correlation
    print(
        f"{args.proxy} vs {result.metric} on {c.n} {args.space} architectures ({args.dataset}): "
        f"Spearman {c.spearman:.4f}, Kendall {c.kendall:.4f}, {result.wall_seconds:.1f} s"
    )
    if c.n_nan:
        print(
            f"{c.n_nan} of {len(result.indices)} architectures had no finite score and were left out", file=sys.stderr
        )
    print(f"wrote {paths['csv']}, {paths['png']}, {paths['summary']}")
    if args.json:
        print(json.dumps(result.summary()))
    return 0
