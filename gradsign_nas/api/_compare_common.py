"""What the tabular and the live comparison share: the lists they compare, per-run aggregates, the
report and the runs table."""

from __future__ import annotations

import csv
import io
from typing import Any

from ._checks import VARIANTS, names
from ._results import CompareResult


def check_lists(cfg: Any) -> tuple[list[str], list[str]]:
    """``(algorithms, variants)``: ``algorithms`` and ``variants`` plus the strategies of ``strategies``
    (names or 'all'), each strategy checked to be defined for every algorithm before anything runs."""
    from .. import algorithms, strategies

    algos = names("algorithms", cfg.algorithms, algorithms.available())
    variants = names("variants", cfg.variants, VARIANTS + tuple(strategies.available()))
    if cfg.strategies is not None:
        variants += [v for v in names("strategies", cfg.strategies, strategies.available()) if v not in variants]
    for v in variants:  # a strategy defined only for some algorithms is refused before anything runs
        if v not in VARIANTS:
            for a in algos:
                strategies.settings(v, a, cfg.k)
    return algos, variants


def write_report_for(result: CompareResult, title: str, plots: list, subtitle: str) -> None:
    """report.html of a comparison (tabular or live) and the done line naming its folder."""
    from ..report import write_report

    assert result.out is not None
    write_report(result.out, title, plots, subtitle=subtitle)
    result.done += f"; files in {result.out}"


def _runs_csv(rows, datasets) -> str:
    buf = io.StringIO()
    cols = [
        "algorithm",
        "variant",
        "run",
        "seed",
        "best_arch",
        "best_index",
        "best_metric",
        "best_fidelity",
        *datasets,
        "n_evaluations",
        "n_discarded",
        "sim_time",
        "wall_s",
    ]
    w = csv.DictWriter(buf, cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _mean_stats(rows) -> dict:
    """Mean of every numeric algorithm statistic per algorithm x variant (e.g. BOHB's model vs
    random rewards)."""
    out: dict = {}
    for r in rows:
        acc = out.setdefault(r["algorithm"], {}).setdefault(r["variant"], {})
        for k, v in _flatten(r.get("stats") or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
                s = acc.setdefault(k, [0.0, 0])
                s[0] += v
                s[1] += 1
    return {a: {v: {k: s / n for k, (s, n) in d.items()} for v, d in vs.items()} for a, vs in out.items()}


def mean_proxy_scores(rows) -> dict:
    """``{algorithm: {variant: mean proxy scores asked for per run}}`` (best-of-K: K per evaluation)."""
    acc: dict = {}
    for r in rows:
        acc.setdefault(r["algorithm"], {}).setdefault(r["variant"], []).append(r.get("proxy_scores") or 0)
    return {a: {v: sum(x) / len(x) for v, x in vs.items()} for a, vs in acc.items()}


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
