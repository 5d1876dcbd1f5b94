"""Plots of many search runs: best-so-far test accuracy against simulated time.

One panel per dataset; one line per algorithm x variant (colour: algorithm; solid: assisted,
dashed: vanilla); the line is the mean over runs and the band mean +- one standard error of that
mean (``band="sem"``, the default, shows whether two means differ) or +- one standard deviation of
the runs (``band="std"``, their spread).
Uses matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Iterable, Sequence, Union

import numpy as np

from gradsign_nas.errors import InputError

from .benchmarks.nb201 import DATASETS

__all__ = ["plot_curves", "plot_timeline"]


_STYLES = {"assisted": "-", "vanilla": "--", "warmup": "-.", "adaptive": ":"}


def plot_curves(
    rows: Sequence[dict],
    budget_s: float,
    path: Union[str, os.PathLike, None] = None,
    datasets: Sequence[str] = DATASETS,
    points: int = 200,
    band: str = "sem",
    title: str = "",
    ceiling: dict | None = None,
    xlabel: str = "simulated time (s)",
    ylabel: str | None = None,
) -> bytes:
    """Draw the best-so-far curves of ``rows`` (compact run results: the mean over runs as steps with a
    band) and return the PNG bytes; also write them to ``path`` (atomically) when given. ``title``
    goes above the panels, followed by the number of runs per algorithm and variant; ``ceiling``
    (``{dataset: accuracy}``) draws the protocol's ceiling as a dotted line. ``xlabel`` / ``ylabel``
    name the axes (a live comparison draws trials and wall-clock seconds)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from ._io import write_bytes_atomic

    if band not in ("sem", "std"):
        raise InputError(f"expected band 'sem' or 'std', but got {band!r}")
    rows = list(rows)
    grid = np.linspace(0.0, float(budget_s), points)
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["algorithm"], r["variant"]), []).append(r)
    algos = list(dict.fromkeys(a for a, _ in groups))
    colours = {a: f"C{i}" for i, a in enumerate(algos)}
    fig = Figure(figsize=(5.0 * len(datasets), 4.0), constrained_layout=True)
    axes = fig.subplots(1, len(datasets), squeeze=False)[0]
    for ax, d in zip(axes, datasets):
        lows, highs = [], []
        for (a, v), rs in groups.items():
            m = curves_on_grid(rs, grid, d)
            with warnings.catch_warnings():  # columns before any run's first result are all-NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, std = np.nanmean(m, axis=0), np.nanstd(m, axis=0)
            if band == "sem":
                std = std / np.sqrt(np.maximum(np.sum(np.isfinite(m), axis=0), 1))
            ok = np.isfinite(mean)
            if not ok.any():
                continue
            style = _STYLES.get(v, ":")
            ax.plot(grid[ok], mean[ok], style, color=colours[a], label=f"{a} ({v})", lw=1.5, drawstyle="steps-post")
            ax.fill_between(
                grid[ok], (mean - std)[ok], (mean + std)[ok], color=colours[a], alpha=0.2, lw=0, step="post"
            )
            # y range from the second half of the search, where the curves differ
            half = ok & (grid >= grid[-1] / 4)
            if half.any():
                lows.append(np.nanmin((mean - std)[half]))
                highs.append(np.nanmax((mean + std)[half]))
        if ceiling is not None and d in ceiling:
            ax.axhline(ceiling[d], color="black", ls=":", lw=1, label="protocol ceiling")
            highs.append(ceiling[d])
        if lows:
            pad = 0.1 * (max(highs) - min(lows)) + 0.1
            ax.set_ylim(min(lows) - pad, max(highs) + pad)
        ax.set_title(d)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{ylabel or 'best-so-far test accuracy (%)'}, mean +- {'s.e.m.' if band == 'sem' else 'std'}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    sizes = sorted({len(rs) for rs in groups.values()})
    n = f"n = {sizes[0]}" if len(sizes) == 1 else f"n = {sizes[0]}-{sizes[-1]}"
    fig.suptitle(f"{title}{'; ' if title else ''}{n} runs per algorithm and variant", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    data = buf.getvalue()
    if path is not None:
        write_bytes_atomic(path, data)
    return data


def curves_on_grid(rows: Iterable[dict], grid: np.ndarray, dataset: str) -> np.ndarray:
    """Best-so-far test accuracy of each run at the simulated times ``grid`` (NaN before its first
    completed evaluation): an array [runs, len(grid)]."""
    rows = list(rows)
    out = np.full((len(rows), len(grid)), np.nan)
    for j, row in enumerate(rows):
        t = np.asarray(row["trajectory"]["time"], dtype=float)
        v = np.asarray([np.nan if x is None else x for x in row["trajectory"][dataset]], dtype=float)
        if t.size:
            pos = np.searchsorted(t, grid, side="right") - 1
            ok = pos >= 0
            out[j, ok] = v[pos[ok]]
    return out


def plot_timeline(
    spans: Sequence[dict], rows: Sequence[str], path: Union[str, os.PathLike, None] = None, title: str = ""
) -> bytes:
    """Draw when every trial ran: one row per trial slot (``rows[i]``: the row of ``spans[i]``, e.g.
    from ``api._utilisation.pack_rows``), one bar per trial from its start to its end, coloured by its
    search (``span["search"]``); seconds since the first start. Returns the PNG bytes and writes them
    to ``path`` (atomically) when given."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from ._io import write_bytes_atomic

    names = sorted(set(rows))
    searches = list(dict.fromkeys(s["search"] for s in spans))
    t0 = min((s["start"] for s in spans), default=0.0)
    fig = Figure(figsize=(9.0, 1.2 + 0.35 * max(1, len(names))), constrained_layout=True)
    ax = fig.subplots()
    for s, row in zip(spans, rows):
        colour = f"C{searches.index(s['search']) % 10}"
        ax.barh(names.index(row), s["end"] - s["start"], left=s["start"] - t0, height=0.8, color=colour, alpha=0.85)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("wall-clock seconds since the first trial started")
    ax.set_ylabel("trial slot (node #)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{title}{'; ' if title else ''}{len(spans)} trials of {len(searches)} searches", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    data = buf.getvalue()
    if path is not None:
        write_bytes_atomic(path, data)
    return data
