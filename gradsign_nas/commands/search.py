"""A live search: every trial really trains a network. With no options, a vanilla and a
GradSign-assisted regularized evolution on the NAS-Bench-201 cell space sized for scikit-learn's
bundled 8x8 digits (C=8, N=1, one input channel; no download), 20 trials x 3 epochs per variant,
each trial a Ray Tune trial on all local cores. Writes per variant <out>/<algorithm>-<variant>/
(run.json, history.jsonl, best.json, best_model.pt: load it with gradsign_nas.load_best), a
side-by-side summary.json, live_search.png and report.html (default --out ./live-search). Running it
again on the same --out resumes without re-running finished trials. For a search on NAS-Bench-201's
tables (no training), see table-search. Python: gradsign_nas.search(...) with the same names."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._options import add_options, config_from


def add_arguments(p: argparse.ArgumentParser) -> None:
    from gradsign_nas.api.configs import SearchConfig

    add_options(p, SearchConfig)


def run(args: argparse.Namespace) -> int:
    from gradsign_nas import api
    from gradsign_nas._io import dumps

    result = api.search(config_from(api.SearchConfig, args))
    print(result.format())
    out = result.out or Path()
    first = next(iter(result.run_dirs.values()))
    print(
        f"wrote {out / 'summary.json'}, {out / 'live_search.png'}; per variant run.json, "
        f"history.jsonl, best.json, best_model.pt (gradsign_nas.load_best('{first}'))",
        file=sys.stderr,
    )
    print(f"report: {out / 'report.html'}", file=sys.stderr)
    if args.json:
        print(dumps(result.summary))
    return 0
