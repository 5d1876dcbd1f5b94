"""Score sampled architectures with a zero-cost proxy and report Spearman's rho and Kendall's tau
against the benchmark's accuracy (NB201: 200-epoch test accuracy of --dataset; nb101/darts: the
500-architecture subsets' validation accuracy). Writes scores.csv, scatter.png and summary.json into
--out (default out/correlate/<space>-<dataset>-<proxy>-s<seed>); with --json the last stdout line is
summary.json's object. Computed scores are cached, so a second run is instant.
Python: gradsign_nas.correlate(...)."""

from __future__ import annotations

import argparse
import sys

from ._options import add_options, config_from


def add_arguments(p: argparse.ArgumentParser) -> None:
    from gradsign_nas.api.configs import CorrelateConfig

    add_options(p, CorrelateConfig)


def run(args: argparse.Namespace) -> int:
    from gradsign_nas import api
    from gradsign_nas._io import dumps

    result = api.correlate(config_from(api.CorrelateConfig, args))
    print(result.format())
    c = result.run.correlation
    if c.n_nan:
        print(
            f"{c.n_nan} of {len(result.run.indices)} architectures had no finite score and were left out",
            file=sys.stderr,
        )
    p = result.paths
    print(f"wrote {p['csv']}, {p['png']}, {p['summary']}")
    if args.json:
        print(dumps(result.summary))
    return 0
