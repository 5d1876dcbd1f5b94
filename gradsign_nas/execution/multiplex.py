"""Many live searches in one Ray Tune experiment: a live comparison that fills the cluster.

Tune runs one searcher per experiment and does not support several experiments on one cluster at
once, so the searches of a comparison (seeds x variants x algorithms) share one experiment through
the one Tune adapter (``tune_adapter.AlgorithmSearcher`` over ``{search id: Driver}``): every search
keeps its own algorithm, ``Driver`` and ``History`` (its run folder), runs at most ``concurrency``
trials at once (1 by default, NB201's protocol: the algorithm learns from every result before it
asks again), and Tune fills the cluster's trial slots with trials of whichever searches have a free
slot. A search's record is therefore the one it would have alone: at concurrency 1 the same
proposals in the same order, with the same results, as in this process (``--no-ray``).

Every trial is ``live_trial`` on its own search's evaluator (the trial config's ``"search"``), so
checkpoints, retries (``max_failures``) and the best network's weights work as in one search.
Resuming replays each search's history; a search already finished asks nothing. Tune's schedulers
(ASHA, Hyperband) compare every trial of an experiment with every other, which would mix the
searches, so they are not offered here: a search with a scheduler runs alone (``LiveTuneTrials``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from gradsign_nas._checks import positive_int, positive_number
from gradsign_nas.errors import InputError
from gradsign_nas.results import History

from .driver import Driver, Pending, RunResult, check_trials
from .live import _driver_threads, _epochs, live_trial, trial_slots

__all__ = ["Search", "multiplexed_trial", "run_searches"]

_CACHE: dict = {}  # this trial actor's evaluator: {search id: evaluator}, the last one fetched


@dataclass
class Search:
    """One search of a multiplexed experiment: its id (unique), algorithm, live evaluator, opened
    ``History`` and number of trials."""

    id: str
    algorithm: Any
    evaluator: Any
    history: History
    trials: int


def multiplexed_trial(config: dict, evaluators: Optional[dict] = None) -> None:
    """Ray Tune function trainable: ``live_trial`` on the evaluator of the search ``config["search"]``
    (``evaluators``: object references by search id, fetched once per actor and search in turn)."""
    import ray

    sid = config["search"]
    if sid not in _CACHE:
        assert evaluators is not None
        _CACHE.clear()  # keep one evaluator (its data) per actor, not every search's
        _CACHE[sid] = ray.get(evaluators[sid])
    live_trial(config, _CACHE[sid])


def run_searches(
    searches: list[Search],
    *,
    concurrency: int = 1,
    cpus_per_trial: float = 1,
    gpus_per_trial: float = 0,
    max_failures: int = 2,
    storage_dir: Optional[Path] = None,
    on_finished: Optional[Callable[[str], None]] = None,
) -> dict[str, RunResult]:
    """Run every search of ``searches`` to its trials in one Ray Tune experiment on the Ray already
    joined (``gradsign_nas._ray.ray_session``); returns each search's ``RunResult`` by id. The
    histories are closed when it returns.

    Args:
        searches: the searches (their histories opened, so locked, by the caller).
        concurrency: trials in flight per search.
        cpus_per_trial, gpus_per_trial: each trial's resources (fractional GPUs share a GPU).
        max_failures: retries of a trial whose worker died, from its last checkpoint.
        storage_dir: where Tune's temporary storage goes (removed at the end).
        on_finished: called with a search's id when it has finished.

    Raises:
        KeyboardInterrupt: interrupted (Ctrl-C) before every search finished; what finished is
            recorded and a new call resumes.
    """
    import ray
    from ray import tune

    from .tune_adapter import run_tune

    positive_int("concurrency", concurrency, 1)
    positive_number("cpus_per_trial", cpus_per_trial)
    positive_number("gpus_per_trial", gpus_per_trial, allow_zero=True)
    ids = [s.id for s in searches]
    if len(set(ids)) != len(ids):
        raise InputError(f"expected every search to have its own id, but got {ids}")
    metrics = {getattr(s.evaluator, "metric", "valid_acc") for s in searches}
    signs = {s.history.sign for s in searches}
    if len(metrics) > 1 or len(signs) > 1:
        raise InputError(f"expected the searches of one experiment to share one metric, but got {sorted(metrics)}")
    wall0 = time.perf_counter()
    drivers: dict[str, Driver] = {}
    restore = _driver_threads(1)  # proxy scoring in this process must not crowd the trials
    try:
        for s in searches:
            drivers[s.id] = Driver(s.algorithm, s.history, trials=check_trials(s.trials), workers=concurrency)
        evaluators = {s.id: s.evaluator for s in searches}
        threads = max(1, int(cpus_per_trial))

        def to_config(sid: str, pend: Pending) -> dict:
            return {
                "arch": str(pend.proposal.arch),
                "epochs": _epochs(pend, evaluators[sid]),
                "ask": pend.n,
                "threads": threads,
            }

        active = sum(not d.finished for d in drivers.values())
        if active:
            refs = {sid: ray.put(ev) for sid, ev in evaluators.items() if not drivers[sid].finished}
            run_tune(
                drivers,
                tune.with_parameters(multiplexed_trial, evaluators=refs),
                to_config,
                concurrency=min(trial_slots(cpus_per_trial, gpus_per_trial), concurrency * active),
                resources={"cpu": cpus_per_trial, "gpu": gpus_per_trial},
                max_failures=max_failures,
                storage_dir=storage_dir,
                metric=metrics.pop(),
                mode="min" if signs.pop() == -1 else "max",
                log_dir={s.id: s.history.directory / "tune" for s in searches if s.history.directory is not None},
                on_finished=on_finished,
            )
        wall = time.perf_counter() - wall0
        return {sid: d.result(wall) for sid, d in drivers.items()}
    finally:
        restore()
        for d in drivers.values():
            d.close()
        for s in searches:
            s.history.close()
