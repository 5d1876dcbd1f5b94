"""Live searches: every proposal a real training run, one Ray Tune trial each.

``run_live_search(algorithm, evaluator, trials=..., out_dir=...)`` wraps the ask/tell algorithm as a
Tune ``Searcher`` and runs a function trainable that trains the proposal's network epoch by epoch
(``LiveTrainingEvaluator.train``), reporting the validation accuracy after every epoch together
with a checkpoint (model, optimizer, epoch) through ``tune.report(..., checkpoint=...)``. A trial
that Tune pauses (Hyperband) or restarts after its worker died (``FailureConfig(max_failures)``)
continues from ``tune.get_checkpoint()`` instead of epoch 1.

Everything is recorded in the driver as it happens: one ``History`` line per finished trial
(``history.jsonl``), ``best.json`` and the best network's weights (``best_model.pt``, a
``state_dict`` that loads into ``space.build(arch, ...)``), so a killed worker loses only its own
unfinished epoch and an interrupted search resumes from its history without re-running finished
trials: the algorithm is asked again and told the recorded results in the order they originally
came (each record notes how many results the algorithm had seen when it was asked).

``sequential_search`` is the same loop without Ray (one trial after another in this process), for
machines without Ray (the GPU machine) and for comparison.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Optional

from gradsign_nas.algorithms.base import Result

__all__ = ["LiveRun", "TrainingBatchScorer", "digits_nb201_space", "run_live_search",
           "sequential_search", "load_best_model"]

STATE_FILE = "state.pt"
BEST_MODEL = "best_model.pt"


# ------------------------------------------------------------------------------------------------
# the digits-sized NB201 space and an on-demand proxy scorer on the training data
# ------------------------------------------------------------------------------------------------
def digits_nb201_space(C: int = 8, N: int = 1):
    """NB201's cell space sized for 8x8 grey digits: C channels, N cells per stage, 1 input channel."""
    from gradsign_nas.search_spaces.nb201 import NB201Space

    return NB201Space(C=C, N=N, in_channels=1)


from gradsign_nas.assist import OnDemandScorer as _OnDemandScorer  # noqa: E402  (numpy only)


class TrainingBatchScorer(_OnDemandScorer):
    """Scores an architecture with a proxy on one seeded, class-balanced batch of the evaluator's own
    training split, on the evaluator's network (``evaluator.build``), caching by arch string.

    Args:
        evaluator: a ``LiveTrainingEvaluator`` (its data, classes and initialisation are used).
        proxy: a name in ``gradsign_nas.proxies`` (default ``"gradsign"``).
        batch_size: images in the batch (default 64).
        seed: seeds the batch choice.
    """

    def __init__(self, evaluator, proxy: str = "gradsign", batch_size: int = 64, seed: int = 0) -> None:
        from gradsign_nas import proxies

        self.evaluator = evaluator
        self.space = evaluator.space
        self.proxy_name = proxy
        self.proxy = proxies.get(proxy)
        self.batch_size, self.seed = int(batch_size), int(seed)
        self._batch = None
        self._scores: dict[str, float] = {}
        self._seconds: dict[str, float] = {}

    def _get_batch(self):
        if self._batch is None:
            import numpy as np

            from gradsign_nas.benchmarks.images import select_balanced

            d = self.evaluator.data
            y = d.y_train.numpy()
            idx = select_balanced(y, min(self.batch_size, len(y)), np.random.default_rng(self.seed))
            self._batch = (d.x_train[idx], d.y_train[idx])
        return self._batch

    def _build(self, arch: Hashable):
        return self.evaluator.build(arch)


