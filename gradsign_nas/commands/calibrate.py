"""Does a short training rank networks? Trains the same --cells random NB201 cells (CIFAR-10 images,
--data cifar10) at each of --epoch-counts and prints, per epoch count, the Spearman rank correlation
of the rewards (validation accuracy) with NAS-Bench-201's 200-epoch test accuracy of the same cells,
and what it cost; the proxy's scores of the same cells beside them. A live search should use the
cheapest reward that ranks. Writes <out>/<E>ep/ (one run per epoch count, resumable) and
<out>/summary.json (default --out ./calibrate). Python: gradsign_nas.calibrate(...)."""

from __future__ import annotations

import argparse

from ._options import add_options, config_from


def add_arguments(p: argparse.ArgumentParser) -> None:
    from gradsign_nas.api.configs import CalibrateConfig

    add_options(p, CalibrateConfig)


def run(args: argparse.Namespace) -> int:
    from gradsign_nas import api
    from gradsign_nas._io import dumps

    result = api.calibrate(config_from(api.CalibrateConfig, args))
    print(result.format())
    if args.json:
        print(dumps(result.summary))
    return 0
