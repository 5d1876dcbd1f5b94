"""``RayTuneExecutor``: every evaluation of a tabular search a Ray Tune trial.

The algorithm runs under Tune through the one Tune adapter (``tune_adapter.AlgorithmSearcher``) and
the same ``Driver`` as the ``SimulatedExecutor``: each of ``workers`` concurrent trial slots keeps a
simulated clock, an evaluation that would end after ``budget_s`` is discarded and ends that slot,
and every evaluation is recorded with the same fields. With one concurrent trial the proposals and
records equal the ``SimulatedExecutor``'s for the same seed; with several, results come back in
Tune's real completion order, so the simulated times are approximate.

Ray starts locally (``gradsign_nas._ray.init_ray``: dashboard off, 127.0.0.1, token auth off) unless
``address`` names an existing cluster; Tune reuses trial actors. Ray is imported only when a run
starts.

Example:
    >>> ex = RayTuneExecutor(algorithm, evaluator, budget_s=12000)   # doctest: +SKIP
    >>> ex.run().best_arch                                           # doctest: +SKIP
"""

from __future__ import annotations

from typing import Optional

from gradsign_nas.benchmarks.evaluator import test_metrics_of
from gradsign_nas.results import History

from .._ray import ray_session
from .base import Backend, execute
from .driver import Driver, Pending, RunResult, check_budget, check_workers

__all__ = ["RayTuneExecutor", "TabularTuneTrials", "tabular_trial"]


def tabular_trial(config: dict, evaluator=None) -> None:
    """The Tune trainable of a tabular search: evaluate ``config["arch"]`` at ``config["fidelity"]``."""
    from .tune_adapter import report

    space = getattr(evaluator, "space", None)
    arch = space.parse(config["arch"]) if space is not None else config["arch"]
    report(evaluator.evaluate(arch, config["fidelity"]))


def _tabular_config(pend: Pending) -> dict:
    return {"arch": str(pend.proposal.arch), "fidelity": pend.proposal.fidelity, "ask": pend.n}


class TabularTuneTrials(Backend):
    """The backend of a table search under Ray Tune: one trial per look-up, ``workers`` at once, on a
    local Ray (``num_cpus``, default ``workers``) or the cluster at ``address``; Ray starts only when
    there is something to evaluate."""

    def __init__(self, evaluator, workers: int = 1, address: Optional[str] = None, num_cpus: Optional[int] = None):
        self.evaluator = evaluator
        self.workers = check_workers(workers)
        self.address = address
        self.num_cpus = num_cpus
        self.test_metrics = test_metrics_of(evaluator)

    def slots(self) -> int:
        return self.workers

    def run(self, driver: Driver) -> None:
        from ray import tune

        from .tune_adapter import run_tune

        with ray_session(self.num_cpus or self.workers, self.address):
            run_tune(
                driver,
                tune.with_parameters(tabular_trial, evaluator=self.evaluator),
                _tabular_config,
                concurrency=self.workers,
            )


class RayTuneExecutor:
    """Runs ``algorithm`` against ``evaluator`` with one Ray Tune trial per evaluation (``execute`` on
    ``TabularTuneTrials``).

    Args:
        algorithm: an ``Algorithm``.
        evaluator: an ``Evaluator`` (picklable: it is shipped to the trial actors).
        budget_s: search budget in simulated seconds (from the evaluations' costs).
        workers: concurrent trials (each a simulated worker slot).
        charge_proxy_time: add ``proposal.meta["proxy_cost_s"]`` to each evaluation's duration.
        history: a ``History`` to record into and resume from, or ``None``.
        address: an existing Ray cluster (``ray start --head`` prints it); ``None``: a local Ray.
        num_cpus: CPUs of a local Ray (default: ``workers``).
        progress: a progress bar's label (trials on stderr), or ``None`` for none.
    """

    def __init__(
        self,
        algorithm,
        evaluator,
        budget_s: float = 12000.0,
        workers: int = 1,
        charge_proxy_time: bool = False,
        history: Optional[History] = None,
        address: Optional[str] = None,
        num_cpus: Optional[int] = None,
        progress: Optional[str] = None,
    ) -> None:
        self.progress = progress
        self.algorithm = algorithm
        self.evaluator = evaluator
        self.budget_s = check_budget(budget_s)
        self.workers = check_workers(workers)
        self.charge_proxy_time = bool(charge_proxy_time)
        self.history = history
        self.address = address
        self.num_cpus = num_cpus
        self.driver: Optional[Driver] = None

    def run(self) -> RunResult:
        """Run the search under Ray Tune and return its ``RunResult``."""
        return execute(
            TabularTuneTrials(self.evaluator, self.workers, self.address, self.num_cpus),
            self.algorithm,
            self.history,
            budget_s=self.budget_s,
            charge_proxy_time=self.charge_proxy_time,
            progress=self.progress,
            on_driver=self._keep,
        )

    def _keep(self, driver: Driver) -> None:
        self.driver = driver
