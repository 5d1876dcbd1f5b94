"""The one Ray Tune adapter: any ``Algorithm`` (through a ``Driver``) as a Tune ``Searcher``.

``AlgorithmSearcher`` maps Tune's ``suggest(trial_id)`` to ``Driver.next`` and
``on_trial_complete`` to ``Driver.complete`` / ``Driver.fail``, so the tabular executor and the
live searches run the same algorithm objects, budgets, records and resume rule as the simulated
executor. It holds one search or several (``{search id: Driver}``, a live comparison's searches in
one Tune experiment, since Tune runs one searcher per experiment): on ``suggest`` it hands out the
next proposal of a search, taking the searches in turn, that has a free slot (each driver's
``workers``: the search's own concurrency); the trial's config carries the search's id and its
result goes back to that search's driver. ``run_tune`` runs the searches under Tune: every proposal one trial, actors reused, Tune's
own result files off (the run directory's history is the record), Tune's storage (trial
checkpoints, which Hyperband's pauses and a retried trial need) in a temporary folder that is
removed when the search ends, and the best trial's weights copied into the run directory.

This module imports Ray at the top: it is imported only when a Ray run starts.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from ray import tune
from ray.tune import Callback
from ray.tune.search import Searcher

from gradsign_nas.algorithms.base import Result

from .._ray import quiet_tune
from .driver import Driver, Pending

__all__ = ["AlgorithmSearcher", "BestWeights", "RESULT_FILES", "STATE_FILE", "report", "run_tune"]

#: the per-trial files ``run_tune(log_dir=...)`` keeps (checkpoints are not kept)
RESULT_FILES = ("progress.csv", "result.json", "params.json", "events.out.tfevents.*")

STATE_FILE = "state.pt"  # the checkpoint file a live trial writes into each Tune checkpoint


def report(
    result: Result, checkpoint_state: Optional[dict] = None, metric_name: Optional[str] = None, **info: Any
) -> None:
    """Report ``result`` from inside a trial the way ``AlgorithmSearcher`` reads it (with a
    checkpoint holding ``checkpoint_state`` if given). ``metric_name``: the name Tune's schedulers,
    CSV and TensorBoard see the metric under, besides ``metric``; numeric ``extra`` values (e.g.
    per-epoch losses) are reported as well."""
    metrics = {
        "metric": float(result.metric),
        "cost_s": float(result.cost_s),
        "extra_json": json.dumps(dict(result.extra), default=float),
        **info,
    }
    for k, v in result.extra.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in metrics:
            metrics[k] = v
    if metric_name:
        metrics[metric_name] = float(result.metric)
    if checkpoint_state is None:
        tune.report(metrics)
        return
    with tempfile.TemporaryDirectory(prefix="gradsign-ckpt-") as d:
        torch.save(checkpoint_state, Path(d) / STATE_FILE)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))


class AlgorithmSearcher(Searcher):
    """A Tune ``Searcher`` over one search's ``Driver`` or several: one proposal per trial.

    Args:
        drivers: a search's ``Driver``, or ``{search id: Driver}`` for several searches in one
            experiment (each asked in turn; a driver with every slot busy is skipped).
        to_config: turns a ``Pending`` proposal into the trial's config; with several searches it is
            called as ``to_config(search_id, pending)`` and the config gets ``"search": search_id``.
        on_finished: called with a search's id once its driver is finished; it may return
            ``{search id: Driver}`` of searches that join the experiment then (e.g. final trainings).
    """

    def __init__(
        self,
        drivers: Driver | dict[str, Driver],
        to_config: Callable[..., dict],
        metric: str = "metric",
        mode: str = "max",
        on_finished: Optional[Callable[[str], Optional[dict]]] = None,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        self.single = isinstance(drivers, Driver)
        self.drivers: dict[str, Driver] = {"": drivers} if isinstance(drivers, Driver) else dict(drivers)
        self.to_config = to_config
        self.on_finished = on_finished
        self.live: dict[str, tuple[str, Pending]] = {}
        self.last: dict[str, dict] = {}  # each running trial's latest report
        self.reported: dict[str, list] = {}  # each running trial's reported epochs, in order
        self.improved: dict[str, tuple[str, int]] = {}  # trial id -> (search, ask) of a record that became the best
        self.error: Optional[BaseException] = None
        self._turn = 0  # the search asked first on the next suggest (round robin)
        self._done = {sid for sid, d in self.drivers.items() if d.finished}

    @property
    def driver(self) -> Driver:
        """The driver of a single search."""
        return next(iter(self.drivers.values()))

    @property
    def finished(self) -> bool:
        return all(d.finished for d in self.drivers.values())

    def __getstate__(self) -> dict:
        # Tune pickles its searcher into its experiment checkpoints; this one holds the live drivers
        # and resumes from the runs' histories instead, so only the plain settings go there.
        return {"_metric": self._metric, "_mode": self._mode}

    def save(self, checkpoint_path: str) -> None:  # resuming goes through the History
        pass

    def restore(self, checkpoint_path: str) -> None:
        pass

    # Ray annotates Searcher.suggest as Optional[Dict] but documents Searcher.FINISHED (a str) as a return
    def suggest(self, trial_id: str) -> Optional[dict | str]:  # type: ignore[override]
        if self.error is not None:
            return Searcher.FINISHED
        ids = list(self.drivers)
        for i in range(len(ids)):
            sid = ids[(self._turn + i) % len(ids)]
            driver = self.drivers[sid]
            try:
                pend = driver.next()
            except Exception as e:  # surfaced by run_tune once Tune stops
                self.error = e
                return Searcher.FINISHED
            if pend is None:
                continue
            self._turn = (self._turn + i + 1) % len(ids)
            self.live[trial_id] = (sid, pend)
            if self.single:
                return self.to_config(pend)
            return dict(self.to_config(sid, pend), search=sid)
        return Searcher.FINISHED if self.finished else None

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.last[trial_id] = result
        epoch = json.loads(result.get("extra_json") or "{}").get("epoch")
        if epoch is not None:
            self.reported.setdefault(trial_id, []).append(epoch)

    def on_pause(self, trial_id: str) -> None:  # Hyperband pauses trials at its rungs
        pass

    def on_unpause(self, trial_id: str) -> None:
        pass

    def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False) -> None:
        live = self.live.pop(trial_id, None)
        last = self.last.pop(trial_id, None)
        reported = self.reported.pop(trial_id, None)
        if live is None:
            return
        sid, pend = live
        driver = self.drivers[sid]
        # a trial the scheduler stopped reaches the searcher without its last report: take that one
        if (
            not error
            and last is not None
            and (
                not result
                or "metric" not in result
                or last.get("training_iteration", 0) > result.get("training_iteration", 0)
            )
        ):
            result = last
        try:
            if error or not result or "metric" not in result:
                driver.fail(pend, "the trial raised an error or reported nothing" if error else "no result")
            else:
                extra = json.loads(result.get("extra_json") or "{}")
                if reported is not None or "epoch" in extra:
                    reported = reported or []
                    if extra.get("epoch") is not None and (not reported or reported[-1] != extra["epoch"]):
                        reported.append(extra["epoch"])  # Tune hands a trial's final report to on_trial_complete only
                    extra["reported_epochs"] = reported  # every epoch the trial reported, across pauses and retries
                res = Result(float(result["metric"]), float(result["cost_s"]), extra)
                rec = driver.complete(pend, res, worker=result.get("node"))
                if driver.is_best(rec):
                    self.improved[trial_id] = (sid, rec["ask"])
            if driver.finished and sid not in self._done:
                self._finished(sid)
        except Exception as e:
            self.error = e

    def _finished(self, sid: str) -> None:
        """A search is finished: ``on_finished``, and the searches it returns join the experiment."""
        self._done.add(sid)
        more = self.on_finished(sid) if self.on_finished is not None else None
        for k, d in (more or {}).items():
            if k in self.drivers:
                raise ValueError(f"expected a new search id, but {k!r} is already in the experiment")
            self.drivers[k] = d
            if d.finished:
                self._finished(k)


class BestWeights(Callback):
    """Copies the weights of a trial that became its search's best into that search's run directory
    (``best_model.pt``), from the trial's last checkpoint."""

    def __init__(self, searcher: AlgorithmSearcher) -> None:
        self.searcher = searcher

    def __getstate__(self) -> dict:
        return {}

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        best = self.searcher.improved.pop(trial.trial_id, None)
        ckpt = trial.checkpoint
        if best is None or ckpt is None:
            return
        sid, ask = best
        with ckpt.as_directory() as d:
            path = Path(d) / STATE_FILE
            if path.is_file():
                state = torch.load(path, map_location="cpu", weights_only=True)
                self.searcher.drivers[sid].history.save_best_weights(ask, state["model"])

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.searcher.improved.pop(trial.trial_id, None)


