"""Live searches: every proposal a real training run.

``run_live_search(algorithm, evaluator, trials=..., out_dir=...)`` runs each proposal as a Ray Tune
trial through the one Tune adapter (``tune_adapter``): ``live_trial`` trains the proposal's network
epoch by epoch (``LiveTrainingEvaluator.train``) and reports the validation accuracy after every
epoch with a checkpoint (model, optimizer, epoch), so a trial that Tune pauses (Hyperband) or
restarts after its worker died (``max_failures``) continues from its checkpoint instead of epoch 1.
``sequential_search`` is the same search without Ray: one trial after another in this process.

Both drive the same ``Driver`` and ``History`` as the tabular executors: one record per trial in
``history.jsonl`` (with the per-epoch validation accuracies in ``extra["curve"]``), ``best.json``
naming the model's recipe, and the best network's weights in ``best_model.pt``
(``gradsign_nas.load_best(out_dir)`` rebuilds it). A search that stops (Ctrl-C, a killed process)
resumes from its history without re-running finished trials.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from gradsign_nas._checks import positive_int, positive_number
from gradsign_nas.errors import InputError
from gradsign_nas.results import History

from .base import Backend, execute
from .driver import Driver, Pending, RunResult, check_trials

if TYPE_CHECKING:
    from ray.tune.schedulers import TrialScheduler

_log = logging.getLogger(__name__)

__all__ = [
    "InProcessTrials",
    "LiveTuneTrials",
    "live_trial",
    "open_history",
    "run_live_search",
    "sequential_search",
    "trial_slots",
]

SCHEDULERS = ("fifo", "hyperband", "asha")


def live_trial(config: dict, evaluator=None) -> None:
    """Ray Tune function trainable: train ``config["arch"]`` for ``config["epochs"]`` epochs,
    reporting metrics and a checkpoint after every epoch and resuming from Tune's checkpoint."""
    import ray
    import torch
    from ray import tune

    from gradsign_nas.algorithms.base import Result

    from .tune_adapter import STATE_FILE, report

    torch.set_num_threads(max(1, int(config.get("threads", 1))))
    arch = evaluator.space.parse(config["arch"])
    state = None
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            state = torch.load(Path(d) / STATE_FILE, map_location="cpu", weights_only=True)
    elif evaluator.checkpoint_dir is not None:
        state = evaluator._load_checkpoint(arch, int(config["epochs"]))
    context = ray.get_runtime_context()
    info = {"node": context.get_node_id(), "pid": os.getpid()}
    # where and when the trial ran (utilisation, the timeline): node, GPU ids, start and end
    where = dict(info, gpus=[str(g) for g in context.get_accelerator_ids().get("GPU", [])], trial_start=time.time())
    resumed_from = int(state["epoch"]) if state else 0

    def on_epoch(metrics: dict, state_fn: Callable[[], dict]) -> None:
        snap = state_fn()
        extra = dict(metrics, curve=list(snap["curve"]), resumed_from=resumed_from, fidelity_reached=metrics["epoch"])
        extra.update(where, trial_end=time.time())
        name = getattr(evaluator, "metric", "valid_acc")
        report(Result(metrics[name], metrics["train_seconds"], extra), snap, metric_name=name, **info)

    result = evaluator.train(arch, int(config["epochs"]), state=state, on_epoch=on_epoch)
    if evaluator.checkpoint_dir is not None:
        evaluator.save_checkpoint(arch, evaluator._last_state(arch, result))


def _label(algorithm, name: Optional[str]) -> str:
    return name or f"{algorithm.name}" + ("+gradsign" if getattr(algorithm, "assistant", None) else "")


def open_history(evaluator, out_dir, run_info: Optional[dict] = None) -> History:
    """The ``History`` of a live run in ``out_dir``, recording ``evaluator``'s model recipe and, when it
    is not ``valid_acc``, its metric and mode (checks that a run already there has the same settings)."""
    spec = evaluator.model_spec() if hasattr(evaluator, "model_spec") else None
    info = dict(run_info) if run_info is not None else None
    metric = getattr(evaluator, "metric", "valid_acc")
    if metric != "valid_acc":  # a run that minimises records so (valid_acc runs keep their old run.json)
        from gradsign_nas.benchmarks.live import METRICS

        info = {**(info or {}), "metric": metric, "mode": METRICS.get(metric, "max")}
    if info is not None and spec is not None:
        info["model"] = spec
    return History(Path(out_dir).resolve(), info, model=spec)


