"""Spearman's rho of every packaged whole-space NB201 proxy table against NB201's 200-epoch test
accuracy, over the same cells for every proxy: all 15,625 cells, and the connected cells only.

A cell is disconnected when no path of non-'none' operations leads from node 0 (the input) to node 3
(the output): its output ignores the input. That is computed from the architecture string, not from
any proxy's score. Scores of -inf (a baseline's mark for such a network) are kept and rank lowest; NaN
scores (the tables hold none, ``TableScorer`` refuses them) would be counted and dropped per column.

    GRADSIGN_NAS_DATA=../shared/data .venv/bin/python experiments/correlation_same_cells.py
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from scipy.stats import spearmanr

from gradsign_nas import proxies
from gradsign_nas.assist import TableScorer
from gradsign_nas.benchmarks import NB201Benchmark
from gradsign_nas.errors import InputError

TARGETS = {"C10": "cifar10_test", "C100": "cifar100_test", "IN16": "ImageNet16-120_test"}
ENSEMBLES = ["gradsign+jacob_cov"]


def connected(arch: str) -> bool:
    """Whether a path of non-'none' ops leads from node 0 to node 3 of the NB201 cell ``arch``
    (``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: node j's inputs, op~i from node i)."""
    reach = {0}
    for j, node in enumerate(arch.split("+"), start=1):
        for edge in filter(None, node.strip("|").split("|")):
            op, i = edge.rsplit("~", 1)
            if op != "none" and int(i) in reach:
                reach.add(j)
                break
    return 3 in reach


def _rho(score: np.ndarray, acc: np.ndarray, mask: np.ndarray) -> float:
    keep = mask & ~np.isnan(score)
    return float(spearmanr(score[keep], acc[keep]).statistic)  # ranks handle -inf (lowest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"))
    ap.add_argument("--score-dataset", default="cifar10", help="the batch the proxies scored (cifar10, cifar100)")
    args = ap.parse_args()
    bench = NB201Benchmark(args.data_dir)
    archs = bench.archs
    conn = np.asarray([connected(a) for a in archs])
    acc = {k: np.asarray(bench.column(m), dtype=float) for k, m in TARGETS.items()}
    everyone = np.ones(len(archs), dtype=bool)
    print(
        f"{len(archs)} cells, {int(conn.sum())} connected, {int((~conn).sum())} disconnected; "
        f"scores of the {args.score_dataset} batch\n"
    )
    head = " | ".join(f"{k} all | {k} connected" for k in TARGETS)
    print(f"| proxy | {head} | -inf (all / connected) | NaN |")
    print("|---|" + "---|---|" * len(TARGETS) + "---|---|")
    for name in [*proxies.available(), *ENSEMBLES]:
        try:
            table = TableScorer.nb201(args.score_dataset, name)
        except InputError as e:
            print(f"<!-- {name}: no table ({e}) -->")
            continue
        score = np.asarray([table.score(a) for a in archs], dtype=float)
        nan = int(np.isnan(score).sum())
        ninf = np.isneginf(score)
        cells = " | ".join(f"{_rho(score, acc[k], everyone):.3f} | {_rho(score, acc[k], conn):.3f}" for k in TARGETS)
        print(f"| {name} | {cells} | {int(ninf.sum())} / {int((ninf & conn).sum())} | {nan} |")


if __name__ == "__main__":
    main()
