"""``gradsign_nas.search``: a live search, every trial a real training run, one search per variant."""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any, Optional

from ..errors import InputError
from ._checks import (
    MAX_BATCH,
    MAX_CELLS,
    MAX_EPOCHS,
    MAX_K,
    VARIANTS,
    check_address,
    check_device,
    check_network_size,
    check_out_dir,
    check_training_memory,
    flag,
    names,
    network_weights,
    positive_int,
    positive_number,
)
from ._final import final_evaluation, nb201_truth, test_fraction
from ._live_report import plot_runs, summarise
from ._options import algorithm_options
from ._results import SearchResult
from .configs import SearchConfig, make_config

_log = logging.getLogger("gradsign_nas.search")

DEFAULT_OUT = "live-search"
DEFAULT_MAX_FAILURES = 2
RAY_ONLY = ("address", "gpus_per_trial", "max_failures", "scheduler", "num_cpus")


def search(config: Optional[SearchConfig] = None, /, **options: Any) -> SearchResult:
    """A live search: each variant (vanilla, assisted, strategies) is one search whose every trial
    trains a network; the same as ``gradsign-nas search`` with the same option names.

    Writes per variant ``<out>/<algorithm>-<variant>/`` (run.json, history.jsonl, best.json,
    best_model.pt), and summary.json, live_search.png and report.html in ``out`` (default
    ``./live-search``). Calling it again on the same ``out`` resumes without re-running finished trials.

    Args:
        config: a ``SearchConfig``; ``options`` (the config's field names) override its fields.

    Returns:
        A ``SearchResult``: ``.summary`` is what summary.json holds, ``.best`` the best network found
        per variant, ``.to_pandas()`` every trial.

    Examples:
        >>> r = gradsign_nas.search(trials=4, epochs=1, no_ray=True, out="run")  # doctest: +SKIP
        >>> r.summary["variants"]["assisted"]["best_valid_acc"]                    # doctest: +SKIP
    """
    cfg = make_config(SearchConfig, config, options)
    variants = validate(cfg)
    from ..execution.live import open_history

    runs, histories = [], {}
    out = Path(cfg.out or DEFAULT_OUT)
    t0 = time.perf_counter()
    with session(cfg):  # one Ray for every variant, joined before anything is written
        for v in variants:  # data, settings and any run to resume checked for every variant before the first trial
            alg, ev, info, run_dir = build_run(cfg, v)
            histories[v] = open_history(ev, run_dir, info)
            runs.append((v, alg, ev, info, run_dir))
        for variant, alg, ev, _info, run_dir in runs:
            r = run_search(cfg, alg, ev, run_dir, _label(cfg, variant), histories[variant])
            if r.n_replayed:
                _log.info("%s: resumed, %d recorded trials replayed, not re-run", variant, r.n_replayed)
            if cfg.final_epochs is not None:
                final_evaluation(cfg, ev, run_dir, lambda fev: backend_for(cfg, fev, final=True))
    summary = summarise(
        {v: run_dir for v, _, _, _, run_dir in runs},
        time.perf_counter() - t0,
        cfg.metric,
        final_epochs=cfg.final_epochs,
        bench=nb201_truth(cfg),
    )
    summary["settings"] = {
        "algorithm": cfg.algorithm,
        "space": cfg.space,
        "data": data_label(cfg.data),
        "seed": cfg.seed,
        "trials": cfg.trials,
        "epochs": cfg.epochs,
        "k": cfg.k,
        "proxy": cfg.proxy,
    }
    from .._io import write_json_atomic
    from ..report import write_report

    write_json_atomic(out / "summary.json", summary)
    plot = plot_runs(summary, out / "live_search.png")
    write_report(
        out,
        f"gradsign-nas search: {cfg.algorithm} on {summary['settings']['data']} ({cfg.space})",
        [plot],
        environment=runs[0][3].get("environment"),
        subtitle=f"{cfg.trials} trials x {cfg.epochs} epochs per variant, seed {cfg.seed}",
    )
    return SearchResult(summary, out, config=cfg, run_dirs={v: d for v, _, _, _, d in runs})


