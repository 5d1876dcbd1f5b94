"""``RayTuneExecutor``: every evaluation a Ray Tune trial, the algorithm wrapped as a Tune ``Searcher``.

``AlgorithmSearcher`` maps Tune's ``suggest(trial_id)`` to ``algorithm.ask()`` and
``on_trial_complete`` to ``tell`` (or ``discard``), so the same algorithm object that the
``SimulatedExecutor`` drives runs under Tune unchanged. Budget and records follow the simulated
executor: each of the ``workers`` concurrent trial slots keeps a simulated clock, an evaluation
that would end after ``budget_s`` is discarded and ends that slot, and every evaluation is written
to the ``History`` with the same fields. With one concurrent trial the sequence of proposals and
records equals the ``SimulatedExecutor``'s for the same seed; with several, the order in which
results come back follows Tune's real completion order, so the simulated times are approximate.

Ray starts locally (dashboard off, bound to 127.0.0.1, ``RAY_AUTH_MODE=disabled``) unless
``address`` names an existing cluster; Tune reuses trial actors (``TuneConfig(reuse_actors=True)``;
without it each trial costs ~1 s). Ray is imported only when a run starts.

Example:
    >>> ex = RayTuneExecutor(algorithm, evaluator, budget_s=12000)   # doctest: +SKIP
    >>> ex.run().best_arch                                           # doctest: +SKIP
"""

from __future__ import annotations

import heapq
import json
import os
import tempfile
import time
from typing import Optional

from gradsign_nas.algorithms.base import Result

from .simulated import RunResult, _Tracker, budget_exempt, check_budget, check_workers, replayed_result

__all__ = ["RayTuneExecutor", "make_searcher"]


def _trial_dirname(trial) -> str:
    return f"trial_{trial.trial_id}"


def _tabular_trial(config: dict, evaluator=None) -> None:
    """The Tune trainable: evaluate ``config["arch"]`` at ``config["fidelity"]`` and report once."""
    from ray import tune

    space = getattr(evaluator, "space", None)
    arch = space.parse(config["arch"]) if space is not None else config["arch"]
    res = evaluator.evaluate(arch, config["fidelity"])
    tune.report({"metric": float(res.metric), "cost_s": float(res.cost_s), "extra_json": json.dumps(dict(res.extra))})


_SEARCHER_CLASS = None


def _searcher_class():
    """``AlgorithmSearcher``, a ``ray.tune.search.Searcher`` subclass, built on first use so that Ray is
    imported only when a Tune run starts. It closes over nothing: all state is on the instance."""
    global _SEARCHER_CLASS
    if _SEARCHER_CLASS is not None:
        return _SEARCHER_CLASS
    from ray.tune.search import Searcher

    class AlgorithmSearcher(Searcher):
        """Tune ``Searcher`` driving an ``Algorithm`` (ask/tell) under a simulated budget."""

        def __init__(self, algorithm, budget_s: float, workers: int, charge_proxy_time: bool,
                     tracker: _Tracker, replay: dict) -> None:
            super().__init__(metric="metric", mode="max")
            self.algorithm = algorithm
            self.budget_s = budget_s
            self.charge_proxy_time = charge_proxy_time
            self.tracker = tracker
            self.replay = replay
            self.free = [(0.0, w) for w in range(workers)]  # (simulated time the slot is free, slot)
            self.live: dict[str, tuple] = {}
            self.n_asked = 0
            self.error: Optional[BaseException] = None

        def __getstate__(self) -> dict:
            # Tune pickles its searcher into its own experiment checkpoints; this one holds the live
            # algorithm and an open history file and resumes from the History instead, so only the
            # plain settings go there.
            return {"_metric": self._metric, "_mode": self._mode}

        def save(self, checkpoint_path: str) -> None:  # resuming goes through the History
            pass

        def restore(self, checkpoint_path: str) -> None:
            pass

        def suggest(self, trial_id: str):
            try:
                while True:
                    if not self.free:
                        return None if self.live else Searcher.FINISHED
                    now, slot = heapq.heappop(self.free)
                    p = self.algorithm.ask()
                    n = self.n_asked
                    self.n_asked += 1
                    if now >= self.budget_s and not budget_exempt(p):
                        self.algorithm.discard(p)  # this slot's budget is spent
                        continue
                    rec = self.replay.get(n)
                    if rec is None:
                        self.live[trial_id] = (p, n, now, slot)
                        return {"arch": str(p.arch), "fidelity": p.fidelity, "ask": n}
                    # already recorded: tell the recorded result without running a trial
                    self._finish(p, n, now, slot, replayed_result(rec, p, n), recorded=True)
            except Exception as e:  # surfaced by RayTuneExecutor.run once Tune stops
                self.error = e
                return Searcher.FINISHED

        def _finish(self, p, n, now, slot, res: Result, recorded: bool = False) -> None:
            tracker = self.tracker
            dur = res.cost_s
            if self.charge_proxy_time and p.meta:
                dur += p.meta.get("proxy_cost_s") or 0.0
            end = now + dur
            if end > self.budget_s and not budget_exempt(p):
                self.algorithm.discard(p)
                tracker.n_discarded += 1
                if not recorded:
                    tracker.record(n, p, res, now, end, slot, "discarded")
                return  # the slot's search ends, as in NB201's scripts
            self.algorithm.tell(p, res)
            if recorded:
                hist, tracker.history = tracker.history, None
                tracker.completed(n, p, res, now, end, slot)
                tracker.history = hist
            else:
                tracker.completed(n, p, res, now, end, slot)
            heapq.heappush(self.free, (end, slot))

        def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False) -> None:
            entry = self.live.pop(trial_id, None)
            if entry is None:
                return
            p, n, now, slot = entry
            try:
                if error or not result or "metric" not in result:
                    self.algorithm.discard(p)  # a failed trial: its slot is free again at once
                    heapq.heappush(self.free, (now, slot))
                    return
                res = Result(float(result["metric"]), float(result["cost_s"]), json.loads(result["extra_json"]))
                self._finish(p, n, now, slot, res)
            except Exception as e:
                self.error = e

    _SEARCHER_CLASS = AlgorithmSearcher
    return AlgorithmSearcher


