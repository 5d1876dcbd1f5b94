"""Executors: run an algorithm's ask/tell loop against an evaluator.

- ``SimulatedExecutor``: in-process, on a simulated clock (the NAS-Bench-201 protocol), optionally
  with W simulated asynchronous workers.
- ``RayTuneExecutor``: one Ray Tune trial per evaluation of a tabular search.
- ``run_live_search`` / ``sequential_search``: live searches that train every proposal.
- ``run_all``: many independent tabular runs (seeds x algorithms x variants) fanned out as Ray tasks.

All of them drive the same ``Driver`` (budget, records, replay on resume) and record into a
``gradsign_nas.results.History``; the Ray ones share one Tune adapter and one Ray start-up
(``init_ray``). Ray is imported only when a Ray executor runs.
"""

from .._ray import init_ray
from .driver import Driver, RunResult, budget_exempt
from .fanout import Context, RunSpec, make_specs, run_all, run_one, run_seed
from .live import run_live_search, sequential_search
from .ray_tune import RayTuneExecutor
from .simulated import SimulatedExecutor

__all__ = [
    "Context",
    "Driver",
    "RayTuneExecutor",
    "RunResult",
    "RunSpec",
    "SimulatedExecutor",
    "budget_exempt",
    "init_ray",
    "make_specs",
    "run_all",
    "run_live_search",
    "run_one",
    "run_seed",
    "sequential_search",
]