def validate(cfg: SearchConfig) -> list[str]:
    """Check every option before anything runs or is written; returns the variants."""
    from .. import algorithms, proxies, search_spaces, strategies
    from ..execution.driver import MAX_TRIALS

    variants = names("variants", cfg.variants, VARIANTS + tuple(strategies.available()))
    if cfg.algorithm not in algorithms.available():
        raise InputError(f"expected --algorithm among {', '.join(algorithms.available())}, but got {cfg.algorithm!r}")
    if cfg.space not in search_spaces.available():
        raise InputError(f"expected --space among {', '.join(search_spaces.available())}, but got {cfg.space!r}")
    algorithm_options(cfg.algorithm_options, [cfg.algorithm])
    positive_int("--trials", cfg.trials, 1, MAX_TRIALS)
    positive_int("--epochs", cfg.epochs, 1, MAX_EPOCHS)
    positive_int("--train-batch-size", cfg.train_batch_size, 1, MAX_BATCH)
    positive_int("--score-batch-size", cfg.score_batch_size, 1, MAX_BATCH)
    positive_int("--seed", cfg.seed, 0)
    if cfg.limit is not None:
        positive_int("--limit", cfg.limit, 2)
    if cfg.lr is not None and not positive_number("--lr", cfg.lr) <= 10:
        raise InputError(f"expected --lr of at most 10 (larger rates diverge at once), but got {cfg.lr:g}")
    positive_number("--cpus-per-trial", cfg.cpus_per_trial)
    check_final(cfg)
    if set(variants) - {"vanilla"}:
        positive_int("--k", cfg.k, 1, MAX_K)
        names_ = cfg.proxy.split("+") if isinstance(cfg.proxy, str) else [cfg.proxy]
        if any(n not in proxies.available() for n in names_):
            raise InputError(
                f"expected --proxy among {', '.join(proxies.available())} or an ensemble a+b of them, "
                f"but got {cfg.proxy!r}"
            )
        for v in set(variants) - set(VARIANTS):  # a strategy must be defined for the algorithm
            _k, rule, _ = strategies.settings(v, cfg.algorithm, cfg.k)
            if rule != "best" and len(names_) > 1:
                raise InputError(
                    f"expected best-of-K or warm-up strategies with an ensemble proxy ({cfg.proxy}), whose ranks "
                    f"are only comparable within one call, but got {v!r}"
                )
    if cfg.data_dir is not None and cfg.data != "cifar10":
        raise InputError(f"--data-dir is read only with --data cifar10, but --data is {cfg.data!r}")
    for name in ("C", "N"):
        value = getattr(cfg, name)
        if value is not None:
            if cfg.space != "nb201":
                raise InputError(f"--{name} sizes the nb201 space only, but --space is {cfg.space!r}")
            positive_int(f"--{name}", value)
    check_space_size(cfg)
    if cfg.no_ray:
        given = [n for n in RAY_ONLY if getattr(cfg, n) is not None]
        if given:
            raise InputError(f"{flag(given[0])} applies to Ray trials only, but --no-ray runs them in this process")
    else:
        _check_ray_resources(cfg)
    check_device(cfg.device)
    check_address(cfg.address)
    check_out_dir(cfg.out if cfg.out is not None else DEFAULT_OUT)  # '' is refused, not the default
    return variants


def check_final(cfg: Any) -> None:
    """The final evaluation's options: given together, in range."""
    if cfg.final_epochs is None:
        for name in ("final_top", "test_fraction"):
            if name in cfg.given():
                raise InputError(f"{flag(name)} applies to the final evaluation, but --final-epochs is not given")
        return
    positive_int("--final-epochs", cfg.final_epochs, 1, MAX_EPOCHS)
    positive_int("--final-top", cfg.final_top, 1, cfg.trials)
    if cfg.test_fraction is not None and not (
        isinstance(cfg.test_fraction, (int, float)) and 0.0 < float(cfg.test_fraction) < 0.9
    ):
        raise InputError(f"expected --test-fraction between 0 and 0.9, but got {cfg.test_fraction!r}")