def make_searcher(algorithm, budget_s: float, workers: int = 1, charge_proxy_time: bool = False,
                  tracker: Optional[_Tracker] = None, replay: Optional[dict] = None):
    """A Tune ``Searcher`` that drives ``algorithm`` (ask/tell) within ``budget_s`` simulated seconds."""
    if tracker is None:
        tracker = _Tracker(getattr(algorithm, "fidelities", (None,)), None)
    return _searcher_class()(algorithm, check_budget(budget_s), check_workers(workers), bool(charge_proxy_time),
                             tracker, replay or {})


class RayTuneExecutor:
    """Runs ``algorithm`` against ``evaluator`` with one Ray Tune trial per evaluation.

    Args:
        algorithm: an ``Algorithm``.
        evaluator: an ``Evaluator`` (picklable: it is shipped to the trial actors).
        budget_s: search budget in simulated seconds (from the evaluations' costs).
        workers: concurrent trials.
        charge_proxy_time: add ``proposal.meta["proxy_cost_s"]`` to each evaluation's duration.
        history: a ``History`` to record into and resume from, or ``None``.
        address: an existing Ray cluster (``ray start --head`` prints it); ``None``: a local Ray.
        num_cpus: CPUs of a local Ray (default: ``max(workers, 1)``).
    """

    def __init__(self, algorithm, evaluator, budget_s: float = 12000.0, workers: int = 1,
                 charge_proxy_time: bool = False, history=None, address: Optional[str] = None,
                 num_cpus: Optional[int] = None) -> None:
        self.algorithm = algorithm
        self.evaluator = evaluator
        self.budget_s = check_budget(budget_s)
        self.workers = check_workers(workers)
        self.charge_proxy_time = bool(charge_proxy_time)
        self.history = history
        self.address = address
        self.num_cpus = num_cpus

    def run(self) -> RunResult:
        """Run the search under Ray Tune and return its ``RunResult``."""
        os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # results go to the History
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no console tables
        import logging

        from ray import tune

        from .fanout import init_ray

        wall0 = time.perf_counter()
        fids = getattr(self.evaluator, "fidelities", None) or getattr(self.algorithm, "fidelities", (None,))
        tracker = _Tracker(fids, self.history)
        replay = self.history.replay() if self.history is not None else {}
        searcher = make_searcher(self.algorithm, self.budget_s, self.workers, self.charge_proxy_time, tracker,
                                 replay)
        started = init_ray(self.num_cpus or self.workers, self.address)
        try:
            with tempfile.TemporaryDirectory(prefix="gradsign-tune-") as storage:
                tuner = tune.Tuner(
                    tune.with_parameters(_tabular_trial, evaluator=self.evaluator),
                    tune_config=tune.TuneConfig(search_alg=searcher, num_samples=-1, reuse_actors=True,
                                                max_concurrent_trials=self.workers,
                                                trial_dirname_creator=_trial_dirname),
                    run_config=tune.RunConfig(name="search", storage_path=storage, verbose=0,
                                              log_to_file=False),
                )
                quiet = logging.getLogger("ray.tune")
                level = quiet.level
                quiet.setLevel(logging.ERROR)  # Tune's own result files are off on purpose
                try:
                    tuner.fit()
                finally:
                    quiet.setLevel(level)
        finally:
            if started:
                import ray

                ray.shutdown()
        if searcher.error is not None:
            raise searcher.error
        if tracker.best is not None and self.history is not None:
            self.history.write_best(tracker.best_record())
        return tracker.result(self.algorithm.stats(), time.perf_counter() - wall0)
