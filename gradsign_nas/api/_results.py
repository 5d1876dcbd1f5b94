"""What the API's run functions return: ``.summary`` (exactly what summary.json holds, or would hold
for a run that writes nothing), ``.to_pandas()`` (one row per run, trial or architecture),
``.best`` where a run has one, ``.format()`` (the text the command line prints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

__all__ = [
    "CalibrateResult",
    "CompareResult",
    "CorrelateResult",
    "ScoreSpaceResult",
    "SearchResult",
    "TableSearchResult",
]


def _frame(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame(rows)


@dataclass
class SearchResult:
    """A live search: ``summary`` (summary.json), ``out`` (its folder), ``run_dirs`` per variant."""

    summary: dict
    out: Optional[Path]
    config: Any = None
    run_dirs: dict = field(default_factory=dict)

    @property
    def best(self) -> dict:
        """``{variant: best.json}``: the best network each variant found (``gradsign_nas.load_best``
        on ``run_dirs[variant]`` rebuilds it with its weights)."""
        from ..results import read_best

        return {v: read_best(d) for v, d in self.run_dirs.items()}

    def to_pandas(self):
        """Every trial of every variant, one row each (the history records, with ``variant``)."""
        from ..results import read_history

        rows = []
        for v, d in self.run_dirs.items():
            for rec in read_history(d):
                rows.append({"variant": v, **{k: x for k, x in rec.items() if k != "extra"}})
        return _frame(rows)

    def format(self) -> str:
        from ._live_report import format_summary

        return format_summary(self.summary)


@dataclass
class TableSearchResult:
    """Table searches, one per variant: ``summary["variants"][variant]`` holds the best network, its
    reward and test accuracies, evaluations and simulated time; ``records`` every evaluation."""

    summary: dict
    out: Optional[Path]
    config: Any = None
    records: dict = field(default_factory=dict)

    @property
    def best(self) -> dict:
        """``{variant: {"arch", "index", "reward", "fidelity", "test"}}``."""
        return {
            v: {
                "arch": s["best_arch"],
                "index": s["best_index"],
                "reward": s["reward"],
                "fidelity": s["fidelity"],
                "test": s["test"],
            }
            for v, s in self.summary["variants"].items()
        }

    def to_pandas(self):
        """Every evaluation of every variant (with an ``--out``: all of them; without: those that
        improved the best), one row each."""
        return _frame(
            [
                {"variant": v, **{k: x for k, x in r.items() if k != "extra"}}
                for v, recs in self.records.items()
                for r in recs
            ]
        )

    def format(self) -> str:
        lines = []
        for v, s in self.summary["variants"].items():
            lines.append(
                f"best network ({v} {s['algorithm']}, seed {s['seed']}, {s['evaluations']} evaluations in "
                f"{s['sim_time']:,.0f} of {s['budget']:,.0f} simulated s):"
            )
            if s["best_arch"] is None:
                lines.append("  none: no evaluation fit in the budget")
                continue
            lines.append(f"  arch   {s['best_arch']}")
            lines.append(f"  index  {s['best_index']}")
            lines.append(f"  search reward (cifar10-valid, {s['fidelity']} epochs)  {s['reward']:.2f}")
            for d, acc in s["test"].items():
                lines.append(f"  {d} test accuracy (200 epochs)  {acc:.2f}")
        return "\n".join(lines)


@dataclass
class CompareResult:
    """A comparison: ``summary`` (summary.json: results, p-values, ceiling, config, ...), ``rows``
    (one per search), ``table`` (results.md), ``line`` (what ``--json`` prints)."""

    summary: dict
    out: Optional[Path]
    config: Any = None
    rows: list = field(default_factory=list)
    table: str = ""
    line: dict = field(default_factory=dict)
    done: str = ""

    best = None  # a comparison's answer is its statistics, not one network

    def to_pandas(self):
        """One row per search (algorithm, variant, run, seed, best network and its accuracies)."""
        drop = ("trajectory", "wall_trajectory", "stats")
        return _frame([{k: v for k, v in r.items() if k not in drop} for r in self.rows])

    def format(self) -> str:
        return self.table + self.done


@dataclass
class CorrelateResult:
    """A correlation: ``summary`` (spearman, kendall, n, ...), ``run`` (every score and accuracy)."""

    summary: dict
    out: Optional[Path]
    config: Any = None
    run: Any = None
    paths: dict = field(default_factory=dict)

    best = None

    def to_pandas(self):
        """One row per architecture: index, arch, score, accuracy, seconds."""
        r = self.run
        return _frame(
            [
                {"index": int(i), "arch": str(a), "score": float(s), "accuracy": float(y), "seconds": float(t)}
                for i, a, s, y, t in zip(r.indices, r.archs, r.scores, r.accuracy, r.seconds)
            ]
        )

    def format(self) -> str:
        c = self.run.correlation
        r = self.run
        return (
            f"{r.proxy} vs {r.metric} on {c.n} {r.space} architectures ({r.dataset}): "
            f"Spearman {c.spearman:.4f}, Kendall {c.kendall:.4f}, {r.wall_seconds:.1f} s"
        )


@dataclass
class ScoreSpaceResult:
    """Whole-space scores: ``summary`` (throughput, workers, tables written), ``scores``
    (``{proxy: {dataset: array over the indices}}``)."""

    summary: dict
    out: Optional[Path]
    config: Any = None
    scores: dict = field(default_factory=dict)

    best = None

    def to_pandas(self):
        """One row per architecture index, a column ``<proxy>/<dataset>`` per table."""
        cols = {f"{q}/{d}": list(v) for q, ds in self.scores.items() for d, v in ds.items()}
        import pandas as pd

        return pd.DataFrame(cols)

    def format(self) -> str:
        s = self.summary
        text = (
            f"scored {s['n']} architectures x {s['n_datasets']} batches x {s['n_proxies']} proxies in "
            f"{s['wall_s']} s ({s['archs_per_s']} archs/s)"
        )
        return text + (f"; wrote {', '.join(s['tables'])}" if s.get("tables") else "")


@dataclass
class CalibrateResult:
    """A calibration: ``summary`` (per epoch count its Spearman against NB201's test accuracy, n and
    cost; the proxy's; the recommended epochs), ``cells`` (every cell's rewards, score and truth)."""

    summary: dict
    out: Optional[Path]
    config: Any = None
    cells: list = field(default_factory=list)

    best = None

    def to_pandas(self):
        """One row per cell: arch, its NB201 test accuracy, its reward at each epoch count, its score."""
        return _frame(self.cells)

    def format(self) -> str:
        s = self.summary
        lines = [
            "| reward | cells | Spearman vs NB201 C10 test (200 ep) | s per cell |",
            "|---|---|---|---|",
        ]
        for r in s["rows"]:
            rho = "-" if r["spearman"] is None else f"{r['spearman']:.3f}"
            lines.append(f"| {r['epochs']} epochs | {r['n']} | {rho} | {r['seconds_per_cell']} |")
        p = s["proxy"]
        rho = "-" if p["spearman"] is None else f"{p['spearman']:.3f}"
        lines.append(f"| {p['name']} (no training) | {p['n']} | {rho} | {p['seconds_per_cell']} |")
        pick = s["recommended_epochs"]
        lines.append(
            f"cheapest reward with Spearman >= {s['threshold']}: "
            + (f"{pick} epochs" if pick is not None else "none of these epoch counts")
        )
        lines.append(f"NB201 C10 test: {s['note']}")
        return "\n".join(lines)
