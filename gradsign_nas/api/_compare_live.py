"""``compare(live=True)``: vanilla against assisted in live searches that really train networks.

S seeds x variants x algorithms of live searches (each ``gradsign_nas.search``'s own run, one run
directory each under ``<out>/searches/seed-<r>/<algorithm>-<variant>``), every trial a Ray Tune trial,
all searches at once in one Tune experiment on one Ray (local by default, ``address`` for a cluster;
GPUs shared with fractional ``gpus_per_trial``), each search with ``concurrency`` trials in flight
(``gradsign_nas.execution.multiplex``); with a ``scheduler`` the searches run one after another, each
its own experiment on every trial slot (a Tune scheduler compares all trials of its experiment). With
``no_ray`` every trial runs in this process (or ``workers`` local processes). Every trial records its
node, GPUs, start and end; summary.json's ``utilisation`` and timeline.png say how full the trial
slots were.
Each search keeps its own history, so the comparison resumes after an interruption without
re-running a finished trial. Run r of every algorithm and variant shares one seed (``run_seed``).

The statistics are the tabular compare's, on the best validation accuracy each search found: mean
+- std per algorithm and variant, and the one-sided Mann-Whitney p-value of assisted > vanilla. The
curves are the best-so-far validation accuracy against trials and against wall-clock seconds; the
wall clock includes the time spent on the proxy, because in a live search that is real time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._checks import MAX_PROCS, MAX_RUNS, check_address, check_out_dir, positive_int, refuse_unused
from ._compare_common import check_lists, mean_proxy_scores, write_report_for
from ._results import CompareResult
from .configs import TABULAR_ONLY, CompareConfig, SearchConfig

_log = logging.getLogger("gradsign_nas.compare")

LIVE_DEFAULT_RUNS = 3
DEFAULT_OUT = "live-compare"


def search_config(cfg: CompareConfig, algorithm: str, variants: list, run: int, seed: int) -> SearchConfig:
    """The ``SearchConfig`` of one search of the comparison (its variants: those of ``variants`` and
    ``strategies``); every shared option carries over by name."""
    shared = {f.name for f in dataclasses.fields(SearchConfig)} & {f.name for f in dataclasses.fields(CompareConfig)}
    values = {n: getattr(cfg, n) for n in shared if n not in ("variants", "out", "seed", "algorithm_options")}
    own = _own_options(cfg, algorithm)
    return SearchConfig(
        **values,
        algorithm=algorithm,
        algorithm_options=own,
        variants=",".join(variants),
        seed=seed,
        out=str(Path(cfg.out or DEFAULT_OUT) / "searches" / f"seed-{run}"),
    )


def _own_options(cfg: CompareConfig, algorithm: str):
    from ._options import algorithm_options

    algos, _ = check_lists(cfg)
    own = algorithm_options(cfg.algorithm_options, algos)[algorithm]
    return ",".join(f"{k}={v}" for k, v in own.items()) or None


def comparison(cfg: CompareConfig, run: int, runs: int) -> dict:
    """What a search's run.json records of the comparison it belongs to."""
    return {"run": run, "seed": cfg.seed, "runs": runs}


def _row(
    algorithm: str, variant: str, run: int, seed: int, run_dir: Path, metric: str, final_epochs=None, bench=None
) -> dict:
    """One search's compact result, in the tabular compare's row shape (``metric``, and where measured
    ``final_test_acc`` and the cell's ``nb201_*_test``, as its "datasets"; ``trajectory`` by trials,
    ``wall_trajectory`` by wall-clock seconds)."""
    from ._final import NB201_KEYS
    from ._live_report import summarise

    s = summarise({variant: run_dir}, 0.0, metric, final_epochs=final_epochs, bench=bench)["variants"][variant]
    measured = {k: s[k] for k in ("final_test_acc", *NB201_KEYS.values()) if k in s}
    curve, wall = s["curve"], s["wall"]
    pick = min if metric.endswith("loss") else max
    best = [pick(curve[: i + 1]) for i in range(len(curve))]
    return {
        "algorithm": algorithm,
        "variant": variant,
        "run": run,
        "seed": seed,
        "best_arch": s["best_arch"],
        metric: s[f"best_{metric}"],
        "trials": s["trials"],
        "failed": s["failed"],
        "train_s": s["train_s"],
        "proxy_s": s["proxy_s"],
        "wall_s": round(max(wall), 2) if wall else 0.0,
        **measured,
        "trajectory": {"time": list(range(1, len(best) + 1)), metric: best},
        "wall_trajectory": {"time": wall, metric: best},
    }


