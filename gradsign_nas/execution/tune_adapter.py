"""The one Ray Tune adapter: any ``Algorithm`` (through a ``Driver``) as a Tune ``Searcher``.

``AlgorithmSearcher`` maps Tune's ``suggest(trial_id)`` to ``Driver.next`` and
``on_trial_complete`` to ``Driver.complete`` / ``Driver.fail``, so the tabular executor and the
live searches run the same algorithm objects, budgets, records and resume rule as the simulated
executor. ``run_tune`` runs one search under Tune: every proposal one trial, actors reused, Tune's
own result files off (the run directory's history is the record), Tune's storage (trial
checkpoints, which Hyperband's pauses and a retried trial need) in a temporary folder that is
removed when the search ends, and the best trial's weights copied into the run directory.

This module imports Ray at the top: it is imported only when a Ray run starts.
"""

from __future__ import annotations

import json
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
    """A Tune ``Searcher`` over a ``Driver``: one proposal per trial.

    Args:
        driver: the search's ``Driver`` (algorithm, budget, history).
        to_config: turns a ``Pending`` proposal into the trial's config.
    """

    def __init__(
        self, driver: Driver, to_config: Callable[[Pending], dict], metric: str = "metric", mode: str = "max"
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        self.driver = driver
        self.to_config = to_config
        self.live: dict[str, Pending] = {}
        self.last: dict[str, dict] = {}  # each running trial's latest report
        self.reported: dict[str, list] = {}  # each running trial's reported epochs, in order
        self.improved: dict[str, int] = {}  # trial id -> ask of a record that became the best
        self.error: Optional[BaseException] = None

    def __getstate__(self) -> dict:
        # Tune pickles its searcher into its experiment checkpoints; this one holds the live driver
        # and resumes from the run's history instead, so only the plain settings go there.
        return {"_metric": self._metric, "_mode": self._mode}

    def save(self, checkpoint_path: str) -> None:  # resuming goes through the History
        pass

    def restore(self, checkpoint_path: str) -> None:
        pass

    # Ray annotates Searcher.suggest as Optional[Dict] but documents Searcher.FINISHED (a str) as a return
    def suggest(self, trial_id: str) -> Optional[dict | str]:  # type: ignore[override]
        if self.error is not None:
            return Searcher.FINISHED
        try:
            pend = self.driver.next()
        except Exception as e:  # surfaced by run_tune once Tune stops
            self.error = e
            return Searcher.FINISHED
        if pend is None:
            return Searcher.FINISHED if self.driver.finished else None
        self.live[trial_id] = pend
        return self.to_config(pend)

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
        pend = self.live.pop(trial_id, None)
        last = self.last.pop(trial_id, None)
        reported = self.reported.pop(trial_id, None)
        if pend is None:
            return
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
                self.driver.fail(pend, "the trial raised an error or reported nothing" if error else "no result")
                return
            extra = json.loads(result.get("extra_json") or "{}")
            if reported is not None or "epoch" in extra:
                reported = reported or []
                if extra.get("epoch") is not None and (not reported or reported[-1] != extra["epoch"]):
                    reported.append(extra["epoch"])  # Tune hands a trial's final report to on_trial_complete only
                extra["reported_epochs"] = reported  # every epoch the trial reported, across pauses and retries
            res = Result(float(result["metric"]), float(result["cost_s"]), extra)
            rec = self.driver.complete(pend, res, worker=result.get("node"))
            if self.driver.is_best(rec):
                self.improved[trial_id] = rec["ask"]
        except Exception as e:
            self.error = e


class BestWeights(Callback):
    """Copies the weights of a trial that became the best into the run directory (``best_model.pt``),
    from the trial's last checkpoint."""

    def __init__(self, searcher: AlgorithmSearcher) -> None:
        self.searcher = searcher

    def __getstate__(self) -> dict:
        return {}

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        ask = self.searcher.improved.pop(trial.trial_id, None)
        ckpt = trial.checkpoint
        if ask is None or ckpt is None:
            return
        with ckpt.as_directory() as d:
            path = Path(d) / STATE_FILE
            if path.is_file():
                state = torch.load(path, map_location="cpu", weights_only=True)
                self.searcher.driver.history.save_best_weights(ask, state["model"])

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.searcher.improved.pop(trial.trial_id, None)


def run_tune(
    driver: Driver,
    trainable: Any,
    to_config: Callable[[Pending], dict],
    *,
    concurrency: int,
    resources: Optional[dict] = None,
    scheduler: Any = None,
    max_failures: int = 0,
    storage_dir: Optional[Path] = None,
    metric: str = "metric",
    mode: str = "max",
    log_dir: Optional[Path] = None,
) -> None:
    """Run ``driver``'s search under Ray Tune (Ray must be initialised; see ``gradsign_nas._ray.init_ray``).

    Args:
        driver: the search.
        trainable: a Tune function trainable that reports through ``report``.
        to_config: a proposal's trial config.
        concurrency: most trials at once.
        resources: per-trial resources (``{"cpu": 1, "gpu": 0.5}``).
        scheduler: a Tune trial scheduler (Hyperband, ASHA) or ``None`` (FIFO).
        max_failures: retries of a failed trial (from its last checkpoint).
        storage_dir: where Tune's temporary storage goes (a shared filesystem on a multi-node
            cluster); default the system's temporary folder. Removed when the search ends.
        metric, mode: the reported metric's name and ``"max"``/``"min"``, as Tune's searcher and
            schedulers see them.
        log_dir: keep Tune's per-trial result files here (``progress.csv``, ``result.json``,
            ``params.json`` and TensorBoard event files, one folder per trial: ``tensorboard --logdir``
            shows the per-epoch curves); ``None``: Tune's result loggers stay off.

    Raises:
        KeyboardInterrupt: the search was interrupted (Ctrl-C) before it finished; what finished is
            recorded.
    """
    searcher = AlgorithmSearcher(driver, to_config, metric, mode)
    callbacks: list = [BestWeights(searcher)]
    if log_dir is not None:
        from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback

        callbacks += [CSVLoggerCallback(), JsonLoggerCallback(), TBXLoggerCallback()]
    if resources:
        trainable = tune.with_resources(trainable, resources)
    if storage_dir is not None:
        Path(storage_dir).mkdir(parents=True, exist_ok=True)
    storage = tempfile.mkdtemp(prefix=".tune-", dir=storage_dir)
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
            _keep_results(Path(storage), Path(log_dir))
        shutil.rmtree(storage, ignore_errors=True)
    if searcher.error is not None:
        raise searcher.error
    if not driver.finished:
        raise KeyboardInterrupt("the search was interrupted before it finished")


def _keep_results(storage: Path, log_dir: Path) -> None:
    """Copy every trial's result files (``RESULT_FILES``, not its checkpoints) from Tune's storage
    into ``log_dir/trial-<ask>/``; files already there are replaced (a resumed search adds trials)."""
    for trial in sorted(p for p in storage.glob("search/*") if p.is_dir()):
        files = [f for pattern in RESULT_FILES for f in trial.glob(pattern) if f.is_file()]
        if not files:
            continue
        try:  # one folder per evaluation, named by its proposal number (the history's "ask")
            name = f"trial-{int(json.loads((trial / 'params.json').read_text())['ask']):05d}"
        except (OSError, ValueError, KeyError, TypeError):
            name = trial.name
        target = log_dir / name
        target.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, target / f.name)
