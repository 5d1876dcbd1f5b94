"""``SimulatedExecutor``: an algorithm's ask/tell loop against a tabular evaluator on a simulated clock.

The NAS-Bench-201 protocol (its RS/REA/REINFORCE/BOHB scripts): a budget in simulated seconds
(12,000 by default); every evaluation advances the clock by its cost (training time + one
validation pass); the evaluation that would end after the budget is discarded (``algorithm.discard``)
and ends that worker's search; proposals the algorithm marks as budget-exempt (REA's initial
population, which NB201's script trains without checking the budget) are always kept. The best
network is the one with the highest search reward (ties: the first found; over several fidelities
the highest fidelity first), reported with its 200-epoch test accuracies.

``workers=W`` simulates W asynchronous workers with an event queue ``(time, seq, event)`` on the
simulated clock: a free worker asks at once, its result is told when the simulated clock reaches
the evaluation's end. The clock never reads wall time; wall time is only written into the history.
The bookkeeping (budget, records, replay on resume) is the ``Driver`` every executor shares.

Example:
    >>> ex = SimulatedExecutor(algorithm, evaluator, budget_s=12000)   # doctest: +SKIP
    >>> result = ex.run(); result.test["cifar10"]                      # doctest: +SKIP
    93.9
"""

from __future__ import annotations

import heapq
from typing import Optional

from gradsign_nas.benchmarks.evaluator import test_metrics_of
from gradsign_nas.results import History

from .base import Backend, execute
from .driver import Driver, RunResult, budget_exempt, check_budget, check_workers

__all__ = ["RunResult", "SimulatedClock", "SimulatedExecutor", "budget_exempt"]


class SimulatedClock(Backend):
    """The backend of table searches: evaluations in this process, ``workers`` simulated asynchronous
    workers on an event queue ``(end time, seq, evaluation)``; the clock is the evaluations' costs."""

    def __init__(self, evaluator, workers: int = 1) -> None:
        self.evaluator = evaluator
        self.workers = check_workers(workers)
        self.test_metrics = test_metrics_of(evaluator)

    def slots(self) -> int:
        return self.workers

    def run(self, driver: Driver) -> None:
        evaluate = self.evaluator.evaluate
        heap: list = []
        seq = 0
        while True:
            pend = driver.next()
            while pend is not None:  # every free worker starts at once
                res = evaluate(pend.proposal.arch, pend.proposal.fidelity)
                end = driver.end_time(pend, res)
                if driver.overruns(pend, end):
                    driver.complete(pend, res, end=end)  # discarded now; the worker's search ends
                else:
                    heapq.heappush(heap, (end, seq, pend, res))
                    seq += 1
                pend = driver.next()
            if not heap:
                break
            end, _, pend, res = heapq.heappop(heap)
            driver.complete(pend, res, end=end)


class SimulatedExecutor:
    """Runs ``algorithm`` against ``evaluator`` within ``budget_s`` simulated seconds (``execute`` on a
    ``SimulatedClock``).

    Args:
        algorithm: an ``Algorithm`` (ask/tell/discard/stats).
        evaluator: an ``Evaluator``; its ``Result.cost_s`` advances the simulated clock.
        budget_s: the search budget in simulated seconds.
        workers: number of simulated asynchronous workers.
        charge_proxy_time: add ``proposal.meta["proxy_cost_s"]`` to each evaluation's duration.
        history: a ``gradsign_nas.results.History`` to record into and resume from, or ``None``.
    """

    def __init__(
        self,
        algorithm,
        evaluator,
        budget_s: float = 12000.0,
        workers: int = 1,
        charge_proxy_time: bool = False,
        history: Optional[History] = None,
    ) -> None:
        self.algorithm = algorithm
        self.evaluator = evaluator
        self.budget_s = check_budget(budget_s)
        self.workers = check_workers(workers)
        self.charge_proxy_time = bool(charge_proxy_time)
        self.history = history
        self.driver: Optional[Driver] = None

    def run(self) -> RunResult:
        """Run the search to the end of the budget and return its ``RunResult``."""
        return execute(
            SimulatedClock(self.evaluator, self.workers),
            self.algorithm,
            self.history,
            budget_s=self.budget_s,
            charge_proxy_time=self.charge_proxy_time,
            on_driver=self._keep,
        )

    def _keep(self, driver: Driver) -> None:
        self.driver = driver
