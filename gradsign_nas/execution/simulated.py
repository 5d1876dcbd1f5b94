"""``SimulatedExecutor``: an algorithm's ask/tell loop against a tabular evaluator on a simulated clock.

The NAS-Bench-201 protocol (its RS/REA/REINFORCE/BOHB scripts): a budget in simulated seconds
(12,000 by default); every evaluation advances the clock by its cost (training time + one
validation pass); the evaluation that would end after the budget is discarded (``algorithm.discard``)
and ends that worker's search; proposals the algorithm marks as budget-exempt (REA's initial
population, which NB201's script trains without checking the budget) are always kept: a worker whose
clock has reached the budget asks once more and runs the proposal only if it is exempt. The best
network is the one with the highest search reward (ties: the first found; over several fidelities
the highest fidelity first), reported with its 200-epoch test accuracies.

``workers=W`` simulates W asynchronous workers with an event queue ``(time, seq, event)`` on the
simulated clock: a free worker asks at once, its result is told when the simulated clock reaches
the evaluation's end. The clock never reads wall time; wall time is only written into the history.
With ``charge_proxy_time=True`` a proposal's ``meta["proxy_cost_s"]`` (the time its proxy scores
took) is added to its simulated duration.

Example:
    >>> ex = SimulatedExecutor(algorithm, evaluator, budget_s=12000)   # doctest: +SKIP
    >>> result = ex.run(); result.test["cifar10"]                      # doctest: +SKIP
    93.9
"""

from __future__ import annotations

import heapq
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from gradsign_nas.algorithms.base import Proposal, Result

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
_TEST_KEYS = tuple(f"{d}_test" for d in DATASETS)

__all__ = ["DATASETS", "RunResult", "SimulatedExecutor", "budget_exempt"]


def budget_exempt(proposal: Proposal) -> bool:
    """Whether the algorithm marked ``proposal`` as exempt from the budget check
    (``meta["initial"]``: REA's initial population, which NB201's scripts do not budget-check)."""
    return bool(proposal.meta.get("initial"))


def check_budget(budget_s: float) -> float:
    if isinstance(budget_s, bool) or not isinstance(budget_s, (int, float)) or not budget_s > 0:
        raise ValueError(f"budget must be a positive number of seconds, but got {budget_s!r}")
    return float(budget_s)


def check_workers(workers: int) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, but got {workers!r}")
    return workers


@dataclass
class RunResult:
    """The outcome of one search run.

    Attributes:
        best_arch: canonical string of the best-found architecture (by search reward), or ``None``.
        best_index: its benchmark index when the evaluator gives one.
        best_metric: its search reward; ``best_fidelity``: the fidelity it was evaluated at.
        test: its test accuracy per dataset (cifar10, cifar100, ImageNet16-120) where known.
        trajectory: ``{"time": [...], dataset: [...]}``: the best-so-far test accuracies each time
            the best changed, against the simulated time of that completion.
        n_evaluations: completed evaluations; ``n_discarded``: evaluations dropped because they would
            have ended after the budget.
        sim_time: simulated time of the last completion; ``stats``: ``algorithm.stats()``.
        wall_s: wall seconds the run took (not part of the result's identity).
    """

    best_arch: Optional[str]
    best_index: Optional[int]
    best_metric: Optional[float]
    best_fidelity: Any
    test: dict
    trajectory: dict
    n_evaluations: int
    n_discarded: int
    sim_time: float
    stats: dict = field(default_factory=dict)
    wall_s: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict:
        return asdict(self)


class _Tracker:
    """Best-so-far by search reward, the trajectory, and the history records (shared by executors)."""

    def __init__(self, fidelities, history) -> None:
        self.rank = {f: i for i, f in enumerate(fidelities)}
        self.history = history
        self.best_key = None
        self.best: Optional[tuple[Proposal, Result, float]] = None
        self.times: list[float] = []
        self.curves: list[list] = [[] for _ in DATASETS]
        self.n_done = 0
        self.n_discarded = 0
        self.clock = 0.0

    def record(self, n: int, p: Proposal, res: Result, start: float, end: float, worker: int,
               status: str = "completed") -> None:
        if self.history is not None:
            meta = p.meta or {}
            extra = dict(res.extra)
            self.history.append({
                "ask": n, "trial_id": p.trial_id, "arch": str(p.arch), "index": extra.get("index"),
                "fidelity": p.fidelity, "metric": res.metric, "cost_s": res.cost_s, "sim_start": start,
                "sim_time": end, "wall_time": time.time(), "proxy": meta.get("proxy"),
                "proxy_cost_s": meta.get("proxy_cost_s"), "worker": worker, "status": status, "extra": extra,
            })

    def completed(self, n: int, p: Proposal, res: Result, start: float, end: float, worker: int) -> None:
        self.n_done += 1
        self.clock = end
        self.record(n, p, res, start, end, worker)
        key = (self.rank.get(p.fidelity, 0), res.metric)
        if self.best_key is None or key > self.best_key:
            self.best_key = key
            self.best = (p, res, end)
            extra = res.extra
            self.times.append(end)
            for c, k in zip(self.curves, _TEST_KEYS):
                c.append(extra.get(k))
            if self.history is not None:
                self.history.write_best(self.best_record())

    def best_record(self) -> dict:
        p, res, end = self.best
        extra = dict(res.extra)
        return {"arch": str(p.arch), "index": extra.get("index"), "fidelity": p.fidelity, "metric": res.metric,
                "cost_s": res.cost_s, "sim_time": end, "trial_id": p.trial_id,
                "test": {d: extra.get(k) for d, k in zip(DATASETS, _TEST_KEYS)}, "extra": extra}

    def result(self, stats: dict, wall_s: float) -> RunResult:
        traj = {"time": self.times}
        traj.update({d: c for d, c in zip(DATASETS, self.curves)})
        if self.best is None:
            return RunResult(None, None, None, None, {}, traj, self.n_done, self.n_discarded, self.clock,
                             stats, wall_s)
        p, res, _ = self.best
        extra = res.extra
        test = {d: extra[k] for d, k in zip(DATASETS, _TEST_KEYS) if k in extra}
        return RunResult(str(p.arch), extra.get("index"), res.metric, p.fidelity, test, traj, self.n_done,
                         self.n_discarded, self.clock, stats, wall_s)


