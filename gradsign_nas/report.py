"""One self-contained HTML page of a run's results: ``report.html`` beside its ``summary.json``.

``gradsign-nas compare`` and a live ``gradsign-nas search`` both call ``write_report(out_dir, ...)``
after they have written ``summary.json`` and their plot: it reads that summary, turns it into
sections (``sections_from_summary``) and renders them (``render``) into one HTML5 page with its CSS
inline and every plot embedded as a base64 PNG, so the page needs nothing else (no network, no
JavaScript) and can be mailed or archived on its own. Every text goes through ``html.escape``.

What the page shows, from the summary's keys:

* first, the answer in words (``gradsign_nas._report_verdict``): one verdict sentence per algorithm,
  assisted against vanilla on the primary metric (a tabular comparison's first dataset; a live one's
  ``final_test_acc`` when measured, else its reward), with both means, the p-value, the runs and the
  Holm correction (``verdicts`` gives the sentences), and the proxy and K of the assistance;
* a comparison (``results``, ``p_values``, ``ceiling``, ``config``): mean ± std of the best network's
  test accuracy per algorithm x variant x dataset, the one-sided p-values, the paired differences
  (``paired``, ``holm``: Wilcoxon, bootstrap interval, Holm-adjusted p), the protocol ceiling with
  each mean's gap to it, the proxy scores and algorithm statistics per run, and the settings;
* a live search (``variants``, ``settings``): per variant the best and the mean ± std validation
  accuracy of its trials, the trials, training and proxy seconds and the best architecture, and the
  settings;
* a comparison's runs (runs.json beside the summary): one readable row per run (run, seed, variant,
  the primary metric, the best architecture shortened), every recorded column in a collapsed
  ``<details>`` block;
* the plots, and the environment (package versions, commit, Python, devices, data checksums) when
  the summary has one or the caller passes it.

The page's parts (``Section``, ``Table``, ``Cell``, ``Image``, ``Details``) and ``render`` live in
``gradsign_nas._report_html`` and are importable from here.

Example:
    >>> from gradsign_nas.report import write_report
    >>> write_report("compare-out", title="rs, rea on NAS-Bench-201",
    ...              images=["compare-out/curves.png"])          # doctest: +SKIP
    PosixPath('compare-out/report.html')
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

from ._report_html import Cell, Details, Image, PathLike, Section, Table, render
from ._report_verdict import answer_section, datasets_of, runs_section, verdicts

__all__ = [
    "REPORT_NAME",
    "Cell",
    "Details",
    "Image",
    "Section",
    "Table",
    "render",
    "sections_from_summary",
    "verdicts",
    "write_report",
]

REPORT_NAME = "report.html"

# -- from a summary to sections --------------------------------------------------------------------


def _n(x: Any, digits: int = 2) -> str:
    if x is None:
        return ""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "n/a" if math.isnan(x) else f"{x:.{digits}f}"


def _mean_std(c: Mapping) -> str:
    if not c or c.get("mean") is None:
        return ""
    return f"{_n(c['mean'])} ± {_n(c.get('std'))}"


def _p(p: Any) -> Cell:
    if p is None:
        return Cell("")
    from .stats import _fmt_p

    return Cell(_fmt_p(float(p)), strong=float(p) < 0.05)


def _value(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v).lower() if isinstance(v, bool) else "-"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _flat(d: Mapping, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, Mapping) and v:
            out += _flat(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v))
    return out


def _kv(d: Mapping, note: str = "") -> Table:
    return Table(("setting", "value"), [(k, _value(v)) for k, v in _flat(d)], note=note, align_numbers=False)


def _compare_sections(s: Mapping) -> list[Section]:
    results, n = s.get("results") or {}, s.get("n") or {}
    datasets = datasets_of(results)
    out = []
    rows = []
    for a, vs in results.items():
        for v, cells in vs.items():
            counts = sorted({c.get("n") for c in (n.get(a, {}).get(v) or {}).values() if c.get("n") is not None})
            rows.append((a, v, "/".join(str(c) for c in counts), *(_mean_std(cells.get(d)) for d in datasets)))
    budget = s.get("budget")
    out.append(
        Section(
            "Results",
            [
                Table(
                    ("algorithm", "variant", "runs", *datasets),
                    rows,
                    row_headers=2,
                    note="Test accuracy (%) of the best network each run found, mean ± std over the runs"
                    + (f", at a simulated budget of {_value(budget)} s per run" if budget is not None else "")
                    + ".",
                )
            ],
        )
    )

    prow = []
    pvals, spvals = s.get("p_values") or {}, s.get("strategy_p_values") or {}
    for a in dict.fromkeys([*pvals, *spvals]):
        if a in pvals:
            prow.append((a, "assisted > vanilla", *(_p(pvals[a].get(d)) for d in datasets)))
        for v, by in spvals.get(a, {}).items():
            for against, ps in by.items():
                prow.append((a, f"{v} > {against.removeprefix('vs_')}", *(_p(ps.get(d)) for d in datasets)))
    if prow:
        out.append(
            Section(
                "p-values",
                [
                    Table(
                        ("algorithm", "hypothesis", *datasets),
                        prow,
                        row_headers=2,
                        note="One-sided Mann-Whitney U test that the first variant's best-found accuracies are "
                        "stochastically greater than the second's; bold: p < 0.05.",
                    )
                ],
            )
        )

    out += _paired_sections(s, datasets)

    ceiling = s.get("ceiling") or {}
    if ceiling.get("test"):
        detail, found = s.get("ceiling_detail") or {}, ceiling.get("found") or {}
        crow = [
            (
                f"protocol ceiling (index {_value(ceiling.get('index'))})",
                "",
                *(_n(ceiling["test"].get(d)) for d in datasets),
                "",
            )
        ]
        for a, vs in (detail or found).items():
            for v, c in vs.items():
                gap = c.get("gap", {}) if isinstance(c, Mapping) else {}
                share = c.get("found") if isinstance(c, Mapping) else c
                crow.append(
                    (
                        a,
                        v,
                        *("" if gap.get(d) is None else f"{-float(gap[d]):+.2f}" for d in datasets),
                        "" if share is None else f"{100 * float(share):.1f} %",
                    )
                )
        out.append(
            Section(
                "Protocol ceiling",
                [
                    Table(
                        ("algorithm", "variant", *datasets, "runs that found it"),
                        crow,
                        row_headers=2,
                        note="The ceiling is the test accuracy of the network the protocol's search metric ranks first, "
                        "the best any search can report; below it, each mean's difference to it (percentage points).",
                    )
                ],
            )
        )

    proxy, stats = s.get("proxy_scores") or {}, s.get("algorithm_stats") or {}
    keys: list[str] = []
    for vs in stats.values():
        for d in vs.values():
            keys += [k for k in d if k not in keys]
    srow = []
    for a in dict.fromkeys([*proxy, *stats]):
        for v in dict.fromkeys([*proxy.get(a, {}), *stats.get(a, {})]):
            st = stats.get(a, {}).get(v, {})
            srow.append((a, v, _n(proxy.get(a, {}).get(v), 1), *(_n(st.get(k), 2) for k in keys)))
    if srow:
        out.append(
            Section(
                "Per-run statistics",
                [
                    Table(
                        ("algorithm", "variant", "proxy scores", *keys),
                        srow,
                        row_headers=2,
                        note="Means over the runs: proxy scores computed per run, and each algorithm's own statistics.",
                    )
                ],
            )
        )
    return out


def _paired_sections(s: Mapping, datasets: Sequence[str]) -> list[Section]:
    """The summary's ``paired``/``strategy_paired`` and ``holm`` (``gradsign_nas.stats.paired_keys``)."""
    pr, sp, h = s.get("paired") or {}, s.get("strategy_paired") or {}, s.get("holm") or {}
    rows = []

    def add(a: str, hyp: str, cells: Mapping, wx: Mapping, mw: Mapping) -> None:
        for d in datasets:
            c = cells.get(d)
            if c:
                lo, hi = c["ci95"]
                diff = f"{float(c['mean_diff']):+.2f} [{float(lo):+.2f}, {float(hi):+.2f}]"
                rows.append(
                    (a, hyp, d, c["n"], diff, _p(c["wilcoxon_p"]), _p(wx.get(d)), _p(c["wilcoxon_p_two_sided"]))
                    + (_p(mw.get(d)), _p(c["mann_whitney_p_two_sided"]))
                )

    for a in dict.fromkeys([*pr, *sp]):
        if a in pr:
            add(a, "assisted > vanilla", pr[a], h.get("paired", {}).get(a, {}), h.get("p_values", {}).get(a, {}))
        for v, by in sp.get(a, {}).items():
            for against, cells in by.items():
                wx = h.get("strategy_paired", {}).get(a, {}).get(v, {}).get(against, {})
                mw = h.get("strategy_p_values", {}).get(a, {}).get(v, {}).get(against, {})
                add(a, f"{v} > {against.removeprefix('vs_')}", cells, wx, mw)
    if not rows:
        return []
    survive = h.get("survive_0.05")
    header = ["algorithm", "hypothesis", "dataset", "pairs", "mean difference [95 % CI]", "Wilcoxon p"]
    header += ["Holm p", "Wilcoxon p two-sided", "Mann-Whitney Holm p", "Mann-Whitney p two-sided"]
    note = (
        "Paired by run (run r of every variant shares one seed): the mean per-run difference with a bootstrap "
        "95 % interval, the one-sided Wilcoxon signed-rank p and its Holm adjustment over every Wilcoxon p of "
        "this table, the Holm adjustment of the one-sided Mann-Whitney p over every p of the p-value table, and "
        "two-sided p-values (a one-sided p near 1 with a small two-sided p means worse, not level); bold: p < 0.05."
    )
    if survive is not None:
        note += " Claims that survive Holm at 0.05: " + ("; ".join(survive) if survive else "none") + "."
    return [Section("Paired differences", [Table(header, rows, row_headers=3, note=note)])]


