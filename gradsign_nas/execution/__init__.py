"""Executors: run an algorithm's ask/tell loop against an evaluator.

- ``SimulatedExecutor``: in-process, on a simulated clock (the NAS-Bench-201 protocol), optionally
  with W simulated asynchronous workers.
- ``RayTuneExecutor``: one Ray Tune trial per evaluation, the algorithm wrapped as a Tune ``Searcher``.
- ``run_all``: many independent tabular runs (seeds x algorithms x variants) fanned out as Ray tasks.

All of them return / record the same things (``RunResult``, ``gradsign_nas.results.History``).
Ray is imported only when a Ray executor runs.
"""

from .fanout import Context, RunSpec, make_specs, run_all, run_one, run_seed
from .ray_tune import RayTuneExecutor
from .simulated import DATASETS, RunResult, SimulatedExecutor, budget_exempt

__all__ = ["DATASETS", "Context", "RayTuneExecutor", "RunResult", "RunSpec", "SimulatedExecutor", "budget_exempt",
           "make_specs", "run_all", "run_one", "run_seed"]