def run_tune(
    driver: Driver | dict[str, Driver],
    trainable: Any,
    to_config: Callable[..., dict],
    *,
    concurrency: int,
    resources: Optional[dict] = None,
    scheduler: Any = None,
    max_failures: int = 0,
    storage_dir: Optional[Path] = None,
    metric: str = "metric",
    mode: str = "max",
    log_dir: Optional[Path | dict[str, Path]] = None,
    on_finished: Optional[Callable[[str], Optional[dict]]] = None,
) -> None:
    """Run ``driver``'s search under Ray Tune (Ray must be initialised; see ``gradsign_nas._ray.init_ray``),
    or with ``{search id: Driver}`` several searches in one Tune experiment (``AlgorithmSearcher``).

    Args:
        driver: the search, or the searches by id (each driver's ``workers``: its trials in flight).
        trainable: a Tune function trainable that reports through ``report``.
        to_config: a proposal's trial config (``to_config(search_id, pending)`` with several).
        concurrency: most trials at once, of all searches together.
        resources: per-trial resources (``{"cpu": 1, "gpu": 0.5}``).
        scheduler: a Tune trial scheduler (Hyperband, ASHA) or ``None`` (FIFO).
        max_failures: retries of a failed trial (from its last checkpoint).
        storage_dir: where Tune's temporary storage goes (a shared filesystem on a multi-node
            cluster); default the system's temporary folder. Removed when the search ends.
        metric, mode: the reported metric's name and ``"max"``/``"min"``, as Tune's searcher and
            schedulers see them.
        log_dir: keep Tune's per-trial result files here (``progress.csv``, ``result.json``,
            ``params.json`` and TensorBoard event files, one folder per trial: ``tensorboard --logdir``
            shows the per-epoch curves); with several searches ``{search id: folder}``; ``None``:
            Tune's result loggers stay off.
        on_finished: called with a search's id once it is finished (several searches); it may return
            ``{search id: Driver}`` of searches that join the experiment.

    Raises:
        KeyboardInterrupt: the search was interrupted (Ctrl-C) before it finished; what finished is
            recorded.
    """
    searcher = AlgorithmSearcher(driver, to_config, metric, mode, on_finished)
    if searcher.finished:
        return
    callbacks: list = [BestWeights(searcher)]
    if log_dir is not None:
        from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback

        callbacks += [CSVLoggerCallback(), JsonLoggerCallback(), TBXLoggerCallback()]
    if resources:
        trainable = tune.with_resources(trainable, resources)
    if storage_dir is not None:
        Path(storage_dir).mkdir(parents=True, exist_ok=True)
    # absolute: Tune reads a storage path as a URI, and a relative one has no scheme
    storage = os.path.abspath(tempfile.mkdtemp(prefix=".tune-", dir=storage_dir))
    metric_mode: dict[str, Any] = {"metric": metric, "mode": mode} if scheduler is not None else {}
    try:
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=scheduler,
                num_samples=-1,
                reuse_actors=True,
                max_concurrent_trials=concurrency,
                **metric_mode,
            ),
            run_config=tune.RunConfig(
                name="search",
                storage_path=storage,
                verbose=0,
                log_to_file=False,
                failure_config=tune.FailureConfig(max_failures=max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                callbacks=callbacks,
            ),
        )
        with quiet_tune():
            tuner.fit()
    finally:
        if log_dir is not None:
            _keep_results(Path(storage), log_dir if isinstance(log_dir, dict) else {"": Path(log_dir)})
        shutil.rmtree(storage, ignore_errors=True)
    if searcher.error is not None:
        raise searcher.error
    if not searcher.finished:
        raise KeyboardInterrupt("the search was interrupted before it finished")


def _keep_results(storage: Path, log_dirs: dict[str, Path]) -> None:
    """Copy every trial's result files (``RESULT_FILES``, not its checkpoints) from Tune's storage
    into ``log_dirs[search]/trial-<ask>/``; files already there are replaced (a resumed search adds
    trials)."""
    for trial in sorted(p for p in storage.glob("search/*") if p.is_dir()):
        files = [f for pattern in RESULT_FILES for f in trial.glob(pattern) if f.is_file()]
        if not files:
            continue
        try:  # one folder per evaluation, named by its proposal number (the history's "ask")
            params = json.loads((trial / "params.json").read_text())
            name, log_dir = f"trial-{int(params['ask']):05d}", log_dirs[str(params.get("search", ""))]
        except (OSError, ValueError, KeyError, TypeError):
            if "" not in log_dirs:
                continue
            name, log_dir = trial.name, log_dirs[""]
        target = log_dir / name
        target.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, target / f.name)
