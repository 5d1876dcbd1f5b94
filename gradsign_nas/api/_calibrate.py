"""``gradsign_nas.calibrate``: does a short training rank networks? Measure it before trusting it.

The same R random NB201 cells (drawn with ``seed``) are trained at each epoch count of
``epoch_counts`` on CIFAR-10 images; each epoch count's rewards (validation accuracy) are correlated
(Spearman) with NAS-Bench-201's 200-epoch CIFAR-10 test accuracy of the same cells, beside the proxy's
scores of the same cells and what each costs. A live search or comparison should use the cheapest
reward that ranks (e.g. Spearman >= 0.75). Every epoch count's trainings are one run of their own in
``<out>/<E>ep/`` through the one executor interface: recorded, replayed when the command runs again,
Ray Tune trials unless ``no_ray``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import InputError
from ._checks import MAX_BATCH, MAX_EPOCHS, check_address, check_device, check_out_dir, positive_int
from ._results import CalibrateResult
from .configs import CalibrateConfig, make_config

DEFAULT_OUT = "calibrate"
#: the agreement a reward should reach to be chosen (the issue's threshold, ours)
GOOD_AGREEMENT = 0.75


def calibrate(config: Optional[CalibrateConfig] = None, /, **options: Any) -> CalibrateResult:
    """Train the same random NB201 cells at several epoch counts and report how well each reward ranks
    them against NAS-Bench-201's test accuracy; the same as ``gradsign-nas calibrate``.

    Args:
        config: a ``CalibrateConfig``; ``options`` (its field names) override its fields.

    Returns:
        A ``CalibrateResult``: ``.summary["rows"]`` (per epoch count: spearman, n, seconds per cell),
        ``.summary["proxy"]``, ``.summary["recommended_epochs"]``, ``.to_pandas()`` (one row per cell).

    Examples:
        >>> r = gradsign_nas.calibrate(data="cifar10", cells=20, epoch_counts="1,3", no_ray=True)  # doctest: +SKIP
        >>> r.summary["rows"][0]["spearman"]                                                       # doctest: +SKIP
    """
    cfg = make_config(CalibrateConfig, config, options)
    from .. import proxies
    from ..benchmarks.live import LiveTrainingEvaluator
    from ..execution import execute
    from ..execution.fixed import FixedProposals
    from ..execution.live import open_history
    from ._final import TRUTH_NOTE, nb201_truth, truth_of
    from ._search import _check_ray_resources, backend_for, build_space, check_space_size, session

    # 1. every check before anything is written
    if not (isinstance(cfg.data, str) and cfg.data == "cifar10"):
        raise InputError(
            f"expected --data cifar10 (NAS-Bench-201's accuracies are for CIFAR-10 images), but got {cfg.data!r}"
        )
    positive_int("--cells", cfg.cells, 3, 15625)
    try:
        counts = sorted({int(x) for x in str(cfg.epoch_counts).split(",") if x.strip()})
    except ValueError:
        counts = []
    if not counts or any(not 1 <= e <= MAX_EPOCHS for e in counts):
        raise InputError(f"expected --epoch-counts as positive epoch counts, e.g. 1,3,9, but got {cfg.epoch_counts!r}")
    positive_int("--train-batch-size", cfg.train_batch_size, 1, MAX_BATCH)
    positive_int("--score-batch-size", cfg.score_batch_size, 1, MAX_BATCH)
    positive_int("--seed", cfg.seed, 0)
    for name in ("C", "N"):
        if getattr(cfg, name) is not None:
            positive_int(f"--{name}", getattr(cfg, name))
    check_space_size(_Sized(cfg))
    if cfg.proxy not in proxies.available():
        raise InputError(f"expected --proxy among {', '.join(proxies.available())}, but got {cfg.proxy!r}")
    check_device(cfg.device)
    check_address(cfg.address)
    if not cfg.no_ray:
        _check_ray_resources(cfg)
    out = check_out_dir(cfg.out if cfg.out is not None else DEFAULT_OUT) or Path(DEFAULT_OUT)
    bench = nb201_truth(_Truth(cfg.data_dir))
    if bench is None:
        raise InputError("expected the NAS-Bench-201 tables in the data directory, but they are missing")
    space = build_space(_Sized(cfg))
    rng = np.random.default_rng(cfg.seed)
    cells = [space.from_index(int(i)) for i in rng.choice(15625, size=cfg.cells, replace=False)]
    truth = np.asarray([truth_of(bench, str(c))["nb201_cifar10_test"] for c in cells])

    # 2. the trainings, one run per epoch count, then the proxy on the same cells
    rows: list[dict[str, Any]] = []
    per_cell = {str(c): {"arch": str(c), "nb201_cifar10_test": t} for c, t in zip(cells, truth)}
    t0 = time.perf_counter()
    with session(_Sized(cfg)):
        for e in counts:
            ev = LiveTrainingEvaluator(
                space,
                cfg.data,
                fidelities=(e,),
                batch_size=cfg.train_batch_size,
                lr=cfg.lr,
                device=cfg.device,
                seed=cfg.seed,
                data_dir=cfg.data_dir,
                limit=cfg.limit,
            )
            info = {"command": "calibrate", "epochs": e, "cells": [str(c) for c in cells], "seed": cfg.seed}
            info.update(lr=ev.lr, batch_size=cfg.train_batch_size, limit=cfg.limit, space_options=space.options())
            history = open_history(ev, out / f"{e}ep", info)
            res = execute(
                backend_for(_Sized(cfg), ev, final=True),
                FixedProposals(space, cells, e),
                history,
                trials=len(cells),
                progress=None if cfg.no_progress else f"calibrate {e} epochs",
            )
            reward = {}
            for rec in _records(out / f"{e}ep"):
                if rec["status"] == "completed":
                    reward[rec["arch"]] = (float(rec["metric"]), float(rec["cost_s"]))
            for a, (m, _c) in reward.items():
                per_cell[a][f"reward_{e}ep"] = m
            ok = [i for i, c in enumerate(cells) if str(c) in reward]
            r = np.asarray([reward[str(cells[i])][0] for i in ok])
            cost = [reward[str(cells[i])][1] for i in ok]
            rows.append(
                {
                    "epochs": e,
                    "spearman": _rho(r, truth[ok]),
                    "n": len(ok),
                    "seconds_per_cell": round(float(np.mean(cost)), 3) if cost else None,
                    "total_s": round(float(np.sum(cost)), 1),
                    "replayed": res.n_replayed,
                }
            )
        proxy = _proxy_row(cfg, ev, cells, truth, per_cell)
    wall = time.perf_counter() - t0
    good = [int(x["epochs"]) for x in rows if x["spearman"] is not None and x["spearman"] >= GOOD_AGREEMENT]
    summary = {
        "cells": cfg.cells,
        "data": cfg.data,
        "space_options": space.options(),
        "seed": cfg.seed,
        "rows": rows,
        "proxy": proxy,
        "recommended_epochs": min(good) if good else None,
        "threshold": GOOD_AGREEMENT,
        "note": TRUTH_NOTE,
        "wall_s": round(wall, 1),
    }
    from .._io import write_json_atomic

    write_json_atomic(out / "summary.json", summary)
    return CalibrateResult(summary, out, config=cfg, cells=list(per_cell.values()))


class _Truth:
    """The few settings ``nb201_truth`` reads, for CIFAR-10 on NB201."""

    space = "nb201"
    data = "cifar10"

    def __init__(self, data_dir: Optional[str]) -> None:
        self.data_dir = data_dir


class _Sized:
    """A calibration's settings as the live search's helpers read them (space nb201, no scheduler)."""

    def __init__(self, cfg: CalibrateConfig) -> None:
        self.__dict__.update(cfg.to_dict())
        self.space = "nb201"
        self.scheduler = None


def _records(d: Path) -> list:
    from ..results import read_history

    return read_history(d)


def _rho(a: np.ndarray, b: np.ndarray) -> Optional[float]:
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def _proxy_row(cfg: CalibrateConfig, ev, cells: list, truth: np.ndarray, per_cell: dict) -> dict:
    """The proxy's scores of the same cells (one batch of the training images, the evaluator's own
    networks and device) against the NB201 test accuracy, and their cost."""
    from ..assist import TrainingBatchScorer

    scorer = TrainingBatchScorer(ev, proxy=cfg.proxy, seed=cfg.seed, batch_size=cfg.score_batch_size)
    t0 = time.perf_counter()
    scores = np.asarray(scorer.score_many(cells), dtype=float)
    took = time.perf_counter() - t0
    for c, s in zip(cells, scores):
        per_cell[str(c)][cfg.proxy] = float(s)
    ok = np.isfinite(scores)
    return {
        "name": cfg.proxy,
        "spearman": _rho(scores[ok], truth[ok]),
        "n": int(ok.sum()),
        "seconds_per_cell": round(took / max(1, len(cells)), 4),
    }


__all__ = ["calibrate"]
