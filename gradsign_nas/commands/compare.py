"""Many seeded searches on NAS-Bench-201, vanilla vs GradSign-assisted, with statistics and plots.

Every (algorithm, variant, run) is one independent search under the NAS-Bench-201 protocol; run r
uses the same seed for every algorithm and variant. Runs fan out as Ray tasks over all local cores
(or a cluster with --address; --workers 1 runs in this process). Writes into --out: results.md and
results.csv (mean +- std of the best-found network's 200-epoch test accuracy per algorithm x variant
x dataset, and the one-sided Mann-Whitney U p-value of assisted > vanilla), curves.png (best-so-far
accuracy vs simulated time), runs.csv and runs.json (every run), summary.json and report.html (all of
it in one self-contained page). With --json the last
line on stdout is one JSON object {"runs", "budget", "results", "p_values", "ceiling", "proxy_scores"};
with --strategies, each strategy is a variant of "results" and "proxy_scores" beside vanilla and
assisted, and "strategy_p_values" gives each one's p against vanilla and against assisted.
"""

from __future__ import annotations

import argparse
import csv
import io
import time

from ..benchmarks.nb201 import DATASETS
from ._options import (
    MAX_PROCS,
    MAX_RUNS,
    VARIANTS,
    add_address,
    add_common,
    add_tabular,
    add_workers,
    check_algorithms,
    check_out_dir,
    check_tabular,
    load_evaluator,
    load_scorer,
    positive_int,
    split_list,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--algorithms",
        default="rs,rea,reinforce,bohb",
        help="algorithms to compare, comma-separated (default rs,rea,reinforce,bohb)",
    )
    p.add_argument(
        "--variants",
        default="vanilla,assisted",
        help="which variants to run, comma-separated: vanilla, assisted (best of K) and any strategy "
        "of --strategies (default vanilla,assisted)",
    )
    p.add_argument(
        "--strategies",
        default=None,
        help="assistance strategies to run as further variants, comma-separated, or 'all' "
        "(gradsign_nas.strategies: warmup, adaptive; each at a proxy budget no larger than best of K's)",
    )
    p.add_argument(
        "--runs", type=int, default=None, help="runs per algorithm and variant (default 500; with --live: 3 seeds)"
    )
    add_tabular(p)
    add_workers(
        p,
        "default: all cores; 1 runs everything in this process without Ray; with --live --no-ray: searches "
        "at once, each in its own process, default one per GPU on CUDA, else 1",
    )
    add_address(p, "fan the runs out on")
    from . import compare_live

    compare_live.add_arguments(p)
    add_common(
        p,
        out_required=True,
        seed_help="seed of the comparison; run r of every algorithm and variant "
        "shares one seed derived from it (default 0)",
        out_help="output directory: results.md, results.csv, runs.csv, runs.json, summary.json, curves.png, "
        "report.html",
    )