def compare_live(cfg: CompareConfig) -> CompareResult:
    """The live comparison ``cfg`` (with ``live=True``) describes; see ``gradsign_nas.compare``."""
    from .. import stats
    from ..execution.fanout import run_seed
    from ._final import NB201_KEYS, TRUTH_NOTE, nb201_truth, rank_agreement
    from ._search import data_label, open_search, session, validate

    refuse_unused(cfg, TABULAR_ONLY, "is an option of table searches, not of live comparisons (--live)")
    runs = cfg.runs if cfg.runs is not None else LIVE_DEFAULT_RUNS
    metric = cfg.metric
    # 1. every search's options, data and any record to resume checked before the first trial
    algos, variants = check_lists(cfg)
    if cfg.workers is not None and not cfg.no_ray:
        raise InputError(
            "expected --workers with the tabular compare or with --live --no-ray; with Ray use --num-cpus or --address"
        )
    positive_int("--runs", runs, 1, MAX_RUNS)
    if cfg.workers is not None:
        positive_int("--workers", cfg.workers, 1, MAX_PROCS)
    if cfg.concurrency is not None:
        if cfg.no_ray:
            raise InputError("--concurrency applies to Ray trials only, but --no-ray runs the searches without Ray")
        positive_int("--concurrency", cfg.concurrency, 1, MAX_PROCS)
        if (cfg.scheduler or "fifo") != "fifo":
            raise InputError(
                f"--concurrency sets the trials of each search when all searches share one Tune experiment, but with "
                f"--scheduler {cfg.scheduler} each search runs alone on every trial slot (its scheduler sees its trials only)"
            )
    check_address(cfg.address)
    out = check_out_dir(cfg.out if cfg.out is not None else DEFAULT_OUT)
    assert out is not None
    from ._live_processes import search_devices

    devices = search_devices(cfg) if cfg.no_ray else []
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if len(devices) <= 1:  # one Ray for every search, joined before anything is written
            stack.enter_context(session(cfg))
        searches = []
        for r in range(runs):
            seed = run_seed(cfg.seed, r)
            for a in algos:
                scfg = search_config(cfg, a, variants, r, seed)
                validate(scfg)
                for v in variants:
                    searches.append((a, v, r, seed, scfg, *open_search(scfg, v, comparison(cfg, r, runs))))
        bench = nb201_truth(cfg)
        # 2. the searches: one after another on one Ray (each search's trials concurrently on the
        # cluster), or with no_ray in this process, or in local processes (workers; one per GPU on CUDA)
        rows, replayed, slots = _run_searches(cfg, searches, devices, bench, metric, runs)
    wall = time.perf_counter() - t0
    if replayed:
        _log.info("resumed: %d recorded trials replayed, not re-run", replayed)

    # 3. statistics and files, as the tabular compare writes them
    datasets = [metric] + (["final_test_acc"] if cfg.final_epochs is not None else [])
    datasets += list(NB201_KEYS.values()) if bench is not None else []
    summary = stats.summarize(rows, datasets)
    pvals = stats.p_values(rows, datasets)
    results = {
        a: {v: {d: {"mean": c["mean"], "std": c["std"]} for d, c in cells.items()} for v, cells in vs.items()}
        for a, vs in summary.items()
    }
    proxy_time = {
        a: {
            v: _share([x for x in rows if x["algorithm"] == a and x["variant"] == v])
            for v in dict.fromkeys(x["variant"] for x in rows if x["algorithm"] == a)
        }
        for a in algos
    }
    line = {
        "runs": runs,
        "budget": {"trials": cfg.trials, "epochs": cfg.epochs},
        "results": results,
        "p_values": pvals,
        "ceiling": None,  # no table: the best possible network of a live search is unknown
        "proxy_scores": mean_proxy_scores(rows),
        "proxy_time": proxy_time,
    }
    if bench is not None:
        from ..results import read_history

        records = [rec for s in searches for rec in read_history(s[7])]
        line["reward_rank_agreement"] = rank_agreement(records, bench)
        line["note"] = TRUTH_NOTE
    spvals = stats.strategy_p_values(rows, datasets)
    if spvals:
        line["strategy_p_values"] = spvals
    line.update(stats.paired_keys(rows, datasets, pvals, spvals))  # "paired", "strategy_paired", "holm"
    label = data_label(cfg.data)  # the data's name, or the arrays' shapes and sha256
    config = {
        "live": True,
        "space": cfg.space,
        "data": label,
        "algorithms": algos,
        "variants": variants,
        "runs": runs,
        "seed": cfg.seed,
        "trials": cfg.trials,
        "epochs": cfg.epochs,
        "k": cfg.k,
        "proxy": cfg.proxy,
    }
    if metric != "valid_acc":
        config["metric"] = metric
    md = stats.markdown_table(summary, pvals, datasets) + "\n" + stats.paired_table(line, datasets)
    from ..results import read_history
    from ._utilisation import intervals, slot_utilisation

    runs_by_id = {f"seed {s[2]} {s[0]} {s[1]}": read_history(s[7]) for s in searches}
    finals = f"final/{int(cfg.final_epochs)}ep-*/history.jsonl" if cfg.final_epochs is not None else ""
    for s in searches if finals else []:  # the final trainings are trials of the comparison too
        for h in sorted(Path(s[7]).glob(finals)):
            runs_by_id[f"seed {s[2]} {s[0]} {s[1]} final {h.parent.name}"] = read_history(h.parent)
    spans = intervals(runs_by_id)
    full = {**line, "config": config, "n": summary, "wall_s": wall, "utilisation": slot_utilisation(spans, slots)}
    result = CompareResult(
        full, out, config=cfg, rows=rows, table=md, line=line, done=f"{len(rows)} live searches in {wall:.1f} s"
    )
    _write(result, cfg, algos, label, runs, summary, pvals, datasets, config, spans)
    return result


