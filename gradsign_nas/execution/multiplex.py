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

_CACHE: dict = {}  # this trial actor's evaluators: {"ref": the object's id, "evaluators": {search id: evaluator}}


@dataclass
class Search:
    """One search of a multiplexed experiment: its id (unique), algorithm, live evaluator, opened
    ``History`` and number of trials."""

    id: str
    algorithm: Any
    evaluator: Any
    history: History
    trials: int
    #: a final training of another search (``(its id, epochs, seed)``): the trial trains on that
    #: search's ``evaluator.for_final(epochs, seed)``, made in the trial's actor from the evaluators sent
    final: Optional[tuple[str, int, int]] = None


def multiplexed_trial(config: dict, evaluators: Optional[dict] = None) -> None:
    """Ray Tune function trainable: ``live_trial`` on the evaluator of the search ``config["search"]``
    (``evaluators``: ``{"ref": object reference}`` to every search's evaluator by id, put as one object
    so that the searches of a seed send their shared images once; fetched once per actor), or with
    ``config["final"] = [search id, epochs, seed]`` on that search's final evaluator (the last two
    made are kept)."""
    import ray

    assert evaluators is not None
    ref = evaluators["ref"]
    if _CACHE.get("ref") != ref.hex():  # an actor kept from an earlier experiment holds other evaluators
        _CACHE.clear()
        _CACHE.update(ref=ref.hex(), evaluators=ray.get(ref), finals={})
    if "final" in config:
        key = tuple(config["final"])
        finals = _CACHE["finals"]
        if key not in finals:
            while len(finals) >= 2:
                finals.pop(next(iter(finals)))
            finals[key] = _CACHE["evaluators"][key[0]].for_final(int(key[1]), int(key[2]))
        live_trial(config, finals[key])
    else:
        live_trial(config, _CACHE["evaluators"][config["search"]])


def run_searches(
    searches: list[Search],
    *,
    concurrency: int = 1,
    cpus_per_trial: float = 1,
    gpus_per_trial: float = 0,
    max_failures: int = 2,
    storage_dir: Optional[Path] = None,
    on_finished: Optional[Callable[[str], None]] = None,
    followups: Optional[Callable[[str], list[Search]]] = None,
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
        followups: called with a search's id when it has finished; the searches it returns (their
            histories opened; ``Search.final`` set) join the same experiment, e.g. the search's final
            trainings, which then run while other searches still search. Their histories are closed
            here too; their results are not returned.

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
    added: list[History] = []  # the follow-ups' histories (their evaluators are not kept here)
    restore = _driver_threads(1)  # proxy scoring in this process must not crowd the trials
    try:
        for s in searches:
            drivers[s.id] = Driver(s.algorithm, s.history, trials=check_trials(s.trials), workers=concurrency)
        evaluators = {s.id: s.evaluator for s in searches}
        finals: dict[str, list] = {}
        threads = max(1, int(cpus_per_trial))

        def to_config(sid: str, pend: Pending) -> dict:
            config = {
                "arch": str(pend.proposal.arch),
                "epochs": int(pend.proposal.fidelity) if sid in finals else _epochs(pend, evaluators[sid]),
                "ask": pend.n,
                "threads": threads,
            }
            if sid in finals:
                config["final"] = finals[sid]
            return config

        def finished(sid: str) -> dict[str, Driver]:
            if sid in finals:
                return {}
            if on_finished is not None:
                on_finished(sid)
            more = followups(sid) if followups is not None else []
            added.extend(m.history for m in more)
            new = {}
            for m in more:
                if m.id in evaluators or m.id in finals or m.final is None or m.final[0] not in evaluators:
                    raise InputError(f"expected a final training of {sid!r} with its own id, but got {m.id!r}")
                if m.algorithm.fidelities[-1] is None:
                    raise InputError(f"expected the final training {m.id!r} to propose its epochs")
                finals[m.id] = list(m.final)
                new[m.id] = Driver(m.algorithm, m.history, trials=check_trials(m.trials), workers=concurrency)
            return new

        for sid in [sid for sid, d in drivers.items() if d.finished]:  # finished before: their follow-ups now
            drivers.update(finished(sid))
        active = sum(not d.finished for d in drivers.values())
        if active:
            # the evaluators trials need: those of unfinished searches, and of searches whose final
            # trainings are unfinished (the trial's actor makes the final evaluator from it)
            need = {sid for sid, d in drivers.items() if not d.finished and sid not in finals}
            need |= {finals[sid][0] for sid, d in drivers.items() if not d.finished and sid in finals}
            ref = ray.put({sid: evaluators[sid] for sid in need})
            run_tune(
                drivers,
                tune.with_parameters(multiplexed_trial, evaluators={"ref": ref}),
                to_config,
                # with follow-ups, searches join later: every slot may be needed
                concurrency=min(trial_slots(cpus_per_trial, gpus_per_trial), concurrency * active)
                if followups is None
                else trial_slots(cpus_per_trial, gpus_per_trial),
                resources={"cpu": cpus_per_trial, "gpu": gpus_per_trial},
                max_failures=max_failures,
                storage_dir=storage_dir,
                metric=metrics.pop(),
                mode="min" if signs.pop() == -1 else "max",
                log_dir={s.id: s.history.directory / "tune" for s in searches if s.history.directory is not None},
                on_finished=finished,
            )
        wall = time.perf_counter() - wall0
        return {s.id: drivers[s.id].result(wall) for s in searches}
    finally:
        restore()
        for d in drivers.values():
            d.close()
        for h in [*(s.history for s in searches), *added]:
            h.close()
