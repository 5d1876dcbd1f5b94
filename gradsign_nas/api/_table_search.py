"""``gradsign_nas.table_search``: searches on NAS-Bench-201's tables under the NAS-Bench-201 protocol
(cifar10-valid reward after the 12-epoch schedule, a budget of simulated seconds, the overrunning
evaluation discarded), one per variant. Nothing is trained: each evaluation is a table look-up."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Optional

from ..errors import InputError
from ._checks import VARIANTS, check_address, check_out_dir, names
from ._options import algorithm_options
from ._results import TableSearchResult
from ._tabular import check_tabular, load_evaluator, load_scorer, score_source
from .configs import TableSearchConfig, make_config

_log = logging.getLogger("gradsign_nas.table_search")


def table_search(config: Optional[TableSearchConfig] = None, /, **options: Any) -> TableSearchResult:
    """Searches on NAS-Bench-201's tables, one per variant; the same as ``gradsign-nas table-search``
    with the same option names.

    With ``out`` every evaluation is appended to ``<out>/<algorithm>-<variant>/history.jsonl`` and the
    best network to its best.json, and summary.json is written in ``out``; calling it again on the
    same ``out`` resumes (recorded results are replayed, not re-evaluated) and reaches the same result.

    Args:
        config: a ``TableSearchConfig``; ``options`` (its field names) override its fields.

    Returns:
        A ``TableSearchResult``: ``.summary["variants"][variant]`` (best network, reward, test
        accuracies, evaluations), ``.best``, ``.to_pandas()``.

    Examples:
        >>> r = gradsign_nas.table_search(algorithm="rea", variants="assisted", seed=1)  # doctest: +SKIP
        >>> r.best["assisted"]["test"]["cifar10"]                                       # doctest: +SKIP
    """
    cfg = make_config(TableSearchConfig, config, options)
    from .. import algorithms, strategies

    # 1. validate everything and load the data: nothing is written before this succeeds
    fidelities = check_tabular(cfg)
    if cfg.algorithm not in algorithms.available():
        raise InputError(f"expected --algorithm among {', '.join(algorithms.available())}, but got {cfg.algorithm!r}")
    variants = names("variants", cfg.variants, VARIANTS + tuple(strategies.available()))
    for v in variants:
        if v not in VARIANTS:
            strategies.settings(v, cfg.algorithm, cfg.k)
    own = algorithm_options(cfg.algorithm_options, [cfg.algorithm])[cfg.algorithm]
    if cfg.address and cfg.executor != "ray":
        raise InputError(f"expected --executor ray with --address, but got --executor {cfg.executor}")
    check_address(cfg.address)
    out = check_out_dir(cfg.out)
    evaluator = load_evaluator(cfg)
    scorer = load_scorer(cfg, evaluator.space) if set(variants) - {"vanilla"} else None

    stack = contextlib.ExitStack()
    if cfg.executor == "ray":  # Ray joined (or the address refused) before anything is written
        from .._ray import ray_session

        stack.enter_context(ray_session(cfg.sim_workers, cfg.address))
    with stack:
        return _search_variants(cfg, variants, own, fidelities, out, evaluator, scorer)


def _search_variants(cfg: TableSearchConfig, variants, own, fidelities, out, evaluator, scorer) -> TableSearchResult:
    """Every variant's search, recorded under ``out``; their summary."""
    from .. import algorithms
    from ..assist import build_assistance
    from ..results import History

    runs = []
    for v in variants:
        assistant, extra = build_assistance(v, cfg.algorithm, scorer if v != "vanilla" else None, cfg.k)
        alg = algorithms.get(
            cfg.algorithm, evaluator.space, cfg.seed, assistant=assistant, fidelities=fidelities, **own, **extra
        )
        run_dir = out / f"{cfg.algorithm}-{v}" if out is not None else None
        history = History(run_dir, run_info(cfg, v, fidelities, own)) if run_dir is not None else None
        runs.append((v, alg, history))  # every resume checked before the first search runs
    for v, _, history in runs[1:]:  # the first variant's own replay comes before any write anyway
        if history is not None and history.records:
            _replay_in_memory(cfg, v, own, fidelities, evaluator, scorer, history)

    # 2. search
    summaries, records = {}, {}
    for v, alg, history in runs:
        try:
            result, driver = _run(cfg, alg, evaluator, history)
        finally:
            if history is not None:
                history.close()
        message = driver.resume_message()
        if message:
            _log.info("%s: %s", v, message)
        summaries[v] = {
            "algorithm": cfg.algorithm,
            "variant": v,
            "seed": cfg.seed,
            "budget": float(cfg.budget),
            "best_arch": result.best_arch,
            "best_index": result.best_index,
            "reward": result.best_metric,
            "fidelity": result.best_fidelity,
            "test": result.test,
            "evaluations": result.n_evaluations,
            "discarded": result.n_discarded,
            "sim_time": result.sim_time,
            "resumed_records": result.n_replayed,
            "stats": result.stats,
        }
        records[v] = list(driver.history.records if driver.history.directory else driver.history.best_changes)
    summary = {"algorithm": cfg.algorithm, "seed": cfg.seed, "budget": float(cfg.budget), "variants": summaries}
    if out is not None:
        from .._io import write_json_atomic

        write_json_atomic(out / "summary.json", summary)
    return TableSearchResult(summary, out, config=cfg, records=records)