def _check_ray_resources(cfg: Any) -> None:
    if cfg.max_failures is not None:
        positive_int("--max-failures", cfg.max_failures, 0, 1000)
    if cfg.num_cpus is not None:
        positive_int("--num-cpus", cfg.num_cpus, 1, 4096)
    if cfg.address is None:  # a trial that asks for more than this machine has would wait forever
        import os

        cpus = cfg.num_cpus or os.cpu_count() or 1
        if cfg.cpus_per_trial > cpus:
            raise InputError(
                f"expected --cpus-per-trial of at most the {cpus} CPUs of the local Ray, but got {cfg.cpus_per_trial:g}"
            )
    if cfg.gpus_per_trial is not None:
        positive_number("--gpus-per-trial", cfg.gpus_per_trial, allow_zero=True)
        if cfg.gpus_per_trial > 0 and cfg.address is None:
            import torch

            gpus = torch.cuda.device_count()
            if cfg.gpus_per_trial > gpus:
                raise InputError(
                    f"expected --gpus-per-trial of at most the {gpus} GPUs of this machine, "
                    f"but got {cfg.gpus_per_trial:g}"
                )


def build_space(cfg: Any):
    """The search space ``cfg`` describes (NB201 sized for the data unless ``C``/``N`` say)."""
    from .. import search_spaces

    if cfg.space != "nb201":
        return search_spaces.get(cfg.space)
    digits = isinstance(cfg.data, str) and cfg.data == "digits"
    C = cfg.C if cfg.C is not None else (8 if digits else 16)
    N = cfg.N if cfg.N is not None else (1 if digits else 5)
    return search_spaces.get("nb201", C=C, N=N)


def check_space_size(cfg: Any) -> None:
    """NB201 sized by hand (``C``, ``N``): its networks checked against memory before any is built
    (measured on the meta device with one and two cells per stage; weights grow linearly in ``N``)."""
    from .. import search_spaces

    given = [f"--{n} {getattr(cfg, n)}" for n in ("C", "N") if getattr(cfg, n, None) is not None]
    if not given:
        return
    options = build_space(cfg).options()
    positive_int("--N", options["N"], 1, MAX_CELLS)
    one, two = (network_weights(search_spaces.get("nb201", **{**options, "N": n})) for n in (1, 2))
    check_network_size(one + (options["N"] - 1) * (two - one), " ".join(given))


