"""``gradsign_nas.compare``: many seeded searches, vanilla vs GradSign-assisted, with statistics.

Tabular (the default): every (algorithm, variant, run) is one independent search under the
NAS-Bench-201 protocol; run r uses the same seed for every algorithm and variant. Runs fan out as Ray
tasks over all local cores (or a cluster with ``address``; ``workers=1`` runs in this process).
With ``live=True`` the searches train networks (``gradsign_nas.api._compare_live``).
"""

from __future__ import annotations

import time
from typing import Any, Optional

from ._checks import MAX_PROCS, MAX_RUNS, check_address, check_out_dir, positive_int, refuse_unused
from ._compare_common import _mean_stats, _runs_csv, check_lists, mean_proxy_scores, write_report_for
from ._options import algorithm_options
from ._results import CompareResult
from ._tabular import check_tabular, load_evaluator, load_scorer, score_source
from .configs import LIVE_ONLY, CompareConfig, make_config

DEFAULT_RUNS = 500


def compare(config: Optional[CompareConfig] = None, /, **options: Any) -> CompareResult:
    """Vanilla against assisted (and any strategies) over many seeded searches; the same as
    ``gradsign-nas compare`` with the same option names.

    With ``out`` it writes results.md, results.csv, runs.csv, runs.json, summary.json, the curves and
    report.html there; without, nothing is written (the result holds everything).

    Args:
        config: a ``CompareConfig``; ``options`` (its field names) override its fields.

    Returns:
        A ``CompareResult``: ``.summary`` (summary.json: ``results``, ``p_values``, ``ceiling``,
        ``config`` ...), ``.to_pandas()`` (one row per search), ``.table`` (results.md).

    Examples:
        >>> r = gradsign_nas.compare(algorithms=["rea"], runs=5, seed=3)  # doctest: +SKIP
        >>> r.summary["results"]["rea"]["assisted"]["cifar10"]["mean"]     # doctest: +SKIP
    """
    cfg = make_config(CompareConfig, config, options)
    if cfg.live:
        from ._compare_live import compare_live

        return compare_live(cfg)
    refuse_unused(cfg, LIVE_ONLY, "is an option of live comparisons (live=True, --live), not of table searches")
    runs = cfg.runs if cfg.runs is not None else DEFAULT_RUNS
    # 1. validate everything and load the data: nothing is written before this succeeds
    fidelities = check_tabular(cfg)
    algos, variants = check_lists(cfg)
    own = algorithm_options(cfg.algorithm_options, algos)
    positive_int("--runs", runs, 1, MAX_RUNS)
    if cfg.workers is not None:
        positive_int("--workers", cfg.workers, 1, MAX_PROCS)
    check_address(cfg.address)
    out = check_out_dir(cfg.out)
    evaluator = load_evaluator(cfg)
    scorer = load_scorer(cfg, evaluator.space) if set(variants) - {"vanilla"} else None

    from .. import stats
    from ..benchmarks.nb201 import DATASETS
    from ..execution.fanout import Context, make_specs, run_all

    # 2. run
    ctx = Context(
        evaluator,
        budget_s=cfg.budget,
        workers=cfg.sim_workers,
        fidelities=fidelities,
        scorer=scorer,
        k=cfg.k,
        charge_proxy_time=cfg.charge_proxy_time,
        options={a: o for a, o in own.items() if o},
    )
    specs = make_specs(algos, variants, runs, cfg.seed)
    t0 = time.perf_counter()
    rows = run_all(specs, ctx, workers=cfg.workers, address=cfg.address, progress=not cfg.no_progress)
    wall = time.perf_counter() - t0

    # 3. statistics, then every file written atomically
    summary = stats.summarize(rows, DATASETS)
    pvals = stats.p_values(rows, DATASETS)
    spvals = stats.strategy_p_values(rows, DATASETS)
    results = {
        a: {v: {d: {"mean": c["mean"], "std": c["std"]} for d, c in cells.items()} for v, cells in vs.items()}
        for a, vs in summary.items()
    }
    ceiling = evaluator.ceiling(max(fidelities))
    ceiling_md, ceiling_by = stats.ceiling_table(rows, ceiling, DATASETS)
    line = {
        "runs": runs,
        "budget": float(cfg.budget),
        "results": results,
        "p_values": pvals,
        "ceiling": {
            "index": ceiling["index"],
            "test": ceiling["test"],
            "found": {a: {v: c["found"] for v, c in vs.items()} for a, vs in ceiling_by.items()},
        },
        "proxy_scores": mean_proxy_scores(rows),
    }
    if spvals:
        line["strategy_p_values"] = spvals
    line.update(stats.paired_keys(rows, DATASETS, pvals, spvals))  # "paired", "strategy_paired", "holm"
    record: dict[str, Any] = {
        "space": "nb201",
        "algorithms": algos,
        "variants": variants,
        "runs": runs,
        "budget_s": float(cfg.budget),
        "seed": cfg.seed,
        "k": cfg.k,
        "fidelities": list(fidelities),
        "charge_proxy_time": cfg.charge_proxy_time,
        "scores": score_source(cfg),
        "proxy": cfg.proxy,
        "score_dataset": cfg.score_dataset,
        "sim_workers": cfg.sim_workers,
    }
    if record["scores"] == "on-demand":
        record["score_batch_size"] = cfg.score_batch_size
    if any(own.values()):
        record["algorithm_options"] = {a: o for a, o in own.items() if o}
    from .._meta import data_checksums, environment
    from ..benchmarks.nb201 import _SOURCES as NB201_SOURCES

    md = stats.markdown_table(summary, pvals, DATASETS, spvals) + "\n" + ceiling_md
    md += "\n" + stats.paired_table(line, DATASETS)
    full = {
        **line,
        "config": record,
        "n": summary,
        "ceiling_detail": ceiling_by,
        "algorithm_stats": _mean_stats(rows),
        "wall_s": wall,
        "environment": environment(data_checksums(NB201_SOURCES)),
    }
    result = CompareResult(
        full, out, config=cfg, rows=rows, table=md, line=line, done=f"{len(rows)} runs in {wall:.1f} s"
    )
    if out is not None:
        from .._io import write_json_atomic, write_text_atomic
        from ..plots import plot_curves

        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "results.md", md)
        write_text_atomic(out / "results.csv", stats.table_csv(summary, pvals, DATASETS))
        write_text_atomic(out / "runs.csv", _runs_csv(rows, DATASETS))
        write_json_atomic(out / "runs.json", {"config": record, "runs": rows})
        write_json_atomic(out / "summary.json", full)
        plot_curves(
            rows,
            cfg.budget,
            out / "curves.png",
            DATASETS,
            ceiling=ceiling["test"],
            title=f"{', '.join(algos)} on NAS-Bench-201 (searched on cifar10-valid, test accuracy of the best "
            f"found), seed {cfg.seed}, budget {cfg.budget:,.0f} s",
        )
        write_report_for(
            result,
            f"gradsign-nas compare: {', '.join(algos)} on NAS-Bench-201",
            [out / "curves.png"],
            f"{runs} runs per algorithm and variant, seed {cfg.seed}, budget {cfg.budget:,.0f} s",
        )
    return result