def _runs_csv(rows) -> str:
    buf = io.StringIO()
    cols = [
        "algorithm",
        "variant",
        "run",
        "seed",
        "best_arch",
        "best_index",
        "best_metric",
        "best_fidelity",
        *DATASETS,
        "n_evaluations",
        "n_discarded",
        "sim_time",
        "wall_s",
    ]
    w = csv.DictWriter(buf, cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _mean_stats(rows) -> dict:
    """Mean of every numeric algorithm statistic per algorithm x variant (e.g. BOHB's model vs
    random rewards)."""
    out: dict = {}
    for r in rows:
        acc = out.setdefault(r["algorithm"], {}).setdefault(r["variant"], {})
        for k, v in _flatten(r.get("stats") or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
                s = acc.setdefault(k, [0.0, 0])
                s[0] += v
                s[1] += 1
    return {a: {v: {k: s / n for k, (s, n) in d.items()} for v, d in vs.items()} for a, vs in out.items()}


def check_variants(args: argparse.Namespace, algos: list[str]) -> list[str]:
    """``--variants`` plus the strategies of ``--strategies`` (names or 'all'), each strategy checked
    to be defined for every algorithm before anything runs."""
    from gradsign_nas import strategies as strategy_registry

    variants = split_list("--variants", args.variants, VARIANTS + tuple(strategy_registry.available()))
    if args.strategies is not None:
        names = (
            strategy_registry.available()
            if args.strategies.strip() == "all"
            else split_list("--strategies", args.strategies, strategy_registry.available())
        )
        variants += [v for v in names if v not in variants]
    for v in variants:  # a strategy defined only for some algorithms is refused before anything runs
        if v not in VARIANTS:
            for a in algos:
                strategy_registry.settings(v, a, args.k)
    return variants


def _mean_proxy_scores(rows) -> dict:
    """``{algorithm: {variant: mean proxy scores asked for per run}}`` (best-of-K: K per evaluation)."""
    acc: dict = {}
    for r in rows:
        acc.setdefault(r["algorithm"], {}).setdefault(r["variant"], []).append(r.get("proxy_scores") or 0)
    return {a: {v: sum(x) / len(x) for v, x in vs.items()} for a, vs in acc.items()}


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def run(args: argparse.Namespace) -> int:
    if args.live:
        from . import compare_live

        if args.runs is None:
            args.runs = compare_live.LIVE_DEFAULT_RUNS
        return compare_live.run(args)
    if args.runs is None:
        args.runs = 500
    # 1. validate everything and load the data: nothing is written before this succeeds
    fidelities = check_tabular(args)
    algos = check_algorithms(args.algorithms.split(","))
    variants = check_variants(args, algos)
    positive_int("--runs", args.runs, 1, MAX_RUNS)
    if args.workers is not None:
        positive_int("--workers", args.workers, 1, MAX_PROCS)
    out = check_out_dir(args.out)
    assert out is not None  # --out is required
    evaluator = load_evaluator(args)
    scorer = load_scorer(args, evaluator.space) if set(variants) - {"vanilla"} else None

    from gradsign_nas import stats
    from gradsign_nas._io import write_json_atomic, write_text_atomic
    from gradsign_nas.execution.fanout import Context, make_specs, run_all
    from gradsign_nas.plots import plot_curves

    # 2. run
    ctx = Context(
        evaluator,
        budget_s=args.budget,
        workers=args.sim_workers,
        fidelities=fidelities,
        scorer=scorer,
        k=args.k,
        charge_proxy_time=args.charge_proxy_time,
    )
    specs = make_specs(algos, variants, args.runs, args.seed)
    t0 = time.perf_counter()
    rows = run_all(specs, ctx, workers=args.workers, address=args.address, progress=not args.no_progress)
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
        "runs": args.runs,
        "budget": float(args.budget),
        "results": results,
        "p_values": pvals,
        "ceiling": {
            "index": ceiling["index"],
            "test": ceiling["test"],
            "found": {a: {v: c["found"] for v, c in vs.items()} for a, vs in ceiling_by.items()},
        },
        "proxy_scores": _mean_proxy_scores(rows),
    }
    if spvals:
        line["strategy_p_values"] = spvals
    config = {
        "space": "nb201",
        "algorithms": algos,
        "variants": variants,
        "runs": args.runs,
        "budget_s": float(args.budget),
        "seed": args.seed,
        "k": args.k,
        "fidelities": list(fidelities),
        "charge_proxy_time": args.charge_proxy_time,
        "scores": args.score_table or args.scores,
        "proxy": args.proxy,
        "score_dataset": args.score_dataset,
        "sim_workers": args.sim_workers,
    }
    out.mkdir(parents=True, exist_ok=True)
    md = stats.markdown_table(summary, pvals, DATASETS, spvals) + "\n" + ceiling_md
    write_text_atomic(out / "results.md", md)
    write_text_atomic(out / "results.csv", stats.table_csv(summary, pvals, DATASETS))
    write_text_atomic(out / "runs.csv", _runs_csv(rows))
    write_json_atomic(out / "runs.json", {"config": config, "runs": rows})
    from gradsign_nas._meta import data_checksums, environment
    from gradsign_nas.benchmarks.nb201 import _SOURCES as NB201_SOURCES

    write_json_atomic(
        out / "summary.json",
        {
            **line,
            "config": config,
            "n": summary,
            "ceiling_detail": ceiling_by,
            "algorithm_stats": _mean_stats(rows),
            "wall_s": wall,
            "environment": environment(data_checksums(NB201_SOURCES)),
        },
    )
    plot_curves(
        rows,
        args.budget,
        out / "curves.png",
        DATASETS,
        ceiling=ceiling["test"],
        title=f"{', '.join(algos)} on NAS-Bench-201 (searched on cifar10-valid, test accuracy of the best found), "
        f"seed {args.seed}, budget {args.budget:,.0f} s",
    )
    return finish(
        args,
        out,
        line,
        md,
        f"gradsign-nas compare: {', '.join(algos)} on NAS-Bench-201",
        [out / "curves.png"],
        f"{args.runs} runs per algorithm and variant, seed {args.seed}, budget {args.budget:,.0f} s",
        f"{len(rows)} runs in {wall:.1f} s; files in {out}",
    )


def finish(
    args: argparse.Namespace, out, line: dict, md: str, title: str, plots: list, subtitle: str, done: str
) -> int:
    """The last step of a comparison, tabular or live: report.html, then the JSON line or the table."""
    from gradsign_nas._io import dumps
    from gradsign_nas.report import write_report

    write_report(out, title, plots, subtitle=subtitle)
    if args.json:
        print(dumps(line))
    else:
        print(md, end="")
        print(done)
    return 0
