"""Searches on NAS-Bench-201's tables under the NAS-Bench-201 protocol (cifar10-valid reward after
the 12-epoch schedule, a budget of simulated seconds, the overrunning evaluation discarded), one per
variant (default: vanilla and assisted). Nothing is trained: each evaluation is a table look-up. With
--out every evaluation is appended to <out>/<algorithm>-<variant>/history.jsonl and the best network
to its best.json; running the same command again on the same --out resumes (recorded results are
replayed, not re-evaluated) and reaches the same result. Python: gradsign_nas.table_search(...)."""

from __future__ import annotations

import argparse
import sys

from ._options import add_options, config_from


def add_arguments(p: argparse.ArgumentParser) -> None:
    from gradsign_nas.api.configs import TableSearchConfig

    add_options(p, TableSearchConfig)


def run(args: argparse.Namespace) -> int:
    from gradsign_nas import api
    from gradsign_nas._io import dumps

    result = api.table_search(config_from(api.TableSearchConfig, args))
    if args.json:
        print(dumps(result.summary))
        return 0
    print(result.format())
    if result.out is not None:
        print(f"recorded in {result.out}/<algorithm>-<variant>/ (history.jsonl, best.json)", file=sys.stderr)
    return 0
