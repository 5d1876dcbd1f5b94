"""The top of ``report.html`` in words, and its runs as a person reads them.

``answer_section``: one verdict sentence per algorithm, assisted against vanilla on the comparison's
primary metric (a tabular comparison: its first dataset, e.g. cifar10; a live one: ``final_test_acc``
when measured, else the search's reward, e.g. ``valid_acc``), with both means, the p-value, the
runs, and whether the claim survives the Holm correction; then the proxy and K of the assistance. A
live search (one run per variant) gets its best results and a line saying that one search per
variant tests nothing.

``runs_section``: one row per run (algorithm, run, seed, variant, the primary metric, the best
architecture shortened), and every recorded column of runs.json in a collapsed ``<details>`` block.

The rule of a verdict, at ``ALPHA`` = 0.05, with the summary's one-sided Mann-Whitney U p that
assisted is greater (``p_values``) and the two-sided one (``paired``'s ``mann_whitney_p_two_sided``):

* one-sided p < ALPHA: the variant that metric's direction favours found better networks (assisted,
  or vanilla for a loss), quoted with that p and its Holm-adjusted p (``holm``) when there is one;
* else a two-sided p < ALPHA: the variant with the better mean found better networks, quoted with the
  two-sided p (a one-sided p near 1 with a small two-sided p means worse, not level);
* else "no significant difference", quoted with both p-values.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, Optional, Sequence

from ._report_html import Details, Section, Table

__all__ = ["ALPHA", "answer_section", "datasets_of", "primary_metric", "runs_section", "short_arch", "verdicts"]

ALPHA = 0.05
#: rows of the runs table (and of its raw block) shown at most; the rest are in runs.csv / runs.json
MAX_ROWS = 1000
NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet16-120"}
_OPS = {
    "none": "none",
    "skip_connect": "skip",
    "nor_conv_1x1": "conv1x1",
    "nor_conv_3x3": "conv3x3",
    "avg_pool_3x3": "pool",
}
_NB201 = re.compile(r"\|[^|~+]+~\d+(\|[^|~+]+~\d+)*\|(\+\|[^|~+]+~\d+(\|[^|~+]+~\d+)*\|)*")


def _fmt_p(p: float) -> str:
    from .stats import _fmt_p as fmt

    return "n/a" if math.isnan(p) else fmt(p)


def _num(x: Any) -> Optional[float]:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def datasets_of(results: Mapping) -> list[str]:
    """The "datasets" (metrics) of a comparison's ``results``, in their first order."""
    seen: list[str] = []
    for vs in results.values():
        for cells in vs.values():
            seen += [d for d in cells if d not in seen]
    return seen


def primary_metric(summary: Mapping) -> Optional[str]:
    """The metric a comparison's verdict is about: ``final_test_acc`` when measured, else the first."""
    ds = datasets_of(summary.get("results") or {})
    return "final_test_acc" if "final_test_acc" in ds else (ds[0] if ds else None)


def _is_live(summary: Mapping) -> bool:
    return bool((summary.get("config") or {}).get("live"))


def _what(summary: Mapping, d: str) -> tuple[str, str, str, bool]:
    """``(where, unit after the means, column label, higher is better)`` of metric ``d``."""
    if not _is_live(summary):
        name = NAMES.get(d, d)
        return name, " % mean test accuracy", f"{name} test accuracy (%)", True
    data = str((summary.get("config") or {}).get("data") or "the data")
    if d == "final_test_acc":
        return data, " % mean final test accuracy", "final test accuracy (%)", True
    label = re.sub(r"\bacc$", "accuracy", re.sub(r"^valid ", "validation ", d.replace("_", " ")))
    if d.endswith("loss"):
        return data, f" mean best {label}", f"best {label}", False
    return data, f" % mean best {label} (the search's reward)", f"best {label} (%)", True


def _count(summary: Mapping, a: str, v: str, d: str) -> Optional[int]:
    c = ((summary.get("n") or {}).get(a, {}).get(v) or {}).get(d) or {}
    n = c.get("n") if isinstance(c, Mapping) else None
    return int(n) if n is not None else (int(summary["runs"]) if isinstance(summary.get("runs"), int) else None)


def _runs(na: Optional[int], nv: Optional[int]) -> str:
    if na is None or nv is None:
        return "runs as in the Results table"
    return f"{na} run{'s' if na != 1 else ''} each" if na == nv else f"{na} assisted and {nv} vanilla runs"