# ------------------------------------------------------------------------------------------------
# the Tune trainable (runs in the worker)
# ------------------------------------------------------------------------------------------------
def live_trial(config: dict, evaluator=None) -> None:
    """Ray Tune function trainable: train ``config["arch"]`` for ``config["epochs"]`` epochs,
    reporting metrics and a checkpoint after every epoch and resuming from Tune's checkpoint."""
    import ray
    import torch
    from ray import tune

    torch.set_num_threads(max(1, int(config.get("threads", 1))))
    arch = evaluator.space.parse(config["arch"])
    epochs = int(config["epochs"])
    state = None
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            state = torch.load(Path(d) / STATE_FILE, map_location="cpu", weights_only=True)
    elif evaluator.checkpoint_dir is not None:
        state = evaluator._load_checkpoint(arch, epochs)
    info = {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
            "resumed_from": int(state["epoch"]) if state else 0}

    def on_epoch(metrics: dict, state_fn: Callable[[], dict]) -> None:
        with tempfile.TemporaryDirectory(prefix="gradsign-ckpt-") as d:
            torch.save(state_fn(), Path(d) / STATE_FILE)
            tune.report(dict(metrics, **info), checkpoint=tune.Checkpoint.from_directory(d))

    result = evaluator.train(arch, epochs, state=state, on_epoch=on_epoch)
    if evaluator.checkpoint_dir is not None:
        evaluator.save_checkpoint(arch, evaluator._last_state(arch, result))


# ------------------------------------------------------------------------------------------------
# recording and replay (driver side)
# ------------------------------------------------------------------------------------------------
@dataclass
class LiveRun:
    """What a live search produced (all of it is also in ``out_dir``)."""

    name: str
    out_dir: Path
    best: Optional[dict]
    records: list
    wall_s: float
    n_completed: int
    n_failed: int
    n_replayed: int
    stats: dict = field(default_factory=dict)


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