def _fidelities(algorithm: str, epochs: int) -> tuple:
    if algorithm == "bohb":
        return tuple(sorted({max(1, epochs // 9), max(1, epochs // 3), epochs}))
    return (epochs,)


def build_run(cfg: SearchConfig, variant: str, run_dir: Optional[Path] = None) -> tuple:
    """``(algorithm, evaluator, run_info, run_dir)`` for one variant of the live search ``cfg`` describes."""
    from .. import algorithms
    from .._meta import data_checksums, environment
    from ..assist import EnsembleScorer, TrainingBatchScorer, build_assistance
    from ..benchmarks.live import LiveTrainingEvaluator

    space = build_space(cfg)
    fids = _fidelities(cfg.algorithm, cfg.epochs)
    run_dir = run_dir or Path(cfg.out or DEFAULT_OUT) / f"{cfg.algorithm}-{variant}"
    evaluator = LiveTrainingEvaluator(
        space,
        cfg.data,
        fidelities=fids,
        batch_size=cfg.train_batch_size,
        lr=cfg.lr,
        device=cfg.device,
        seed=cfg.seed,
        data_dir=cfg.data_dir,
        limit=cfg.limit,
        metric=cfg.metric,
        checkpoint_dir=run_dir / "checkpoints" if cfg.algorithm == "bohb" else None,
        test_fraction=test_fraction(cfg),
    )
    check_training_memory(evaluator)  # before any network is built or anything written
    scorer: Any = None
    if variant != "vanilla":
        names = cfg.proxy.split("+")
        each = [TrainingBatchScorer(evaluator, proxy=n, seed=cfg.seed, batch_size=cfg.score_batch_size) for n in names]
        scorer = each[0] if len(each) == 1 else EnsembleScorer(each, names)
    assistant, options = build_assistance(variant, cfg.algorithm, scorer, cfg.k)
    own = algorithm_options(cfg.algorithm_options, [cfg.algorithm])[cfg.algorithm]
    alg = algorithms.get(cfg.algorithm, space, cfg.seed, assistant=assistant, fidelities=fids, **own, **options)
    info = {
        "command": "search",
        "algorithm": cfg.algorithm,
        "variant": variant,
        "seed": cfg.seed,
        "space": space.name,
        "space_options": space.options(),
        "data": data_label(cfg.data),
        "limit": cfg.limit,
        "fidelities": list(fids),
        "epochs": cfg.epochs,
        "batch_size": cfg.train_batch_size,
        "lr": evaluator.lr,
        "k": cfg.k if assistant else None,
        "proxy": cfg.proxy if assistant else None,
        "request": {
            "trials": cfg.trials,
            "no_ray": bool(cfg.no_ray),
            "device": cfg.device,
            "scheduler": cfg.scheduler,
            "cpus_per_trial": cfg.cpus_per_trial,
        },
        "environment": environment(data_checksums(["cifar10_images"] if cfg.data == "cifar10" else [])),
    }
    if own:
        info["algorithm_options"] = own
    if test_fraction(cfg):  # the search trains on what the final evaluation's test split leaves
        info["test_fraction"] = test_fraction(cfg)
    if assistant and cfg.score_batch_size != 64:
        info["score_batch_size"] = cfg.score_batch_size
    return alg, evaluator, info, run_dir


def open_search(cfg: SearchConfig, variant: str, comparison: Optional[dict] = None) -> tuple:
    """``(algorithm, evaluator, run directory, history)`` of one variant's search, its history opened
    (so locked); ``comparison``: what its run.json records of the comparison it is part of."""
    from ..execution.live import open_history

    alg, ev, info, run_dir = build_run(cfg, variant)
    if comparison is not None:
        info["comparison"] = comparison
    return alg, ev, run_dir, open_history(ev, run_dir, info)


def session(cfg: Any):
    """Where the searches of ``cfg`` run: one Ray for all of them, or nothing to start with no_ray."""
    from .._ray import ray_session

    return contextlib.nullcontext() if cfg.no_ray else ray_session(cfg.num_cpus, cfg.address)


def backend_for(cfg: Any, ev, final: bool = False) -> Any:
    """Where ``cfg``'s live trials run: in this process (no_ray), else as Ray Tune trials on the session
    ``session(cfg)`` opened (a GPU per trial on CUDA unless gpus_per_trial says); a final evaluation's
    trainings always run to their end (no scheduler)."""
    from ..execution import InProcessTrials, LiveTuneTrials

    if cfg.no_ray:
        return InProcessTrials(ev, threads=max(1, int(cfg.cpus_per_trial)))
    gpus = cfg.gpus_per_trial if cfg.gpus_per_trial is not None else (1.0 if ev.device.startswith("cuda") else 0.0)
    return LiveTuneTrials(
        ev,
        cpus_per_trial=cfg.cpus_per_trial,
        gpus_per_trial=gpus,
        max_failures=cfg.max_failures if cfg.max_failures is not None else DEFAULT_MAX_FAILURES,
        scheduler="fifo" if final else (cfg.scheduler or "fifo"),
    )


def run_search(cfg: Any, alg, ev, run_dir: Path, name: str, history, progress: Optional[bool] = None):
    """One live search as ``cfg`` asks, on ``backend_for(cfg, ev)``."""
    from ..execution import execute

    progress = (not cfg.no_progress) if progress is None else progress
    return execute(backend_for(cfg, ev), alg, history, trials=cfg.trials, progress=name if progress else None)


def data_label(data) -> str:
    """How a run records its data: the name or path given, or for arrays/tensors ``(x, y, ...)`` their
    shapes and the sha256 of their bytes (so a resume on other tensors is refused)."""
    if isinstance(data, (str, Path)):
        return str(data)
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    shapes = []
    for a in data:
        arr = np.ascontiguousarray(a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a))
        shapes.append("x".join(map(str, arr.shape)))
        h.update(str(arr.dtype).encode() + arr.tobytes())
    return f"arrays {'/'.join(shapes)} sha256:{h.hexdigest()[:16]}"


def _label(cfg: Any, variant: str) -> str:
    return cfg.algorithm + ("+" + cfg.proxy if variant == "assisted" else "")
