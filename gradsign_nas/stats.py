"""Statistics of many search runs: mean +- std of best-found test accuracy per algorithm x variant x
dataset, and a one-sided Mann-Whitney U test of assisted > vanilla per algorithm and dataset.

Run r of every algorithm and variant shares one seed, so the samples are paired by run: ``paired``
(and ``strategy_paired``) report the paired mean difference with a bootstrap 95 % interval, the
Wilcoxon signed-rank test on the per-run differences (one- and two-sided) and the two-sided
Mann-Whitney p; ``holm`` adjusts a family of p-values (``holm_families`` names the families) and
``paired_table`` writes all of it as Markdown.

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

__all__ = [
    "DATASETS",
    "ceiling_table",
    "holm",
    "holm_families",
    "markdown_table",
    "p_values",
    "paired",
    "paired_keys",
    "paired_table",
    "strategy_p_values",
    "strategy_paired",
    "summarize",
    "table_csv",
]


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


# -- paired statistics (run r of every variant shares one seed) -----------------------------------

BOOTSTRAP_RESAMPLES = 10_000


def _by_run(rows: Iterable[dict], algorithm: str, variant: str, dataset: str) -> dict:
    out: dict = {}
    for r in rows:
        if r["algorithm"] == algorithm and r["variant"] == variant and r.get(dataset) is not None:
            if r["run"] in out:
                raise ValueError(f"two rows of {algorithm} {variant} share run {r['run']!r}")
            out[r["run"]] = float(r[dataset])
    return out


def _wilcoxon(diff: np.ndarray) -> tuple[float, float]:
    """One-sided (median difference > 0) and two-sided Wilcoxon signed-rank p-values, scipy's
    defaults (zero differences dropped); 1.0 for both when no difference is non-zero."""
    from scipy.stats import wilcoxon

    if not np.any(diff != 0):
        return 1.0, 1.0
    return (
        float(wilcoxon(diff, alternative="greater").pvalue),
        float(wilcoxon(diff, alternative="two-sided").pvalue),
    )


def _bootstrap_ci(diff: np.ndarray, rng_seed: int, resamples: int) -> list[float]:
    """Percentile 95 % interval of the mean difference, resampling runs (pairs) with replacement
    with ``numpy.random.default_rng(rng_seed)``: the same seed, the same interval."""
    rng = np.random.default_rng(rng_seed)
    n, means, chunk = diff.size, [], 1000
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        means.append(diff[idx].mean(axis=1))
    lo, hi = np.percentile(np.concatenate(means), [2.5, 97.5])
    return [float(lo), float(hi)]


def paired(
    rows: Sequence[dict],
    datasets: Sequence[str] = DATASETS,
    rng_seed: int = 0,
    variant: str = "assisted",
    against: str = "vanilla",
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> dict:
    """``{algorithm: {dataset: {"n", "mean_diff", "ci95", "wilcoxon_p", "wilcoxon_p_two_sided",
    "mann_whitney_p_two_sided"}}}`` of ``variant`` against ``against``, the rows paired by ``"run"``
    (runs with a value in both; algorithms and datasets with at least one pair).

    ``mean_diff`` is the mean of the per-run differences (``variant`` - ``against``), ``ci95`` its
    percentile bootstrap 95 % interval (``resamples`` resamples of the runs, every cell with a fresh
    ``numpy.random.default_rng(rng_seed)``, so it does not depend on the rows' order), ``wilcoxon_p``
    the one-sided Wilcoxon signed-rank p of ``variant`` > ``against`` (``scipy.stats.wilcoxon`` on the
    differences), ``wilcoxon_p_two_sided`` its two-sided p, and ``mann_whitney_p_two_sided`` the
    two-sided Mann-Whitney U p over all runs of both, unpaired (the one-sided one is ``p_values``).
    A one-sided p near 1 with a small two-sided p means ``variant`` is worse, not level.
    """
    from scipy.stats import mannwhitneyu

    rows = list(rows)
    out: dict = {}
    for a in _order(rows, "algorithm"):
        for d in datasets:
            x, y = _by_run(rows, a, variant, d), _by_run(rows, a, against, d)
            runs = sorted(set(x) & set(y))
            if not runs:
                continue
            diff = np.asarray([x[r] - y[r] for r in runs], dtype=float)
            one, two = _wilcoxon(diff)
            xs, ys = _values(rows, a, variant, d), _values(rows, a, against, d)
            out.setdefault(a, {})[d] = {
                "n": int(diff.size),
                "mean_diff": float(diff.mean()),
                "ci95": _bootstrap_ci(diff, rng_seed, resamples),
                "wilcoxon_p": one,
                "wilcoxon_p_two_sided": two,
                "mann_whitney_p_two_sided": float(mannwhitneyu(xs, ys, alternative="two-sided").pvalue),
            }
    return out


def strategy_paired(
    rows: Sequence[dict], datasets: Sequence[str] = DATASETS, rng_seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES
) -> dict:
    """``{algorithm: {variant: {"vs_vanilla": {dataset: cell}, "vs_assisted": {dataset: cell}}}}`` for
    every strategy (variant other than vanilla and assisted), each cell as ``paired``'s."""
    rows = list(rows)
    out: dict = {}
    for v in _order(rows, "variant"):
        if v in ("vanilla", "assisted"):
            continue
        for against in ("vanilla", "assisted"):
            for a, by_d in paired(rows, datasets, rng_seed, v, against, resamples).items():
                out.setdefault(a, {}).setdefault(v, {})[f"vs_{against}"] = by_d
    return out


def _leaves(tree: dict, path: tuple = ()) -> list[tuple[tuple, Optional[float]]]:
    out: list[tuple[tuple, Optional[float]]] = []
    for k, v in tree.items():
        if isinstance(v, dict):
            out += _leaves(v, (*path, k))
        else:
            out.append(((*path, k), v))
    return out


def holm(pvalues: dict) -> dict:
    """Holm-Bonferroni adjusted p-values of every p in ``pvalues`` (a nested dict with p-values, or
    None, as its leaves), in the same shape: the whole dict is one family. None and NaN leaves stay
    as they are and do not count in the family.

    Example:
        >>> holm({"a": 0.01, "b": 0.04, "c": 0.03})
        {'a': 0.03, 'b': 0.06, 'c': 0.06}
    """
    leaves = _leaves(pvalues)
    valid = [(path, float(p)) for path, p in leaves if p is not None and not np.isnan(p)]
    m = len(valid)
    adjusted: dict = {}
    running = 0.0
    for i, (path, p) in enumerate(sorted(valid, key=lambda t: t[1])):
        running = max(running, min(1.0, (m - i) * p))
        adjusted[path] = float(f"{running:.12g}")  # 3 * 0.01 is 0.03, not 0.030000000000000002

    def rebuild(tree: dict, path: tuple) -> dict:  # the same shape, empty dicts included
        return {
            k: rebuild(v, (*path, k)) if isinstance(v, dict) else adjusted.get((*path, k), v) for k, v in tree.items()
        }

    return rebuild(pvalues, ())


def _wilcoxon_ps(cells: dict) -> dict:
    return {k: (v["wilcoxon_p"] if "wilcoxon_p" in v else _wilcoxon_ps(v)) for k, v in cells.items()}


def holm_families(pvals: dict, spvals: dict, paired_: dict, spaired: dict) -> dict:
    """The Holm-adjusted p-values of one comparison, two families, each the p-values of one table:

    * the Mann-Whitney family: every one-sided Mann-Whitney p of results.md's first table, that is
      ``p_values`` (assisted > vanilla, every algorithm x dataset) together with ``strategy_p_values``
      (every strategy > vanilla and > assisted, every algorithm x dataset);
    * the Wilcoxon family: every one-sided Wilcoxon p of the paired table, that is ``paired``'s and
      ``strategy_paired``'s ``wilcoxon_p`` (every algorithm x dataset x hypothesis).

    Returns ``{"p_values", "paired"}`` (``{algorithm: {dataset: p}}``), and with strategies
    ``"strategy_p_values"`` and ``"strategy_paired"`` (``{algorithm: {variant: {"vs_...": {dataset:
    p}}}}``), plus ``"survive_0.05"``: the claims whose adjusted p is below 0.05, as
    ``"<family>: <algorithm> <variant> > <against> <dataset>"``. Two-sided p-values are not adjusted.
    """
    mw = holm({"p_values": pvals, "strategy_p_values": spvals})
    wx = holm({"paired": _wilcoxon_ps(paired_), "strategy_paired": _wilcoxon_ps(spaired)})
    out = {"p_values": mw["p_values"], "paired": wx["paired"]}
    if spvals:
        out["strategy_p_values"] = mw["strategy_p_values"]
    if spaired:
        out["strategy_paired"] = wx["strategy_paired"]
    survive = []
    for family, tree in (("Mann-Whitney", mw), ("Wilcoxon", wx)):
        for path, p in _leaves(tree):
            if p is not None and p < 0.05:
                if len(path) == 3:  # (key, algorithm, dataset)
                    claim = f"{path[1]} assisted > vanilla {path[2]}"
                else:  # (key, algorithm, variant, vs_against, dataset)
                    claim = f"{path[1]} {path[2]} > {path[3][3:]} {path[4]}"
                survive.append(f"{family}: {claim}")
    out["survive_0.05"] = survive
    return out


def paired_keys(rows: Sequence[dict], datasets: Sequence[str], pvals: dict, spvals: dict, rng_seed: int = 0) -> dict:
    """The keys a comparison's summary gains from the paired statistics: ``"paired"``
    (``paired``), ``"strategy_paired"`` (``strategy_paired``, with strategies) and ``"holm"``
    (``holm_families``)."""
    pr, sp = paired(rows, datasets, rng_seed), strategy_paired(rows, datasets, rng_seed)
    out: dict = {"paired": pr}
    if sp:
        out["strategy_paired"] = sp
    out["holm"] = holm_families(pvals, spvals, pr, sp)
    return out


def paired_table(keys: dict, datasets: Sequence[str] = DATASETS) -> str:
    """``paired_keys``'s result as Markdown: one row per algorithm x hypothesis x dataset with the
    number of pairs, the mean difference [bootstrap 95 % CI], the one-sided Wilcoxon p and its Holm
    p, the two-sided Wilcoxon p, the one-sided Mann-Whitney p's Holm p and the two-sided Mann-Whitney
    p; a Holm p below 0.05 in bold (the claim survives the correction)."""
    h = keys.get("holm") or {}

    def holm_p(p: Optional[float]) -> str:
        return "" if p is None else (f"**{_fmt_p(p)}**" if p < 0.05 else _fmt_p(p))

    lines = [
        "| algorithm | hypothesis | dataset | pairs | mean difference [95 % CI] | Wilcoxon p | Holm p "
        "| Wilcoxon p two-sided | Mann-Whitney Holm p | Mann-Whitney p two-sided |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def add(a: str, hyp: str, cells: dict, wx: dict, mw: dict) -> None:
        for d in datasets:
            c = cells.get(d)
            if c is None:
                continue
            lo, hi = c["ci95"]
            lines.append(
                f"| {a} | {hyp} | {d} | {c['n']} | {c['mean_diff']:+.2f} [{lo:+.2f}, {hi:+.2f}] "
                f"| {_fmt_p(c['wilcoxon_p'])} | {holm_p(wx.get(d))} | {_fmt_p(c['wilcoxon_p_two_sided'])} "
                f"| {holm_p(mw.get(d))} | {_fmt_p(c['mann_whitney_p_two_sided'])} |"
            )

    pr, sp = keys.get("paired") or {}, keys.get("strategy_paired") or {}
    for a in dict.fromkeys([*pr, *sp]):
        if a in pr:
            wx, mw = h.get("paired", {}).get(a, {}), h.get("p_values", {}).get(a, {})
            add(a, "assisted > vanilla", pr[a], wx, mw)
        for v, by in sp.get(a, {}).items():
            for against, cells in by.items():
                wx = h.get("strategy_paired", {}).get(a, {}).get(v, {}).get(against, {})
                mw = h.get("strategy_p_values", {}).get(a, {}).get(v, {}).get(against, {})
                add(a, f"{v} > {against[3:]}", cells, wx, mw)
    note = (
        "\nPaired by run (run r of every variant shares one seed): mean of the per-run differences with a "
        "bootstrap 95 % interval (runs resampled), one-sided Wilcoxon signed-rank p, Holm-adjusted over "
        "every Wilcoxon p of this table; Mann-Whitney Holm p adjusted over every one-sided Mann-Whitney p of "
        "the table above; bold: Holm p < 0.05. A one-sided p near 1 with a small two-sided p means worse, "
        "not level.\n"
    )
    survive = h.get("survive_0.05")
    if survive is not None:
        note += "\nClaims that survive Holm at 0.05: " + ("; ".join(survive) if survive else "none") + ".\n"
    return "\n".join(lines) + "\n" + note