class _Driver:
    """The ask/tell bookkeeping shared by the Ray and the sequential loops."""

    def __init__(self, algorithm, evaluator, trials: int, history, name: str, progress: bool) -> None:
        from tqdm.auto import tqdm

        self.algorithm, self.evaluator, self.trials, self.history, self.name = algorithm, evaluator, trials, history, name
        self.fidelity_default = evaluator.fidelities[-1]
        self.n_asked = 0
        self.resolved = 0  # results told + proposals discarded, in order
        self.queue: list = []  # (n, proposal, told_before) asked but not yet run (from a replay)
        self.live: dict = {}  # trial key -> (n, proposal, told_before, wall_start)
        self.last_results: dict = {}  # trial key -> its latest reported metrics (Ray)
        self.reported: dict = {}  # trial key -> the epochs it reported, in order (Ray)
        self.best: Optional[dict] = None
        self.n_completed = self.n_failed = self.n_replayed = 0
        self.pbar = tqdm(total=trials, desc=name, unit="trial", disable=not progress, file=sys.stderr,
                         dynamic_ncols=True, mininterval=0.2)
        self._replay()

    # -- replay -----------------------------------------------------------------------------------
    def _replay(self) -> None:
        recs = [r for r in self.history.records if r.get("status") in ("completed", "failed")] if self.history else []
        if not recs:
            return
        by_n = {int(r["ask"]): r for r in recs}
        asked: dict = {}
        ordered = sorted(by_n)

        def must_ask_now(n: int, target: int) -> bool:
            if n <= target:
                return True
            later = [m for m in ordered if m >= n]
            return bool(later) and int(by_n[later[0]].get("told_before", 0)) <= self.resolved

        for r in recs:
            target = int(r["ask"])
            while self.n_asked < self.trials and must_ask_now(self.n_asked, target):
                asked[self.n_asked] = (self.algorithm.ask(), self.resolved)
                self.n_asked += 1
            p, told_before = asked.pop(target)
            if str(p.arch) != r["arch"]:
                asked[target] = (p, told_before)  # the search diverged: run it again
                continue
            if r["status"] == "failed":
                self.algorithm.discard(p)
                self.n_failed += 1
            else:
                res = Result(float(r["metric"]), float(r["cost_s"]), r.get("extra") or {})
                self.algorithm.tell(p, res)
                self._track_best(r)
                self.n_completed += 1
            self.resolved += 1
            self.n_replayed += 1
            self.pbar.update(1)
        self.queue = [(n, p, tb) for n, (p, tb) in sorted(asked.items())]

    # -- asking -----------------------------------------------------------------------------------
    def next_proposal(self):
        """``(n, proposal, told_before)`` to run next, or ``None`` when all trials were asked."""
        if self.queue:
            return self.queue.pop(0)
        if self.n_asked >= self.trials:
            return None
        p = self.algorithm.ask()
        n = self.n_asked
        self.n_asked += 1
        return n, p, self.resolved

    def epochs_for(self, p) -> int:
        f = p.fidelity if p.fidelity is not None else self.fidelity_default
        return int(f)

    # -- recording --------------------------------------------------------------------------------
    def finish(self, n: int, p, told_before: int, metrics: Optional[dict], wall_start: float,
               error: bool = False) -> Optional[dict]:
        meta = dict(p.meta or {})
        rec = {"ask": n, "trial_id": p.trial_id, "arch": str(p.arch), "index": None,
               "fidelity": self.epochs_for(p), "told_before": told_before, "wall_start": wall_start,
               "wall_time": time.time(), "proxy": meta.get("proxy"), "proxy_cost_s": meta.get("proxy_cost_s"),
               "source": meta.get("source")}
        if error or not metrics or "valid_acc" not in metrics:
            rec.update(status="failed", metric=None, cost_s=None, worker=None, extra={})
            self.algorithm.discard(p)
            self.n_failed += 1
        else:
            extra = {k: metrics.get(k) for k in ("epoch", "valid_loss", "train_loss", "train_acc",
                                                 "resumed_from", "node", "pid") if k in metrics}
            if "reported_epochs" in metrics:
                extra["reported_epochs"] = list(metrics["reported_epochs"])
            rec.update(status="completed", metric=float(metrics["valid_acc"]),
                       cost_s=float(metrics["train_seconds"]), worker=metrics.get("node"), extra=extra)
            rec["epochs"] = int(metrics.get("epoch", self.epochs_for(p)))
            self.algorithm.tell(p, Result(rec["metric"], rec["cost_s"], extra))
            self.n_completed += 1
        self.resolved += 1
        rec = _jsonable(rec)
        if self.history is not None:
            self.history.append(rec)
        self.pbar.update(1)
        if rec["status"] == "completed":
            improved = self._track_best(rec)
            self.pbar.set_postfix(best=f"{self.best['metric']:.2f}")
            return rec if improved else None
        return None

    def _track_best(self, rec: dict) -> bool:
        key = (rec.get("epochs", rec.get("fidelity")) or 0, rec["metric"])
        if self.best is None or key > (self.best.get("epochs", self.best.get("fidelity")) or 0, self.best["metric"]):
            self.best = dict(rec)
            return True
        return False

    def write_best(self, state: Optional[dict], out_dir: Path) -> None:
        """``best.json`` (+ ``best_model.pt`` from ``state``: the trial's final checkpoint)."""
        import torch

        from gradsign_nas.results import write_json_atomic

        best = dict(self.best)
        ev = self.evaluator
        best.update(space=ev.space.name, num_classes=ev.num_classes, in_channels=ev.in_channels,
                    build_options=ev.build_options, dataset=ev.dataset, seed=ev.seed)
        if state is not None:
            tmp = out_dir / (BEST_MODEL + ".tmp")
            torch.save(state["model"], tmp)
            os.replace(tmp, out_dir / BEST_MODEL)
            best["weights"] = BEST_MODEL
        write_json_atomic(out_dir / "best.json", _jsonable(best))

    def close(self) -> None:
        self.pbar.close()


def _history(out_dir: Path, run_info: Optional[dict]):
    from gradsign_nas.results import History

    return History(out_dir, _jsonable(run_info) if run_info is not None else None)


# ------------------------------------------------------------------------------------------------
# the Ray Tune loop
# ------------------------------------------------------------------------------------------------
_DRIVERS: dict = {}  # the live drivers by key: Tune pickles its searcher and callbacks, not these