def _run_searches(cfg: CompareConfig, searches: list, devices: list, bench: Any, metric: str, runs: int) -> tuple:
    """Every opened search run to its end (and its final evaluation): ``(rows, replayed, slots)``
    (``slots``: trials that could run at once). In local processes when ``devices`` names several,
    all at once in one Tune experiment on Ray (without a scheduler), else one after another here (on
    the Ray session the caller opened)."""
    from tqdm.auto import tqdm

    from ._final import final_evaluation
    from ._live_processes import run_in_processes
    from ._search import backend_for, run_search

    rows: list = []
    replayed = 0
    bar = tqdm(total=len(searches), desc="live searches", unit="search", disable=cfg.no_progress)
    try:
        if len(devices) > 1:
            for s in searches:  # each search's process opens (and locks) its own history
                s[-1].close()
            jobs = [(s[0], s[1], s[2], s[4]) for s in searches]
            done = run_in_processes(jobs, [comparison(cfg, r, runs) for _a, _v, r, _s in jobs], devices, bar)
            for (a, v, r, seed, _scfg, _alg, _ev, run_dir, _h), (n_replayed, scores) in zip(searches, done):
                replayed += n_replayed
                rows.append(dict(_row(a, v, r, seed, run_dir, metric, cfg.final_epochs, bench), proxy_scores=scores))
            return rows, replayed, len(devices)
        if not cfg.no_ray and (cfg.scheduler or "fifo") == "fifo":
            replayed, slots = _multiplexed(cfg, searches, bar)
        else:  # one search after another (each search's trials concurrently on Ray)
            slots = 1
            if not cfg.no_ray:
                from ..execution.live import trial_slots

                first = backend_for(searches[0][4], searches[0][6])
                slots = trial_slots(first.cpus_per_trial, first.gpus_per_trial)
            for a, v, r, _seed, scfg, alg, ev, run_dir, history in searches:
                res = run_search(scfg, alg, ev, run_dir, f"seed {r} {a} {v}", history, not cfg.no_progress)
                replayed += res.n_replayed
                bar.update(1)
        for a, v, r, seed, scfg, alg, ev, run_dir, _history in searches:
            if cfg.final_epochs is not None:
                final_evaluation(scfg, ev, run_dir, lambda fev, c=scfg: backend_for(c, fev, final=True))
            row = _row(a, v, r, seed, run_dir, metric, cfg.final_epochs, bench)
            rows.append(dict(row, proxy_scores=getattr(alg, "proxy_scores", 0)))
    finally:
        bar.close()
    return rows, replayed, slots


