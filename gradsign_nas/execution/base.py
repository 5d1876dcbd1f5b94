"""The one executor interface: a ``Backend`` runs a ``Driver``'s evaluations, ``execute`` runs a search.

A search is an algorithm, a record (``History``) and a stopping rule (a budget of simulated seconds or
a number of trials); the ``Driver`` keeps its books (asking, budget, records, replay on resume). What
differs between executors is only where an evaluation happens and which clock measures it, and that
is the backend:

- ``SimulatedClock`` (``simulated.py``): in this process, on a simulated clock (tables);
- ``TabularTuneTrials`` (``ray_tune.py``): one Ray Tune trial per table look-up;
- ``LiveTuneTrials`` (``live.py``): one Ray Tune trial per training run, checkpointed every epoch;
- ``InProcessTrials`` (``live.py``): training runs one after another in this process.

A backend is a context manager (it opens what it needs, e.g. Ray, and closes it), says how many
evaluations it runs at once (``slots()``), and drives the driver until it is finished (``run``).
``SimulatedExecutor``, ``RayTuneExecutor``, ``run_live_search`` and ``sequential_search`` are
shortcuts that build a backend and call ``execute``.

Example:
    >>> result = execute(SimulatedClock(evaluator), algorithm, budget_s=12000)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Optional

from gradsign_nas.results import History

from .driver import Driver, RunResult

__all__ = ["Backend", "execute"]


class Backend:
    """Where a search's evaluations run and which clock measures them."""

    #: the test accuracies the evaluator reports (``{dataset: key}``), or ``None`` for none
    test_metrics: Optional[Mapping[str, str]] = None
    #: whether ``execute`` closes the driver and the history when the search ends (live runs do)
    closes: bool = False

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def slots(self) -> int:
        """How many evaluations run at once (the driver's workers)."""
        return 1

    def run(self, driver: Driver) -> None:  # pragma: no cover - every backend defines it
        """Evaluate the driver's proposals until it is finished."""
        raise NotImplementedError


def execute(
    backend: Backend,
    algorithm,
    history: Optional[History] = None,
    *,
    budget_s: Optional[float] = None,
    trials: Optional[int] = None,
    charge_proxy_time: bool = False,
    progress: Optional[str] = None,
    on_driver: Any = None,
) -> RunResult:
    """Run ``algorithm``'s search on ``backend`` and return its ``RunResult``.

    Args:
        backend: where the evaluations run (see the module docstring).
        algorithm: an ``Algorithm`` (vanilla or assisted).
        history: the record to write and resume from (default: one in memory).
        budget_s: a budget in simulated seconds; ``trials``: a number of evaluations (one of the two).
        charge_proxy_time: add each proposal's proxy seconds to its simulated duration.
        progress: a progress bar's label, or ``None``.
        on_driver: called with the driver once it is made (executors keep it for its resume message).
    """
    wall0 = time.perf_counter()
    driver = None
    try:
        with backend:
            driver = Driver(
                algorithm,
                history,
                budget_s=budget_s,
                trials=trials,
                workers=backend.slots(),
                charge_proxy_time=charge_proxy_time,
                progress=progress,
                test_metrics=backend.test_metrics,
            )
            if on_driver is not None:
                on_driver(driver)
            if not driver.finished:
                backend.run(driver)
            return driver.result(time.perf_counter() - wall0)
    finally:
        if backend.closes:
            if driver is not None:
                driver.close()
            if history is not None:
                history.close()
