"""How well a proxy ranks architectures: Spearman's rho and Kendall's tau against benchmark accuracy.

``correlate_proxy`` samples architectures of a space with a seeded ``numpy`` Generator, scores them
(``gradsign_nas.scoring.score_archs``: parallel, cached) and correlates the scores with the
benchmark's accuracy: for ``nb201`` the 200-epoch test accuracy of the dataset (all 15,625
architectures, sampled over the official index); for ``nb101`` / ``darts`` the 500-architecture
NAS-Bench-Suite-Zero subsets' validation accuracy (CIFAR-10 only). ``write_outputs`` writes
``scores.csv``, ``scatter.png`` and ``summary.json``, each atomically.

NaN scores (a proxy that fails on a degenerate architecture) are excluded from the correlation and
counted in ``n_nan``.

Example:
    >>> from gradsign_nas.correlation import correlate
    >>> r = correlate([1.0, 2.0, 3.0, float("nan")], [10.0, 30.0, 20.0, 5.0])
    >>> (r.n, r.n_nan, round(r.spearman, 2))
    (3, 1, 0.5)
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from gradsign_nas.errors import InputError

from .benchmarks.targets import DEFAULT_SAMPLE, check_space_dataset, load_targets

__all__ = [
    "Correlation",
    "CorrelationRun",
    "check_space_dataset",
    "correlate",
    "correlate_proxy",
    "load_targets",
    "sample_indices",
    "write_outputs",
]


@dataclass(frozen=True)
class Correlation:
    """Rank correlation of scores with accuracy over the ``n`` pairs whose score is finite."""

    spearman: float
    kendall: float
    n: int
    n_nan: int


def correlate(scores: Union[Sequence[float], np.ndarray], accuracy: Union[Sequence[float], np.ndarray]) -> Correlation:
    """Spearman's rho and Kendall's tau (``scipy.stats``, tau-b) of ``scores`` vs ``accuracy``.

    Pairs with a non-finite score or accuracy are left out and counted in ``n_nan``. With fewer than
    two pairs, or constant scores, the coefficients are NaN.
    """
    from scipy import stats

    s = np.asarray(scores, dtype=np.float64)
    a = np.asarray(accuracy, dtype=np.float64)
    if s.shape != a.shape or s.ndim != 1:
        raise InputError(
            f"expected scores and accuracies of the same 1-d length, but got shapes {s.shape} and {a.shape}"
        )
    ok = np.isfinite(s) & np.isfinite(a)
    n = int(ok.sum())
    if n < 2 or np.ptp(s[ok]) == 0 or np.ptp(a[ok]) == 0:
        return Correlation(float("nan"), float("nan"), n, int((~ok).sum()))
    rho = stats.spearmanr(s[ok], a[ok]).statistic
    tau = stats.kendalltau(s[ok], a[ok]).statistic
    return Correlation(float(rho), float(tau), n, int((~ok).sum()))


def sample_indices(total: int, n: Optional[int], seed: int) -> np.ndarray:
    """``n`` distinct indices of ``range(total)`` drawn with ``np.random.default_rng(seed)`` (sorted);
    ``n=None`` means all of them."""
    if n is None:
        return np.arange(total)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise InputError(f"expected a sample of at least 2 architectures, but got {n!r}")
    if n > total:
        raise InputError(f"expected a sample of at most the space's {total} architectures, but got {n}")
    return np.sort(np.random.default_rng(seed).choice(total, size=int(n), replace=False))


@dataclass
class CorrelationRun:
    """Everything one correlation measured (what ``write_outputs`` writes)."""

    space: str
    dataset: str
    proxy: str
    metric: str
    seed: int
    batch_size: int
    indices: np.ndarray
    archs: list
    scores: np.ndarray
    accuracy: np.ndarray
    seconds: np.ndarray
    correlation: Correlation
    wall_seconds: float
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The one-line JSON of the CLI: space, dataset, proxy, n, spearman, kendall, seconds."""
        c = self.correlation
        return {
            "space": self.space,
            "dataset": self.dataset,
            "proxy": self.proxy,
            "n": c.n,
            "spearman": _finite_or_none(c.spearman),
            "kendall": _finite_or_none(c.kendall),
            "seconds": round(self.wall_seconds, 3),
        }


def _finite_or_none(v: float) -> Optional[float]:
    return float(v) if math.isfinite(v) else None