def _make_searcher(key: int, threads: int):
    from ray.tune.search import Searcher

    class LiveSearcher(Searcher):
        """Tune ``Searcher`` over an ask/tell algorithm (one proposal per trial)."""

        def __init__(self) -> None:
            super().__init__(metric="valid_acc", mode="max")
            self.error: Optional[BaseException] = None
            self.improved: dict = {}

        def suggest(self, trial_id: str):
            driver = _DRIVERS[key]
            try:
                nxt = driver.next_proposal()
            except BaseException as e:  # surface algorithm errors after Tune stops
                self.error = e
                return Searcher.FINISHED
            if nxt is None:
                return Searcher.FINISHED
            n, p, told_before = nxt
            driver.live[trial_id] = (n, p, told_before, time.time())
            return {"arch": str(p.arch), "epochs": driver.epochs_for(p), "ask": n, "threads": threads}

        def on_pause(self, trial_id: str) -> None:  # HyperBandForBOHB pauses trials at its rungs
            pass

        def on_unpause(self, trial_id: str) -> None:
            pass

        def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False) -> None:
            driver = _DRIVERS[key]
            entry = driver.live.pop(trial_id, None)
            if entry is None:
                return
            # a trial the scheduler stopped reaches the searcher without its last result: take the
            # last one the callback saw
            last = driver.last_results.pop(trial_id, None)
            if not error and last is not None and (not result or last.get("epoch", 0) > result.get("epoch", 0)):
                result = last
            try:
                reported = driver.reported.pop(trial_id, None)
                if result and reported:
                    result = dict(result, reported_epochs=reported)
                rec = driver.finish(*entry[:3], metrics=result, wall_start=entry[3], error=error)
                if rec is not None:
                    self.improved[trial_id] = rec
            except BaseException as e:
                self.error = e

    return _by_reference(LiveSearcher)()


def _by_reference(cls):
    """Make a class built at run time (so that Ray is imported late) picklable by reference."""
    cls.__qualname__ = cls.__name__
    cls.__module__ = __name__
    globals()[cls.__name__] = cls
    return cls


def _make_callback(key: int, searcher, out_dir: Path):
    from ray.tune import Callback

    class BestWeights(Callback):
        """Writes ``best.json`` and ``best_model.pt`` when a trial that improved the best ends."""

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if "valid_acc" in result:
                driver = _DRIVERS[key]
                driver.last_results[trial.trial_id] = dict(result)
                driver.reported.setdefault(trial.trial_id, []).append(int(result["epoch"]))

        def on_trial_complete(self, iteration, trials, trial, **info):
            self._save(trial)

        def on_trial_error(self, iteration, trials, trial, **info):
            searcher.improved.pop(trial.trial_id, None)

        def _save(self, trial) -> None:
            import torch

            driver = _DRIVERS[key]
            rec = searcher.improved.pop(trial.trial_id, None)
            if rec is None or driver.best is None or driver.best.get("ask") != rec["ask"]:
                return
            state = None
            ckpt = trial.checkpoint
            if ckpt is not None:
                with ckpt.as_directory() as d:
                    state = torch.load(Path(d) / STATE_FILE, map_location="cpu", weights_only=True)
            driver.write_best(state, out_dir)

    return _by_reference(BestWeights)()


class _quiet_tune:
    """Silence Tune's info/warning logs (the progress bar reports instead); errors still show."""

    NAMES = ("ray.tune", "ray.train", "ray.air")

    def __enter__(self):
        import logging

        self.levels = [(logging.getLogger(n), logging.getLogger(n).level) for n in self.NAMES]
        for logger, _ in self.levels:
            logger.setLevel(logging.ERROR)
        os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
        return self

    def __exit__(self, *exc):
        for logger, level in self.levels:
            logger.setLevel(level)


