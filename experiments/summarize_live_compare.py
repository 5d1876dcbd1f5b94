"""The statistics of a live comparison from its records alone, without running or replaying anything:
for a comparison stopped before its end (a time limit) whose first RUNS seeds finished everywhere, or
one recorded on a machine that is not at hand (replaying an assisted search re-scores its candidates,
and a CPU's proxy scores can pick other candidates than the GPU's did).

Reads OUT/searches/seed-R/ALGORITHM-VARIANT (search, final evaluation) for R < RUNS, computes the
comparison's tables as ``compare --live`` does (same row shape, same statistics, the NB201 truth of the
found cells and the reward's rank agreement) and writes results.md and summary.json into WRITE.
Usage:
  python experiments/summarize_live_compare.py OUT --runs 8 --algorithms rs,rea \
      --variants vanilla,assisted,warmup --final-epochs 18 --data-dir DIR --write DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gradsign_nas import stats
from gradsign_nas.api._compare_live import _row, _share
from gradsign_nas.api._final import NB201_KEYS, TRUTH_NOTE, rank_agreement
from gradsign_nas.benchmarks import NB201Benchmark
from gradsign_nas.execution.fanout import run_seed
from gradsign_nas.results import read_history


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--algorithms", default="rs,rea")
    p.add_argument("--variants", default="vanilla,assisted")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric", default="valid_acc")
    p.add_argument("--final-epochs", type=int)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--write", type=Path, required=True)
    a = p.parse_args()
    algos, variants = a.algorithms.split(","), a.variants.split(",")
    bench = NB201Benchmark(a.data_dir)
    rows, records = [], []
    for r in range(a.runs):
        for alg in algos:
            for v in variants:
                d = a.out / "searches" / f"seed-{r}" / f"{alg}-{v}"
                rows.append(_row(alg, v, r, run_seed(a.seed, r), d, a.metric, a.final_epochs, bench))
                records += read_history(d)
    datasets = [a.metric] + (["final_test_acc"] if a.final_epochs else []) + list(NB201_KEYS.values())
    summary = stats.summarize(rows, datasets)
    pvals = stats.p_values(rows, datasets)
    spvals = stats.strategy_p_values(rows, datasets)
    line = {
        "runs": a.runs,
        "results": {
            g: {v: {d: {"mean": c["mean"], "std": c["std"]} for d, c in cells.items()} for v, cells in vs.items()}
            for g, vs in summary.items()
        },
        "p_values": pvals,
        "proxy_time": {
            g: {v: _share([x for x in rows if x["algorithm"] == g and x["variant"] == v]) for v in variants}
            for g in algos
        },
        "reward_rank_agreement": rank_agreement(records, bench),
        "note": TRUTH_NOTE,
    }
    if spvals:
        line["strategy_p_values"] = spvals
    line.update(stats.paired_keys(rows, datasets, pvals, spvals))
    md = stats.markdown_table(summary, pvals, datasets) + "\n" + stats.paired_table(line, datasets)
    a.write.mkdir(parents=True, exist_ok=True)
    (a.write / "results.md").write_text(md)
    (a.write / "summary.json").write_text(json.dumps(line, indent=1))
    print(md)
    print(json.dumps({k: line[k] for k in ("reward_rank_agreement", "proxy_time")}))


if __name__ == "__main__":
    main()
