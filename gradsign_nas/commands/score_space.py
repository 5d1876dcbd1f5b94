"""Score every NB201 architecture (or the --first N) with GradSign (or any --proxies) on fixed real
CIFAR-10 and CIFAR-100 batches through the scoring engine (every GPU of the host, CPU cores, or a Ray
cluster), and write the score tables that assisted searches and correlate --scores table look up
(--out FILE.npz; with several proxies a path with {proxy} in it). Prints the throughput; with --json
one JSON summary as the last line. Python: gradsign_nas.score_space(...)."""

from __future__ import annotations

import argparse

from ._options import add_options, config_from


def add_arguments(p: argparse.ArgumentParser) -> None:
    from gradsign_nas.api.configs import ScoreSpaceConfig

    add_options(p, ScoreSpaceConfig)


def run(args: argparse.Namespace) -> int:
    from gradsign_nas import api
    from gradsign_nas._io import dumps

    result = api.score_space(config_from(api.ScoreSpaceConfig, args))
    print(result.format())
    if args.json:
        print(dumps(result.summary))
    return 0
