"""Statistics of many search runs: mean +- std of best-found test accuracy per algorithm x variant x
dataset, and a one-sided Mann-Whitney U test of assisted > vanilla per algorithm and dataset.

Every function works on the compact per-run rows of ``gradsign_nas.execution.run_all`` (dicts with
``algorithm``, ``variant`` and one test accuracy per dataset).

Example:
    >>> rows = [{"algorithm": "rs", "variant": v, "cifar10": a}
    ...         for v, a in [("vanilla", 93.5), ("vanilla", 93.7), ("assisted", 94.0), ("assisted", 94.1)]]
    >>> summarize(rows, ["cifar10"])["rs"]["assisted"]["cifar10"]["mean"]
    94.05
"""

from __future__ import annotations

import csv
import io
from typing import Iterable, Optional, Sequence

import numpy as np

from .benchmarks.nb201 import DATASETS

__all__ = ["DATASETS", "ceiling_table", "markdown_table", "p_values", "strategy_p_values", "summarize", "table_csv"]


def _values(rows: Iterable[dict], algorithm: str, variant: str, dataset: str) -> np.ndarray:
    return np.asarray(
        [
            r[dataset]
            for r in rows
            if r["algorithm"] == algorithm and r["variant"] == variant and r.get(dataset) is not None
        ],
        dtype=float,
    )


def _order(rows: Sequence[dict], key: str) -> list[str]:
    seen: dict = {}
    for r in rows:
        seen.setdefault(r[key], None)
    return list(seen)


def summarize(rows: Sequence[dict], datasets: Sequence[str] = DATASETS) -> dict:
    """``{algorithm: {variant: {dataset: {"mean", "std", "n"}}}}`` (std with ddof=0, as numpy's)."""
    rows = list(rows)
    out: dict = {}
    for a in _order(rows, "algorithm"):
        for v in _order([r for r in rows if r["algorithm"] == a], "variant"):
            cell = out.setdefault(a, {}).setdefault(v, {})
            for d in datasets:
                x = _values(rows, a, v, d)
                cell[d] = {
                    "mean": float(x.mean()) if x.size else None,
                    "std": float(x.std()) if x.size else None,
                    "n": int(x.size),
                }
    return out


def p_values(
    rows: Sequence[dict], datasets: Sequence[str] = DATASETS, variant: str = "assisted", against: str = "vanilla"
) -> dict:
    """``{algorithm: {dataset: p}}``: one-sided Mann-Whitney U p-value that ``variant``'s best-found
    accuracies are stochastically greater than ``against``'s (algorithms with both)."""
    from scipy.stats import mannwhitneyu

    rows = list(rows)
    out: dict = {}
    for a in _order(rows, "algorithm"):
        for d in datasets:
            x, y = _values(rows, a, variant, d), _values(rows, a, against, d)
            if x.size and y.size:
                out.setdefault(a, {})[d] = float(mannwhitneyu(x, y, alternative="greater").pvalue)
    return out


def strategy_p_values(rows: Sequence[dict], datasets: Sequence[str] = DATASETS) -> dict:
    """``{algorithm: {variant: {"vs_vanilla": {dataset: p}, "vs_assisted": {dataset: p}}}}`` for every
    variant other than vanilla and assisted (the strategies), one-sided as ``p_values``."""
    rows = list(rows)
    out: dict = {}
    for v in _order(rows, "variant"):
        if v in ("vanilla", "assisted"):
            continue
        for against in ("vanilla", "assisted"):
            for a, by_d in p_values(rows, datasets, v, against).items():
                out.setdefault(a, {}).setdefault(v, {})[f"vs_{against}"] = by_d
    return out


def _fmt_p(p: Optional[float]) -> str:
    if p is None:
        return ""
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def markdown_table(
    summary: dict, pvals: dict, datasets: Sequence[str] = DATASETS, strategy_pvals: Optional[dict] = None
) -> str:
    """The comparison as a Markdown table: mean +- std per cell, p-value rows for assisted (and, with
    ``strategy_pvals``, for each strategy against vanilla and against assisted)."""
    lines = ["| algorithm | variant | " + " | ".join(datasets) + " |", "|---|---|" + "---|" * len(datasets)]
    strategy_pvals = strategy_pvals or {}
    for a, variants in summary.items():
        for v, cells in variants.items():
            vals = []
            for d in datasets:
                c = cells.get(d) or {}
                vals.append("" if c.get("mean") is None else f"{c['mean']:.2f} +- {c['std']:.2f}")
            lines.append(f"| {a} | {v} | " + " | ".join(vals) + " |")
        if a in pvals:
            lines.append(
                f"| {a} | p (assisted > vanilla) | " + " | ".join(_fmt_p(pvals[a].get(d)) for d in datasets) + " |"
            )
        for v, by in strategy_pvals.get(a, {}).items():
            for against, ps in by.items():
                lines.append(
                    f"| {a} | p ({v} > {against[3:]}) | " + " | ".join(_fmt_p(ps.get(d)) for d in datasets) + " |"
                )
    return "\n".join(lines) + "\n"


def ceiling_table(rows: Sequence[dict], ceiling: dict, datasets: Sequence[str] = DATASETS) -> tuple[str, dict]:
    """The gap of every algorithm x variant to the protocol's ceiling (``ceiling["test"]`` minus the
    mean), and the share of runs whose best network is the ceiling's architecture. Returns the
    Markdown table and ``{algorithm: {variant: {"gap": {dataset: gap}, "found": share}}}``."""
    out: dict = {}
    for r in rows:
        out.setdefault(r["algorithm"], {}).setdefault(r["variant"], []).append(r)
    lines = [
        f"| protocol ceiling: index {ceiling['index']} | | "
        + " | ".join(f"{ceiling['test'][d]:.2f}" for d in datasets)
        + " | all runs |",
        "|---|---|" + "---|" * len(datasets) + "---|",
    ]
    result: dict = {}
    for a, variants in out.items():
        for v, rs in variants.items():
            gaps: dict[str, Optional[float]] = {}
            for d in datasets:
                vals = _values(rs, a, v, d)
                gaps[d] = float(ceiling["test"][d] - vals.mean()) if vals.size else None
            found = float(np.mean([r.get("best_index") == ceiling["index"] for r in rs]))
            result.setdefault(a, {})[v] = {"gap": gaps, "found": found}
            lines.append(
                f"| {a} | {v}: gap, found | "
                + " | ".join("" if (g := gaps[d]) is None else f"{-g:+.2f}" for d in datasets)
                + f" | {100 * found:.1f} % |"
            )
    return "\n".join(lines) + "\n", result


def table_csv(summary: dict, pvals: dict, datasets: Sequence[str] = DATASETS) -> str:
    """The comparison as CSV: one row per algorithm x variant x dataset (mean, std, n, p)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["algorithm", "variant", "dataset", "mean", "std", "n", "p_assisted_greater"])
    for a, variants in summary.items():
        for v, cells in variants.items():
            for d in datasets:
                c = cells.get(d) or {}
                p = pvals.get(a, {}).get(d) if v == "assisted" else None
                w.writerow([a, v, d, c.get("mean"), c.get("std"), c.get("n"), "" if p is None else p])
    return buf.getvalue()
