"""Many seeded searches, vanilla vs GradSign-assisted, with statistics and plots.

Every (algorithm, variant, run) is one independent search under the NAS-Bench-201 protocol; run r
uses the same seed for every algorithm and variant. Runs fan out as Ray tasks over all local cores
(or a cluster with --address; --workers 1 runs in this process). With --live the searches train
networks instead (--runs seeds, every trial a Ray Tune trial, or --no-ray). Without --out a tabular
comparison prints its table and writes nothing; a live one writes into ./live-compare. Writes into --out:
results.md and results.csv (mean +- std of the best-found network's 200-epoch test accuracy per
algorithm x variant x dataset, and the one-sided Mann-Whitney U p-value of assisted > vanilla),
curves.png (best-so-far accuracy vs simulated time), runs.csv and runs.json (every run), summary.json
and report.html (all of it in one self-contained page). With --json the last line on stdout is one
JSON object {"runs", "budget", "results", "p_values", "ceiling", "proxy_scores"}; with --strategies,
each strategy is a variant of "results" and "proxy_scores" beside vanilla and assisted, and
"strategy_p_values" gives each one's p against vanilla and against assisted. Options of table
searches are refused with --live and the other way round. Python: gradsign_nas.compare(...).
"""

from __future__ import annotations

import argparse

from ._options import add_options, config_from


def add_arguments(p: argparse.ArgumentParser) -> None:
    from gradsign_nas.api.configs import CompareConfig

    add_options(p, CompareConfig)


def run(args: argparse.Namespace) -> int:
    from gradsign_nas import api
    from gradsign_nas._io import dumps

    result = api.compare(config_from(api.CompareConfig, args))
    if args.json:
        print(dumps(result.line))
    else:
        print(result.table, end="")
        print(result.done)
    return 0
