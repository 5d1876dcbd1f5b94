"""Executors: run an algorithm's search against an evaluator.

The one interface (``base``): ``execute(backend, algorithm, history, budget_s= | trials=)``, where the
backend says where evaluations run and which clock counts them:

- ``SimulatedClock``: in this process, on a simulated clock (the NAS-Bench-201 protocol), optionally
  with W simulated asynchronous workers;
- ``TabularTuneTrials``: one Ray Tune trial per evaluation of a table search;
- ``LiveTuneTrials`` / ``InProcessTrials``: live searches that train every proposal, as Ray Tune
  trials or one after another in this process.

``SimulatedExecutor``, ``RayTuneExecutor``, ``run_live_search`` and ``sequential_search`` are
shortcuts over it. ``run_all`` fans many independent table searches (seeds x algorithms x variants)
out as Ray tasks. Every search drives the same ``Driver`` (budget, records, replay on resume) and
records into a ``gradsign_nas.results.History``; every Ray user starts Ray through
``gradsign_nas._ray``. Ray is imported only when a Ray backend runs.
"""

from .._ray import init_ray
from .base import Backend, execute
from .driver import Driver, RunResult, budget_exempt
from .fanout import Context, RunSpec, make_specs, run_all, run_one, run_seed
from .live import InProcessTrials, LiveTuneTrials, run_live_search, sequential_search
from .ray_tune import RayTuneExecutor, TabularTuneTrials
from .simulated import SimulatedClock, SimulatedExecutor

__all__ = [
    "Backend",
    "Context",
    "Driver",
    "InProcessTrials",
    "LiveTuneTrials",
    "RayTuneExecutor",
    "RunResult",
    "RunSpec",
    "SimulatedClock",
    "SimulatedExecutor",
    "TabularTuneTrials",
    "budget_exempt",
    "execute",
    "init_ray",
    "make_specs",
    "run_all",
    "run_live_search",
    "run_one",
    "run_seed",
    "sequential_search",
]