def correlate_proxy(
    space: str = "nb201",
    dataset: str = "cifar10",
    proxy: str = "gradsign",
    sample: Optional[int] = None,
    seed: int = 0,
    batch_size: int = 64,
    directory: Union[str, os.PathLike, None] = None,
    workers: Optional[int] = None,
    device: str = "cpu",
    address: Optional[str] = None,
    cache: Union[str, os.PathLike, bool, None] = None,
    progress: bool = True,
    targets: Optional[tuple] = None,
    scores_from: str = "computed",
) -> CorrelationRun:
    """Sample, score and correlate (see the module docstring).

    Args:
        sample: architectures to draw without replacement (``None``: 1,000 for nb201, all for the
            subsets; pass the space size for all of nb201).
        targets: ``load_targets``'s result, when the caller already loaded it.
        scores_from: ``"computed"`` (score every sampled network now) or ``"table"`` (look the scores up
            in the packaged whole-space NB201 tables, instantly; ``proxy`` may then be an ensemble
            ``"a+b"``, and the seconds are those recorded when the table was made).
        Others: as in ``gradsign_nas.scoring.score_archs``.
    """
    from .scoring import score_archs

    if scores_from not in ("computed", "table"):
        raise InputError(f"expected scores from 'computed' or 'table', but got {scores_from!r}")
    if scores_from == "table" and space != "nb201":
        raise InputError(
            f"expected --scores table with the nb201 space (the only one with whole-space tables), but got {space!r}"
        )
    t0 = time.perf_counter()
    archs_all, acc_all, metric = targets if targets is not None else load_targets(space, dataset, directory)
    n = DEFAULT_SAMPLE.get(space) if sample is None else sample
    idx = sample_indices(len(archs_all), n, seed)
    archs = [archs_all[i] for i in idx]
    if scores_from == "table":
        from .assist import TableScorer

        table = TableScorer.nb201(dataset, proxy)
        scores = np.asarray([table.score(a) for a in archs], dtype=float)
        seconds = np.asarray([table.cost_s(a) for a in archs], dtype=float)
    else:
        scores, seconds = score_archs(
            space,
            archs,
            proxy=proxy,
            dataset=dataset,
            batch_size=batch_size,
            seed=seed,
            directory=directory,
            workers=workers,
            device=device,
            cache=cache,
            progress=progress,
            address=address,
        )
    acc = acc_all[idx]
    return CorrelationRun(
        space=space,
        dataset=dataset,
        proxy=proxy,
        metric=metric,
        seed=int(seed),
        batch_size=int(batch_size),
        indices=idx,
        archs=archs,
        scores=scores,
        accuracy=acc,
        seconds=seconds,
        correlation=correlate(scores, acc),
        wall_seconds=time.perf_counter() - t0,
    )


# -- outputs ---------------------------------------------------------------------------------------------
def _atomic_write(path: Path, write) -> None:
    from ._io import atomic_path

    with atomic_path(path, suffix=path.suffix) as tmp:
        write(str(tmp))


def _write_csv(run: CorrelationRun, tmp: str) -> None:
    import csv

    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["index", "arch", "score", "accuracy", "seconds"])
        for i, a, s, acc, sec in zip(run.indices, run.archs, run.scores, run.accuracy, run.seconds):
            w.writerow([int(i), str(a), repr(float(s)), repr(float(acc)), f"{float(sec):.6f}"])


def _x_scale(x: np.ndarray) -> tuple[str, dict]:
    """``log`` when the scores are positive and span more than a factor 20; ``symlog`` when zeros sit
    beside such a span; else linear."""
    pos = x[x > 0]
    if len(pos) == 0 or (x < 0).any() or pos.max() / pos.min() < 20:
        return "linear", {}
    if (x == 0).any():
        return "symlog", {"linthresh": float(pos.min())}
    return "log", {}


def _write_png(run: CorrelationRun, tmp: str) -> None:
    from matplotlib.figure import Figure

    ok = np.isfinite(run.scores) & np.isfinite(run.accuracy)
    x, y = run.scores[ok], run.accuracy[ok]
    fig = Figure(figsize=(6, 4.5), dpi=110)
    ax = fig.add_subplot()
    ax.scatter(x, y, s=6, alpha=0.5, linewidths=0)
    scale, kw = _x_scale(x)
    ax.set_xscale(scale, **kw)
    c = run.correlation
    ax.set_title(
        f"{run.proxy} vs {run.metric} ({run.space}, {run.dataset})\n"
        f"Spearman {c.spearman:.3f}, Kendall {c.kendall:.3f}, n = {c.n}"
        + (f" ({c.n_nan} NaN excluded)" if c.n_nan else ""),
        fontsize=10,
    )
    ax.set_xlabel(f"{run.proxy} score" + ("" if scale == "linear" else f" ({scale} scale)"))
    ax.set_ylabel(f"{run.metric} (%)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(tmp, format="png")


def write_outputs(run: CorrelationRun, out: Union[str, os.PathLike]) -> dict[str, Path]:
    """Write ``scores.csv`` (index, arch, score, accuracy, seconds), ``scatter.png`` and
    ``summary.json`` into ``out`` (created if needed), each through a temporary file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"expected --out to be a directory, but {out} is a file")
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "scores.csv", "png": out / "scatter.png", "summary": out / "summary.json"}
    _atomic_write(paths["csv"], lambda tmp: _write_csv(run, tmp))
    _atomic_write(paths["png"], lambda tmp: _write_png(run, tmp))
    summary = dict(
        run.summary(),
        metric=run.metric,
        seed=run.seed,
        batch_size=run.batch_size,
        n_sampled=len(run.indices),
        n_nan=run.correlation.n_nan,
        median_seconds_per_arch=float(np.median(run.seconds)) if len(run.seconds) else None,
        # "seconds" is this run's wall time (instant when every score came from the cache);
        # this is what computing the scores took when they were computed
        scoring_seconds=float(np.nansum(run.seconds)),
        **run.extra,
    )
    _atomic_write(paths["summary"], lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=2) + "\n"))
    return paths