def _holm(holm: Mapping, a: str, d: str) -> str:
    """The Holm clause of a claim that rests on the one-sided Mann-Whitney p of ``a`` on ``d``."""
    hp = _num((holm.get("p_values") or {}).get(a, {}).get(d))
    if hp is None:
        return ""
    tests = sum(
        1
        for key in ("p_values", "strategy_p_values")
        for _path, p in _leaves(holm.get(key) or {})
        if _num(p) is not None
    )
    over = f"the Holm correction over the comparison's {tests} one-sided tests (Holm p = {_fmt_p(hp)})"
    if hp < ALPHA:
        return f" It survives {over}."
    return f" It does not survive {over}: take it as a hint, not a finding."


def _leaves(tree: Mapping, path: tuple = ()) -> Iterable[tuple[tuple, Any]]:
    for k, v in tree.items():
        if isinstance(v, Mapping):
            yield from _leaves(v, (*path, k))
        else:
            yield (*path, k), v


def verdicts(summary: Mapping) -> list[str]:
    """One sentence per algorithm of a comparison's summary: did assisted or vanilla find better
    networks on the primary metric, both means, the p-value and the runs (the module's rule)."""
    d = primary_metric(summary)
    if d is None:
        return []
    where, unit, _label, higher = _what(summary, d)
    pvals, paired, holm = summary.get("p_values") or {}, summary.get("paired") or {}, summary.get("holm")
    out = []
    for a, vs in (summary.get("results") or {}).items():
        if "assisted" not in vs or "vanilla" not in vs:
            continue
        ma, mv = _num((vs["assisted"].get(d) or {}).get("mean")), _num((vs["vanilla"].get(d) or {}).get("mean"))
        p1 = _num(pvals.get(a, {}).get(d))
        if ma is None or mv is None or p1 is None:
            out.append(f"{a}: no test of assisted against vanilla on {where}: too few runs with a result.")
            continue
        p2 = _num((paired.get(a, {}).get(d) or {}).get("mann_whitney_p_two_sided"))
        runs = _runs(_count(summary, a, "assisted", d), _count(summary, a, "vanilla", d))
        two = "" if p2 is None else f"; two-sided p = {_fmt_p(p2)}"
        if p1 < ALPHA:  # assisted greater: better for an accuracy, worse for a loss
            first, second = ("assisted", "vanilla") if higher else ("vanilla", "assisted")
            m1, m2 = (ma, mv) if higher else (mv, ma)
            hyp = "" if higher else ", that assisted's is higher"
            s = (
                f"{first} found better networks than {second} on {where}: {m1:.2f} vs {m2:.2f}{unit}, "
                f"p = {_fmt_p(p1)} (one-sided Mann-Whitney U{hyp}), {runs}."
            )
            s += _holm(holm, a, d) if isinstance(holm, Mapping) else ""
        elif p2 is not None and p2 < ALPHA and ma != mv:
            assisted_better = (ma > mv) == higher
            first, second = ("assisted", "vanilla") if assisted_better else ("vanilla", "assisted")
            m1, m2 = (ma, mv) if assisted_better else (mv, ma)
            s = (
                f"{first} found better networks than {second} on {where}: {m1:.2f} vs {m2:.2f}{unit}, "
                f"two-sided p = {_fmt_p(p2)} (Mann-Whitney U; the one-sided p that assisted's is higher is "
                f"{_fmt_p(p1)}), {runs}."
            )
        else:
            hyp = "that assisted's is higher" if not higher else "that assisted is better"
            s = (
                f"no significant difference between assisted and vanilla on {where}: assisted {ma:.2f} vs vanilla "
                f"{mv:.2f}{unit}, p = {_fmt_p(p1)} (one-sided Mann-Whitney U, {hyp}{two}), {runs}."
            )
        out.append(f"{a}: {s}")
    return out


def _assistance(summary: Mapping) -> Optional[str]:
    """The line naming the proxy and K, from the summary's ``config`` or ``settings``."""
    cfg = {**(summary.get("config") or {}), **(summary.get("settings") or {})}
    k, proxy = cfg.get("k"), cfg.get("proxy")
    if k is None and proxy is None:
        return None
    parts = []
    if proxy is not None:
        parts.append(f"the proxy {proxy} ranks the candidates")
    if k is not None:
        parts.append(f"the assisted variant evaluates the best-scored of K = {k} candidates per proposal")
    return "Assistance: " + "; ".join(parts) + "."