def _replay_in_memory(cfg: TableSearchConfig, variant: str, own, fidelities, evaluator, scorer, history) -> None:
    """Replay ``history`` with a fresh algorithm in memory: a history that its settings refuse (an
    edited record, another seed) is refused before an earlier variant's search writes anything."""
    from .. import algorithms
    from ..assist import build_assistance
    from ..execution import Driver
    from ..results import History

    assistant, extra = build_assistance(variant, cfg.algorithm, scorer if variant != "vanilla" else None, cfg.k)
    alg = algorithms.get(
        cfg.algorithm, evaluator.space, cfg.seed, assistant=assistant, fidelities=fidelities, **own, **extra
    )
    copy = History(None, history.run_info)
    copy.records = list(history.records)
    Driver(alg, copy, budget_s=cfg.budget, workers=cfg.sim_workers, charge_proxy_time=cfg.charge_proxy_time)


def _run(cfg: TableSearchConfig, alg, evaluator, history):
    """One variant's search on the backend ``executor`` names: ``(RunResult, Driver)``."""
    from ..execution import SimulatedClock, TabularTuneTrials, execute

    backend: Any = (
        TabularTuneTrials(evaluator, cfg.sim_workers, cfg.address)
        if cfg.executor == "ray"
        else SimulatedClock(evaluator, cfg.sim_workers)
    )
    kept: list = []
    result = execute(
        backend,
        alg,
        history,
        budget_s=cfg.budget,
        charge_proxy_time=cfg.charge_proxy_time,
        progress=None if cfg.no_progress or cfg.executor != "ray" else f"{cfg.algorithm} (Ray Tune)",
        on_driver=kept.append,
    )
    return result, kept[0]


def run_info(cfg: TableSearchConfig, variant: str, fidelities: tuple, own: dict) -> dict:
    """The settings that define a tabular run (stored in run.json; a resume must repeat them)."""
    from .._meta import data_checksums, environment
    from ..benchmarks.nb201 import _SOURCES as NB201_SOURCES

    info: dict[str, Any] = {
        "command": "table-search",
        "space": cfg.space,
        "algorithm": cfg.algorithm,
        "variant": variant,
        "seed": cfg.seed,
        "budget_s": float(cfg.budget),
        "sim_workers": cfg.sim_workers,
        "fidelities": list(fidelities),
        "charge_proxy_time": bool(cfg.charge_proxy_time),
        "executor": cfg.executor,
        "environment": environment(data_checksums(NB201_SOURCES)),
    }
    if variant != "vanilla":
        info.update(k=cfg.k, scores=score_source(cfg), score_dataset=cfg.score_dataset)
        if info["scores"] == "on-demand":  # the batch the scores are computed on defines them
            info["score_batch_size"] = cfg.score_batch_size
        if cfg.score_table is None and cfg.proxy != "gradsign":
            info["proxy"] = cfg.proxy
        if variant != "assisted":
            info["strategy"] = variant
    if own:
        info["algorithm_options"] = own
    return info


__all__ = ["table_search"]