def _multiplexed(cfg: CompareConfig, searches: list, bar) -> tuple[int, int]:
    """Every search of ``searches`` in one Tune experiment, ``concurrency`` trials each at once:
    ``(trials replayed, trial slots)``."""
    from ..execution.live import trial_slots
    from ..execution.multiplex import Search, run_searches
    from ._final import final_seed, final_trainings
    from ._search import backend_for

    specs = [Search(f"{r}/{a}/{v}", alg, ev, h, scfg.trials) for a, v, r, _s, scfg, alg, ev, _d, h in searches]
    backend = backend_for(searches[0][4], searches[0][6])  # the trials' resources, as one search's
    done: set = set()
    by_id = {f"{r}/{a}/{v}": (scfg, ev, run_dir) for a, v, r, _s, scfg, _alg, ev, run_dir, _h in searches}

    def finished(sid: str) -> None:
        done.add(sid)
        bar.update(1)

    def finals(sid: str) -> list:
        """A finished search's final trainings, as trials of the same experiment."""
        scfg, ev, run_dir = by_id[sid]
        return [
            Search(f"{sid}/final/{rank}", alg, fev, history, 1, final=(sid, scfg.final_epochs, final_seed(scfg)))
            for rank, _d, alg, fev, history in final_trainings(scfg, ev, run_dir)
        ]

    results = run_searches(
        specs,
        concurrency=cfg.concurrency or 1,
        cpus_per_trial=backend.cpus_per_trial,
        gpus_per_trial=backend.gpus_per_trial,
        max_failures=backend.max_failures,
        storage_dir=Path(cfg.out or DEFAULT_OUT),
        on_finished=finished,
        followups=finals if cfg.final_epochs is not None else None,
    )
    bar.update(len(specs) - len(done))  # those finished before (resumed)
    return sum(x.n_replayed for x in results.values()), trial_slots(backend.cpus_per_trial, backend.gpus_per_trial)


def _write(result, cfg, algos, label, runs, summary, pvals, datasets, config, spans) -> None:
    from .. import stats
    from .._io import write_json_atomic, write_text_atomic
    from ..plots import plot_curves, plot_timeline
    from ._utilisation import pack_rows

    out, rows, metric = result.out, result.rows, cfg.metric
    write_text_atomic(out / "results.md", result.table)
    write_text_atomic(out / "results.csv", stats.table_csv(summary, pvals, datasets))
    write_json_atomic(out / "runs.json", {"config": config, "runs": rows})
    write_json_atomic(out / "summary.json", result.summary)
    title = (
        f"{', '.join(algos)} on {cfg.data if isinstance(cfg.data, str) else 'arrays'} ({cfg.space}), seed {cfg.seed}"
    )
    plots = [out / "curves_trials.png", out / "curves_wall.png"]
    what = metric.replace("valid_", "validation ").replace("acc", "accuracy (%)")
    plot_curves(
        rows,
        cfg.trials,
        plots[0],
        [metric],
        points=cfg.trials,
        title=title,
        xlabel="trials finished",
        ylabel=f"best-so-far {what}",
    )
    wall_rows = [dict(x, trajectory=x["wall_trajectory"]) for x in rows]
    plot_curves(
        wall_rows,
        max((x["wall_s"] for x in rows), default=1.0) or 1.0,
        plots[1],
        [metric],
        title=title,
        xlabel="wall-clock seconds since the first trial started (proxy time between trials included)",
        ylabel=f"best-so-far {what}",
    )
    use = result.summary["utilisation"]
    plots.append(out / "timeline.png")
    plot_timeline(spans, pack_rows(spans), plots[-1], title=_use_line(use))
    write_report_for(
        result,
        f"gradsign-nas compare --live: {', '.join(algos)} on {label}",
        plots,
        f"{runs} seeds per algorithm and variant, {cfg.trials} trials x {cfg.epochs} epochs each; {_use_line(use)}",
    )


def _use_line(use: dict) -> str:
    """The utilisation in words, e.g. "slot utilisation 91.2 % (6 slots on 3 nodes, 480.1 s)"."""
    if use.get("utilisation") is None:
        return "slot utilisation unknown"
    return (
        f"slot utilisation {100 * use['utilisation']:.1f} % ({use['slots']} slots on {use['nodes']} "
        f"node{'s' if use['nodes'] != 1 else ''}, {use['span_s']:.1f} s from the first trial's start to the last one's end)"
    )


def _share(rows: list) -> dict:
    """Mean seconds spent on the proxy and on training per search, and the proxy's share of the two."""
    proxy = sum(x["proxy_s"] for x in rows) / max(1, len(rows))
    train = sum(x["train_s"] for x in rows) / max(1, len(rows))
    return {"proxy_s": round(proxy, 2), "train_s": round(train, 2), "proxy_share": proxy / (proxy + train or 1.0)}


__all__ = ["compare_live", "comparison", "search_config"]