def _search_lines(summary: Mapping) -> list[str]:
    """A live search's answer: its best results per variant, and that one search per variant tests nothing."""
    settings, variants = summary.get("settings") or {}, summary.get("variants") or {}
    metric = str(summary.get("metric") or "valid_acc")
    final = any(_num((r or {}).get("final_test_acc")) is not None for r in variants.values())
    key = "final_test_acc" if final else f"best_{metric}"
    label = "final test accuracy (%)" if final else f"best {metric.replace('valid_', 'validation ').replace('_', ' ')}"
    got = [f"{v} {_num(r.get(key)):.2f}" for v, r in variants.items() if _num((r or {}).get(key)) is not None]
    if not got:
        return []
    who = f"{settings.get('algorithm', 'the search')} on {settings.get('data', 'the data')}"
    return [
        f"{who}, {label}: {', '.join(got)}. One search per variant is one sample each, no test of a difference: "
        "gradsign-nas compare --live runs several seeds and tests it."
    ]


def answer_section(summary: Mapping) -> Optional[Section]:
    """The page's first section: the verdicts (or a live search's results) and the assistance line."""
    lines = verdicts(summary) if "results" in summary else _search_lines(summary)
    if not lines and summary.get("results"):
        lines = ["No verdict: no algorithm ran both assisted and vanilla; the tables below compare the variants."]
    if not lines:
        return None
    d = primary_metric(summary)
    if d is not None and "results" in summary:
        others = [x for x in datasets_of(summary.get("results") or {}) if x != d]
        note = f"The verdicts are about {d}, at p < {ALPHA:g}"
        note += f"; {', '.join(others)}: see the tables below." if others else "."
        lines.append(note)
    assist = _assistance(summary)
    return Section("Answer", [*lines, *([assist] if assist else [])])


def short_arch(arch: Any, limit: int = 64) -> str:
    """A NAS-Bench-201 cell in words, its nodes' input edges separated by " / " (e.g. "conv3x3 / pool
    conv3x3 / skip conv3x3 conv1x1"); any other architecture as given, cut at ``limit`` characters."""
    if arch is None:
        return ""
    s = str(arch)
    if _NB201.fullmatch(s):
        nodes = [re.findall(r"([^|~+]+)~\d+", node) for node in s.split("+")]
        return " / ".join(" ".join(_OPS.get(op, op) for op in ops) for ops in nodes)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _raw(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v).lower()
    if isinstance(v, float):
        return f"{v:.8g}"
    return str(v)


def _flat(row: Mapping, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in row.items():
        if isinstance(v, Mapping):
            if not str(k).endswith("trajectory"):  # curves: in runs.json and the plots
                out.update(_flat(v, f"{prefix}{k}."))
        elif not isinstance(v, (list, tuple)):
            out[f"{prefix}{k}"] = v
    return out


def runs_section(summary: Mapping, rows: Sequence[Mapping]) -> Optional[Section]:
    """The runs of a comparison (runs.json's ``runs``): a readable table, and every column collapsed."""
    rows = [r for r in rows if isinstance(r, Mapping)]
    if not rows:
        return None
    d = primary_metric(summary) or "cifar10"
    label = _what(summary, d)[2]
    algos = list(dict.fromkeys(str(r.get("algorithm")) for r in rows))
    variants = list(dict.fromkeys(str(r.get("variant")) for r in rows))

    def order(r: Mapping) -> tuple:
        run = r.get("run")
        return (
            algos.index(str(r.get("algorithm"))),
            run if isinstance(run, int) else 0,
            variants.index(str(r.get("variant"))),
        )

    rows = sorted(rows, key=order)
    shown = rows[:MAX_ROWS]
    more = f" The first {MAX_ROWS} of {len(rows)} runs; every one is in runs.json." if len(rows) > MAX_ROWS else ""
    value = [_num(r.get(d)) for r in shown]
    table = Table(
        ("algorithm", "run", "seed", "variant", label, "best architecture"),
        [
            (
                r.get("algorithm"),
                r.get("run"),
                r.get("seed"),
                r.get("variant"),
                "" if x is None else f"{x:.2f}",
                short_arch(r.get("best_arch")),
            )
            for r, x in zip(shown, value)
        ],
        note="One row per search: run r of every variant shares one seed. The best architecture's nodes are "
        "separated by /, each node's input edges in order." + more,
        row_headers=2,
    )
    flat = [_flat(r) for r in shown]
    cols = list(dict.fromkeys(k for f in flat for k in f))
    raw = Table(cols, [[_raw(f.get(c)) for c in cols] for f in flat], row_headers=0)
    files = "runs.json (runs.csv for a spreadsheet)" if not _is_live(summary) else "runs.json"
    return Section("Runs", [table, Details(f"All {len(cols)} recorded columns of each run, as in {files}", [raw])])