def _search_sections(s: Mapping) -> list[Section]:
    settings = s.get("settings") or {}
    metric = str(s.get("metric") or "valid_acc")  # what the trials reported: valid_acc (%) or valid_loss
    label = metric.replace("_", " ")
    rows = []
    for v, r in (s.get("variants") or {}).items():
        curve = [float(x) for x in r.get("curve") or [] if x is not None]
        mean = r.get(f"mean_{metric}")
        std = statistics.pstdev(curve) if curve else None
        rows.append(
            (
                settings.get("algorithm", ""),
                v,
                settings.get("data", ""),
                _n(r.get(f"best_{metric}")),
                "" if mean is None else f"{_n(mean)} ± {_n(std)}",
                f"{_value(r.get('trials'))} ({_value(r.get('failed'))})",
                _n(r.get("train_s"), 1),
                _n(r.get("proxy_s"), 1),
                _value(r.get("best_arch")),
            )
        )
    what = "Validation accuracy (%)" if metric == "valid_acc" else f"The {label}"
    return [
        Section(
            "Results",
            [
                Table(
                    (
                        "algorithm",
                        "variant",
                        "data",
                        f"best {label}",
                        f"{label}, mean ± std",
                        "trials (failed)",
                        "training s",
                        "proxy s",
                        "best architecture",
                    ),
                    rows,
                    row_headers=2,
                    note=f"{what} of the networks each variant trained: the best, and mean ± std over its completed "
                    "trials.",
                )
            ],
        )
    ]