def replayed_result(rec: dict, p: Proposal, n: int) -> Result:
    """The recorded result for proposal number ``n``, after checking the proposal matches it."""
    if rec.get("arch") != str(p.arch) or rec.get("fidelity") != p.fidelity:
        raise ValueError(
            f"expected proposal {n} to match the recorded {rec.get('arch')!r} at fidelity {rec.get('fidelity')!r} "
            f"when resuming, but the algorithm proposed {str(p.arch)!r} at {p.fidelity!r} (different seed or settings?)"
        )
    return Result(rec["metric"], rec["cost_s"], rec.get("extra") or {})


class SimulatedExecutor:
    """Runs ``algorithm`` against ``evaluator`` within ``budget_s`` simulated seconds.

    Args:
        algorithm: an ``Algorithm`` (ask/tell/discard/stats).
        evaluator: an ``Evaluator``; its ``Result.cost_s`` advances the simulated clock.
        budget_s: the search budget in simulated seconds.
        workers: number of simulated asynchronous workers.
        charge_proxy_time: add ``proposal.meta["proxy_cost_s"]`` to each evaluation's duration.
        history: a ``gradsign_nas.results.History`` to record into and resume from, or ``None``.
    """

    def __init__(self, algorithm, evaluator, budget_s: float = 12000.0, workers: int = 1,
                 charge_proxy_time: bool = False, history=None) -> None:
        self.algorithm = algorithm
        self.evaluator = evaluator
        self.budget_s = check_budget(budget_s)
        self.workers = check_workers(workers)
        self.charge_proxy_time = bool(charge_proxy_time)
        self.history = history

    def run(self) -> RunResult:
        """Run the search to the end of the budget and return its ``RunResult``."""
        wall0 = time.perf_counter()
        alg, evaluate, budget = self.algorithm, self.evaluator.evaluate, self.budget_s
        charge = self.charge_proxy_time
        fids = getattr(self.evaluator, "fidelities", None) or getattr(alg, "fidelities", (None,))
        tr = _Tracker(fids, self.history)
        replay = self.history.replay() if self.history is not None else {}
        heap: list = []
        seq = 0
        n_asked = 0

        def start(worker: int, now: float) -> None:
            nonlocal seq, n_asked
            p = alg.ask()
            n = n_asked
            n_asked += 1
            if now >= budget and not budget_exempt(p):
                alg.discard(p)  # the budget is spent; only exempt proposals still run
                return
            rec = replay.get(n)
            res = replayed_result(rec, p, n) if rec is not None else evaluate(p.arch, p.fidelity)
            dur = res.cost_s
            if charge and p.meta:
                dur += p.meta.get("proxy_cost_s") or 0.0
            end = now + dur
            if end > budget and not budget_exempt(p):
                alg.discard(p)
                tr.n_discarded += 1
                if rec is None:
                    tr.record(n, p, res, now, end, worker, "discarded")
                return  # this worker's search ends, as in NB201's scripts
            heapq.heappush(heap, (end, seq, worker, now, n, p, res))
            seq += 1

        for w in range(self.workers):
            start(w, 0.0)
        while heap:
            end, _, w, begun, n, p, res = heapq.heappop(heap)
            alg.tell(p, res)
            if n in replay:  # already recorded: do not append it again
                hist, tr.history = tr.history, None
                tr.completed(n, p, res, begun, end, w)
                tr.history = hist
            else:
                tr.completed(n, p, res, begun, end, w)
            start(w, end)
        if tr.best is not None and self.history is not None:
            self.history.write_best(tr.best_record())
        return tr.result(alg.stats(), time.perf_counter() - wall0)