def _check_positive(name: str, value, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (
        value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, but got {value!r}")


def run_live_search(algorithm, evaluator, *, trials: int, out_dir, name: Optional[str] = None,
                    workers: Optional[int] = None, cpus_per_trial: float = 1, gpus_per_trial: float = 0,
                    max_failures: int = 2, scheduler: str = "fifo", address: Optional[str] = None,
                    num_cpus: Optional[int] = None, progress: bool = True,
                    run_info: Optional[dict] = None) -> LiveRun:
    """Run ``trials`` real training trials of ``algorithm`` under Ray Tune.

    Args:
        algorithm: an ``Algorithm`` (vanilla or assisted).
        evaluator: a ``LiveTrainingEvaluator`` (shipped once to the workers through the object store).
        trials: proposals to evaluate (finished ones in ``out_dir``'s history count).
        out_dir: the run directory: ``history.jsonl``, ``run.json``, ``best.json``, ``best_model.pt``
            and Tune's own files under ``ray/``.
        name: the progress bar's label (default: algorithm name and variant).
        workers: concurrent trials (default: the cluster's CPUs / ``cpus_per_trial``, or its GPUs /
            ``gpus_per_trial``).
        cpus_per_trial: CPUs (and torch threads) per trial.
        gpus_per_trial: GPUs per trial; fractions share a GPU between trials (e.g. 0.25: four).
        max_failures: retries of a trial whose worker died or raised (``FailureConfig``); a retry
            continues from the trial's last checkpoint.
        scheduler: ``"fifo"`` (every trial to its fidelity), ``"hyperband"`` or ``"asha"`` (Tune stops
            or pauses trials on their per-epoch validation accuracy; trials then run up to the highest
            fidelity and report the epoch they reached).
        address: an existing Ray cluster (``ray start --head`` prints it); ``None``: a local Ray.
        num_cpus: CPUs of a local Ray (default: all cores).
        progress: show a progress bar on stderr.
        run_info: the run's settings, stored in ``run.json`` (a resumed run must match them).
    """
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive integer, but got {trials!r}")
    _check_positive("cpus_per_trial", cpus_per_trial)
    _check_positive("gpus_per_trial", gpus_per_trial, allow_zero=True)
    if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 0:
        raise ValueError(f"max_failures must be a non-negative integer, but got {max_failures!r}")
    if scheduler not in ("fifo", "hyperband", "asha"):
        raise ValueError(f"scheduler must be 'fifo', 'hyperband' or 'asha', but got {scheduler!r}")
    from ray import tune

    out_dir = Path(out_dir).resolve()
    name = name or f"{algorithm.name}" + ("+gradsign" if getattr(algorithm, "assistant", None) else "")
    history = _history(out_dir, run_info)
    wall0 = time.perf_counter()
    restore_threads = _driver_threads(1)  # proxy scoring in the driver must not crowd the trials
    from .fanout import init_ray

    started = init_ray(num_cpus, address)
    driver = None
    try:
        import ray

        res = ray.cluster_resources()
        if workers is None:
            by_cpu = int(res.get("CPU", 1) // cpus_per_trial)
            workers = max(1, by_cpu if gpus_per_trial == 0 else min(by_cpu, int(res.get("GPU", 0) // gpus_per_trial) or 1))
        driver = _Driver(algorithm, evaluator, trials, history, name, progress)
        if driver.n_replayed >= trials and not driver.queue:
            return _finish_run(driver, out_dir, wall0)
        threads = max(1, int(cpus_per_trial))
        key = id(driver)
        _DRIVERS[key] = driver
        searcher = _make_searcher(key, threads)
        sched = None
        max_epochs = evaluator.fidelities[-1]
        if scheduler == "hyperband":
            from ray.tune.schedulers import HyperBandForBOHB

            # the Hyperband variant that fills brackets with trials as a searcher creates them; it
            # pauses trials at each rung and resumes the best (from their checkpoints)
            sched = HyperBandForBOHB(time_attr="training_iteration", max_t=max_epochs, reduction_factor=3)
        elif scheduler == "asha":
            from ray.tune.schedulers import ASHAScheduler

            sched = ASHAScheduler(time_attr="training_iteration", max_t=max_epochs, grace_period=1, reduction_factor=3)
        if sched is not None:
            driver.epochs_for = lambda p: int(max_epochs)  # the scheduler decides where a trial stops
        trainable = tune.with_resources(tune.with_parameters(live_trial, evaluator=evaluator),
                                        {"cpu": cpus_per_trial, "gpu": gpus_per_trial})
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(search_alg=searcher, scheduler=sched, num_samples=-1, reuse_actors=True,
                                        max_concurrent_trials=workers, metric="valid_acc", mode="max"),
            run_config=tune.RunConfig(
                name=f"tune-{int(time.time() * 1000)}", storage_path=str(out_dir / "ray"), verbose=0,
                log_to_file=False, failure_config=tune.FailureConfig(max_failures=max_failures),
                callbacks=[_make_callback(key, searcher, out_dir)]),
        )
        with _quiet_tune():
            tuner.fit()
        if searcher.error is not None:
            raise searcher.error
        return _finish_run(driver, out_dir, wall0)
    finally:
        if driver is not None:
            driver.close()
            _DRIVERS.pop(id(driver), None)
        history.close()
        restore_threads()
        if started:
            import ray

            ray.shutdown()


def _driver_threads(n: int) -> Callable[[], None]:
    """Set torch's intra-op threads in this process to ``n``; returns a function that restores them."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    return lambda: torch.set_num_threads(old)


def _finish_run(driver: _Driver, out_dir: Path, wall0: float) -> LiveRun:
    if driver.best is not None and not (out_dir / "best.json").is_file():
        driver.write_best(None, out_dir)
    stats = driver.algorithm.stats() if hasattr(driver.algorithm, "stats") else {}
    return LiveRun(driver.name, out_dir, driver.best, list(driver.history.records) if driver.history else [],
                   time.perf_counter() - wall0, driver.n_completed, driver.n_failed, driver.n_replayed,
                   _jsonable(stats))


# ------------------------------------------------------------------------------------------------
# the same loop without Ray
# ------------------------------------------------------------------------------------------------
def sequential_search(algorithm, evaluator, *, trials: int, out_dir, name: Optional[str] = None,
                      progress: bool = True, run_info: Optional[dict] = None, threads: Optional[int] = 1) -> LiveRun:
    """``run_live_search`` without Ray: trials one after another in this process (same records,
    same resume); for machines without Ray, e.g. one GPU. ``threads``: torch CPU threads (``None``:
    leave torch's setting; 1 by default, which is fastest on a busy CPU)."""
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive integer, but got {trials!r}")
    out_dir = Path(out_dir).resolve()
    name = name or f"{algorithm.name}" + ("+gradsign" if getattr(algorithm, "assistant", None) else "")
    history = _history(out_dir, run_info)
    wall0 = time.perf_counter()
    restore_threads = _driver_threads(threads) if threads is not None else (lambda: None)
    driver = _Driver(algorithm, evaluator, trials, history, name, progress)
    try:
        while True:
            nxt = driver.next_proposal()
            if nxt is None:
                break
            n, p, told_before = nxt
            start = time.time()
            last: dict = {}
            snap: list = []

            def on_epoch(metrics, state_fn, last=last, snap=snap):
                last.clear()
                last.update(metrics)
                snap[:] = [state_fn]

            try:
                evaluator.train(p.arch, driver.epochs_for(p), on_epoch=on_epoch)
                rec = driver.finish(n, p, told_before, dict(last, node="local", pid=os.getpid()), start)
            except (RuntimeError, FloatingPointError) as e:  # a failed training run: record, go on
                print(f"trial {n} failed: {e}", file=sys.stderr)
                rec = driver.finish(n, p, told_before, None, start, error=True)
            if rec is not None:
                driver.write_best(snap[0]() if snap else None, out_dir)
        return _finish_run(driver, out_dir, wall0)
    finally:
        driver.close()
        history.close()
        restore_threads()


def load_best_model(out_dir, space=None):
    """The best network of a finished live search: ``(arch, model)`` with its trained weights.

    ``space`` defaults to the registered space named in ``best.json``; pass the space object for a
    space built with options (e.g. ``digits_nb201_space()``).
    """
    import torch

    from gradsign_nas.search_spaces import get as get_space

    out_dir = Path(out_dir)
    best = json.loads((out_dir / "best.json").read_text())
    if "weights" not in best:
        raise ValueError(f"expected trained weights for the best network in {out_dir}, but best.json names none")
    space = get_space(space if space is not None else best["space"])
    arch = space.parse(best["arch"])
    opts = dict(best.get("build_options") or {})
    if best.get("in_channels", 3) != 3:
        opts["in_channels"] = best["in_channels"]
    model = space.build(arch, best["num_classes"], **opts)
    model.load_state_dict(torch.load(out_dir / best["weights"], map_location="cpu", weights_only=True))
    return arch, model