def sections_from_summary(
    summary: Mapping,
    images: Sequence[Image] = (),
    environment: Optional[Mapping] = None,
    missing: Sequence[str] = (),
    runs: Sequence[Mapping] = (),
) -> list[Section]:
    """The report's sections for a ``summary.json`` of ``compare`` (``results`` ...) or of a live
    ``search`` (``variants`` ...): the answer in words, results, p-values and ceiling where there are,
    the ``images`` (and a line naming the ``missing`` ones), the ``runs`` (runs.json's), the settings,
    and the environment (``environment``, else the summary's own)."""
    answer = answer_section(summary)
    out: list[Section] = [answer] if answer else []
    if "results" in summary:
        out += _compare_sections(summary)
    if "variants" in summary:
        out += _search_sections(summary)
    if images or missing:
        out.append(
            Section("Plots", [*images, *([f"Not written, so not shown: {', '.join(missing)}."] if missing else [])])
        )
    table = runs_section(summary, runs)
    out += [table] if table else []
    config = summary.get("config") or {}
    settings: dict = {
        k: summary[k]
        for k in ("runs", "budget")
        if k in summary and k not in config and not (k == "budget" and "budget_s" in config)
    }
    settings.update(config)
    settings.update(summary.get("settings") or {})
    for v, r in (summary.get("variants") or {}).items():
        if isinstance(r, Mapping) and r.get("dir"):
            settings[f"run directory ({v})"] = r["dir"]
    if "wall_s" in summary:
        settings["wall time (s)"] = _n(summary["wall_s"])
    if settings:
        out.append(Section("Settings", [_kv(settings)]))
    env = environment if environment is not None else summary.get("environment")
    if env:
        out.append(Section("Environment", [_kv(env)]))
    return out


def write_report(
    out_dir: PathLike,
    title: str,
    images: Iterable[PathLike] = (),
    *,
    summary: Optional[Mapping] = None,
    environment: Optional[Mapping] = None,
    subtitle: str = "",
    runs: Optional[Sequence[Mapping]] = None,
) -> Path:
    """Write ``out_dir/report.html`` (atomically) and return its path.

    ``summary``: the run's summary, by default read from ``out_dir/summary.json``, so the page shows
    exactly what that file holds. ``runs``: a comparison's runs, by default ``out_dir/runs.json``'s
    when there is one. ``images``: files to embed (their bytes, base64); a missing one is named in
    the page instead. ``environment``: the environment block when the summary has none.
    """
    from ._io import read_json_object, write_text_atomic

    out_dir = Path(out_dir)
    if summary is None:
        summary = read_json_object(out_dir / "summary.json", "a run summary") or {}
    if runs is None:
        recorded = (read_json_object(out_dir / "runs.json", "a comparison's runs") or {}).get("runs")
        runs = recorded if isinstance(recorded, list) else []
    embedded, missing = [], []
    for p in images:
        p = Path(p)
        if p.is_file():
            embedded.append(Image.from_file(p))
        else:
            missing.append(p.name)
    sections = sections_from_summary(summary, embedded, environment, missing, runs)
    path = out_dir / REPORT_NAME
    write_text_atomic(path, render(title, sections, subtitle))
    return path