def run_live_search(
    algorithm,
    evaluator,
    *,
    trials: int,
    out_dir,
    name: Optional[str] = None,
    workers: Optional[int] = None,
    cpus_per_trial: float = 1,
    gpus_per_trial: float = 0,
    max_failures: int = 2,
    scheduler: str = "fifo",
    address: Optional[str] = None,
    num_cpus: Optional[int] = None,
    progress: bool = True,
    run_info: Optional[dict] = None,
    history: Optional[History] = None,
) -> RunResult:
    """Run ``trials`` real training trials of ``algorithm`` under Ray Tune.

    Args:
        algorithm: an ``Algorithm`` (vanilla or assisted).
        evaluator: a ``LiveTrainingEvaluator`` (shipped once to the workers through the object store).
        trials: proposals to evaluate (finished ones in ``out_dir``'s history count).
        out_dir: the run directory (``history.jsonl``, ``run.json``, ``best.json``, ``best_model.pt``).
            Tune's own trial checkpoints live in a temporary ``.tune-*`` folder inside it while the
            search runs and are removed when it ends (resuming needs only the history).
        name: the progress bar's label (default: algorithm name and variant).
        workers: concurrent trials (default: the cluster's CPUs / ``cpus_per_trial``, or its GPUs /
            ``gpus_per_trial``).
        cpus_per_trial: CPUs (and torch threads) per trial.
        gpus_per_trial: GPUs per trial; fractions share a GPU between trials (e.g. 0.25: four).
        max_failures: retries of a trial whose worker died or raised; a retry continues from the
            trial's last checkpoint.
        scheduler: ``"fifo"`` (every trial to its fidelity), ``"hyperband"`` or ``"asha"`` (Tune stops
            or pauses trials on their per-epoch validation accuracy; trials then run up to the highest
            fidelity and record the epoch they reached).
        address: an existing Ray cluster (``ray start --head`` prints it); ``None``: a local Ray.
        num_cpus: CPUs of a local Ray (default: all cores).
        progress: show a progress bar on stderr.
        run_info: the run's settings, stored in ``run.json`` (a resumed run must match them).
        history: an open ``History`` (``open_history``) to use instead of opening one in ``out_dir``.
    """
    check_trials(trials)
    history = history if history is not None else open_history(evaluator, out_dir, run_info)
    backend = LiveTuneTrials(
        evaluator,
        workers=workers,
        cpus_per_trial=cpus_per_trial,
        gpus_per_trial=gpus_per_trial,
        max_failures=max_failures,
        scheduler=scheduler,
        address=address,
        num_cpus=num_cpus,
    )
    return execute(backend, algorithm, history, trials=trials, progress=_label(algorithm, name) if progress else None)


class LiveTuneTrials(Backend):
    """The backend of a live search under Ray Tune: one trial per training run (``live_trial``),
    checkpointed every epoch; ``workers`` at once (default: what the cluster's CPUs and GPUs hold at
    ``cpus_per_trial`` / ``gpus_per_trial``); Tune's scheduler stops or pauses trials by epoch."""

    closes = True

    def __init__(
        self,
        evaluator,
        *,
        workers: Optional[int] = None,
        cpus_per_trial: float = 1,
        gpus_per_trial: float = 0,
        max_failures: int = 2,
        scheduler: str = "fifo",
        address: Optional[str] = None,
        num_cpus: Optional[int] = None,
    ) -> None:
        positive_number("cpus_per_trial", cpus_per_trial)
        positive_number("gpus_per_trial", gpus_per_trial, allow_zero=True)
        positive_int("max_failures", max_failures, 0)
        if scheduler not in SCHEDULERS:
            raise InputError(f"scheduler must be one of {', '.join(SCHEDULERS)}, but got {scheduler!r}")
        self.evaluator = evaluator
        self.workers = workers
        self.cpus_per_trial, self.gpus_per_trial = cpus_per_trial, gpus_per_trial
        self.max_failures, self.scheduler = max_failures, scheduler
        self.address, self.num_cpus = address, num_cpus
        self._exit: list = []

    def __enter__(self) -> "LiveTuneTrials":
        from .._ray import ray_session

        self._exit.append(_driver_threads(1))  # proxy scoring in the driver must not crowd the trials
        session = ray_session(self.num_cpus, self.address)
        session.__enter__()
        self._exit.append(lambda: session.__exit__(None, None, None))
        return self

    def __exit__(self, *exc) -> None:
        while self._exit:
            self._exit.pop()()

    def slots(self) -> int:
        if self.workers is None:
            self.workers = trial_slots(self.cpus_per_trial, self.gpus_per_trial)
        return self.workers

    def run(self, driver: Driver) -> None:
        from ray import tune

        from .tune_adapter import run_tune

        evaluator, history = self.evaluator, driver.history
        sched: Optional[TrialScheduler] = None
        max_epochs = int(evaluator.fidelities[-1])
        if self.scheduler == "hyperband":
            from ray.tune.schedulers import HyperBandForBOHB

            # the Hyperband variant that fills brackets as a searcher creates trials; it pauses trials at
            # each rung and resumes the best from their checkpoints
            sched = HyperBandForBOHB(time_attr="training_iteration", max_t=max_epochs, reduction_factor=3)
        elif self.scheduler == "asha":
            from ray.tune.schedulers import ASHAScheduler

            sched = ASHAScheduler(time_attr="training_iteration", max_t=max_epochs, grace_period=1, reduction_factor=3)
        threads = max(1, int(self.cpus_per_trial))

        def to_config(pend: Pending) -> dict:
            epochs = max_epochs if sched is not None else _epochs(pend, evaluator)
            return {"arch": str(pend.proposal.arch), "epochs": epochs, "ask": pend.n, "threads": threads}

        name = getattr(evaluator, "metric", "valid_acc")
        run_tune(
            driver,
            tune.with_parameters(live_trial, evaluator=evaluator),
            to_config,
            concurrency=self.slots(),
            resources={"cpu": self.cpus_per_trial, "gpu": self.gpus_per_trial},
            scheduler=sched,
            max_failures=self.max_failures,
            storage_dir=history.directory,
            metric=name,
            mode="min" if history.sign == -1 else "max",
            log_dir=history.directory / "tune" if history.directory is not None else None,
        )


def trial_slots(cpus_per_trial: float, gpus_per_trial: float) -> int:
    """How many trials of ``cpus_per_trial`` CPUs and ``gpus_per_trial`` GPUs the Ray cluster (already
    joined) runs at once."""
    import ray

    res = ray.cluster_resources()
    by_cpu = int(res.get("CPU", 1) // cpus_per_trial)
    by_gpu = int(res.get("GPU", 0) // gpus_per_trial) if gpus_per_trial else by_cpu
    return max(1, min(by_cpu, by_gpu or 1))


def _epochs(pend: Pending, evaluator) -> int:
    f = pend.proposal.fidelity
    return int(f if f is not None else evaluator.fidelities[-1])


def _driver_threads(n: Optional[int]) -> Callable[[], None]:
    """Set torch's intra-op threads in this process to ``n``; returns a function that restores them."""
    if n is None:
        return lambda: None
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    return lambda: torch.set_num_threads(old)


def sequential_search(
    algorithm,
    evaluator,
    *,
    trials: int,
    out_dir,
    name: Optional[str] = None,
    progress: bool = True,
    run_info: Optional[dict] = None,
    threads: Optional[int] = 1,
    history: Optional[History] = None,
) -> RunResult:
    """``run_live_search`` without Ray: trials one after another in this process (same records, same
    resume); for machines without Ray, e.g. one GPU. ``threads``: torch CPU threads (``None``: leave
    torch's setting; 1 by default, which is fastest on a busy CPU)."""
    check_trials(trials)
    history = history if history is not None else open_history(evaluator, out_dir, run_info)
    backend = InProcessTrials(evaluator, threads=threads)
    return execute(backend, algorithm, history, trials=trials, progress=_label(algorithm, name) if progress else None)


class InProcessTrials(Backend):
    """The backend of a live search without Ray: training runs one after another in this process with
    ``threads`` torch threads (``None``: torch's setting); the best network's weights kept."""

    closes = True

    def __init__(self, evaluator, threads: Optional[int] = 1) -> None:
        self.evaluator = evaluator
        self.threads = threads
        self._restore: Callable[[], None] = lambda: None

    def __enter__(self) -> "InProcessTrials":
        self._restore = _driver_threads(self.threads)
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def run(self, driver: Driver) -> None:
        evaluator, history = self.evaluator, driver.history
        while True:
            pend = driver.next()
            if pend is None:
                break
            last: list = []

            def on_epoch(metrics, state_fn, last=last):
                last[:] = [state_fn]

            start = time.time()
            try:
                res = evaluator.train(pend.proposal.arch, _epochs(pend, evaluator), on_epoch=on_epoch)
            except (RuntimeError, FloatingPointError) as e:  # a failed training run: record it, go on
                _log.warning("trial %d failed: %s", pend.n, e)
                driver.fail(pend, str(e))
                continue
            extra = dict(res.extra, fidelity_reached=res.extra.get("epoch"), node="local", pid=os.getpid())
            extra.update(trial_start=start, trial_end=time.time())
            rec = driver.complete(pend, type(res)(res.metric, res.cost_s, extra), worker="local")
            if driver.is_best(rec) and last:
                history.save_best_weights(rec["ask"], last[0]()["model"])
