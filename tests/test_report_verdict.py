"""report.html says the answer: a verdict sentence per algorithm at the top whose numbers are
summary.json's, a readable per-run table with the raw columns in a collapsed <details> block, and K
and the proxy of the assistance (tabular, live comparison and live search). Plain HTML, no browser."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

import gradsign_nas
from gradsign_nas._report_verdict import short_arch
from gradsign_nas.report import REPORT_NAME, verdicts, write_report
from gradsign_nas.stats import _fmt_p

HOSTILE = '<script>alert("x")</script>'


class _Page(HTMLParser):
    """Per section (by its h2 title): its paragraphs, and the header cells of its tables outside and
    inside <details>; fails on a <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict = {}
        self.order: list = []
        self._tag: list = []
        self._text = ""
        self._details = 0
        self._current = None

    def handle_starttag(self, tag, attrs):
        assert tag != "script"
        if tag == "details":
            self._details += 1
        if tag in ("h2", "p", "th", "summary"):
            self._tag.append(tag)
            self._text = ""

    def handle_endtag(self, tag):
        if tag == "details":
            self._details -= 1
        if not self._tag or self._tag[-1] != tag:
            return
        self._tag.pop()
        text = self._text
        if tag == "h2":
            self._current = text
            self.order.append(text)
            self.sections[text] = {"p": [], "th": [], "details_th": [], "summary": []}
        elif self._current is not None:
            s = self.sections[self._current]
            key = {"p": "p", "summary": "summary"}.get(tag) or ("details_th" if self._details else "th")
            s[key].append(text)

    def handle_data(self, data):
        if self._tag:
            self._text += data


def page(out: Path) -> _Page:
    p = _Page()
    p.feed((out / REPORT_NAME).read_text(encoding="utf-8"))
    p.close()
    return p


@pytest.fixture(scope="module")
def tabular(data_path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("verdict") / "tabular"
    gradsign_nas.compare(
        algorithms=["rs", "rea"],
        runs=3,
        budget=2000,
        workers=1,
        no_progress=True,
        data_dir=str(data_path),
        out=str(out),
    )
    return out


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("verdict") / "live"
    gradsign_nas.compare(
        live=True,
        algorithms=["rs"],
        data="digits",
        runs=2,
        trials=2,
        epochs=1,
        C=4,
        N=1,
        k=3,
        no_ray=True,
        no_progress=True,
        out=str(out),
    )
    return out


def _check_verdicts(out: Path, metric: str, where: str, runs: int) -> list[str]:
    """Every verdict of ``out``'s report: first on the page, one per algorithm, its numbers summary.json's."""
    summary = json.loads((out / "summary.json").read_text())
    p = page(out)
    assert p.order[0] == "Answer"
    answer = p.sections["Answer"]["p"]
    assert answer[: len(summary["results"])] == verdicts(summary)
    for line, (a, vs) in zip(answer, summary["results"].items()):
        assert line.startswith(f"{a}: ") and f" on {where}: " in line and f"{runs} runs each" in line
        ma, mv = vs["assisted"][metric]["mean"], vs["vanilla"][metric]["mean"]
        p1 = summary["p_values"][a][metric]
        p2 = summary["paired"][a][metric]["mann_whitney_p_two_sided"]
        if p1 < 0.05:
            assert f"assisted found better networks than vanilla on {where}: {ma:.2f} vs {mv:.2f}" in line
            assert f"p = {_fmt_p(p1)} (one-sided" in line
            assert f"Holm p = {_fmt_p(summary['holm']['p_values'][a][metric])}" in line
        elif p2 < 0.05:
            assert "found better networks than" in line and f"two-sided p = {_fmt_p(p2)}" in line
        else:
            assert f"no significant difference between assisted and vanilla on {where}: " in line
            assert f"assisted {ma:.2f} vs vanilla {mv:.2f}" in line
            assert f"p = {_fmt_p(p1)} (one-sided" in line and f"two-sided p = {_fmt_p(p2)}" in line
    k, proxy = summary["config"]["k"], summary["config"]["proxy"]
    assert (
        f"Assistance: the proxy {proxy} ranks the candidates; the assisted variant evaluates the best-scored of K = {k}"
        in answer[-1]
    )
    return answer


def test_tabular_verdicts_match_summary_json(tabular):
    answer = _check_verdicts(tabular, "cifar10", "CIFAR-10", 3)
    assert any(line.startswith("The verdicts are about cifar10") for line in answer)


def test_runs_table_is_readable_and_the_raw_columns_are_collapsed(tabular):
    runs = json.loads((tabular / "runs.json").read_text())["runs"]
    with open(tabular / "runs.csv", newline="") as f:
        raw = next(csv.reader(f))
    s = page(tabular).sections["Runs"]
    head = ["algorithm", "run", "seed", "variant", "CIFAR-10 test accuracy (%)", "best architecture"]
    assert s["th"][:6] == head
    assert len(s["th"]) == 6 + 2 * len(runs)  # each row labelled by algorithm and run
    assert "best_index" not in s["th"] and "n_discarded" not in s["th"]
    assert set(raw) <= set(s["details_th"])  # runs.csv's 15 columns, and the rest, collapsed
    assert s["summary"][0].startswith(f"All {len(s['details_th'])} recorded columns of each run")
    html = (tabular / REPORT_NAME).read_text(encoding="utf-8")
    for r in runs:  # its variant, CIFAR-10 accuracy and shortened cell, as runs.json has them
        cells = f'<td>{r["variant"]}</td><td class="num">{r["cifar10"]:.2f}</td><td>{short_arch(r["best_arch"])}</td>'
        assert cells in html


def test_short_arch():
    arch = "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    assert short_arch(arch) == "conv3x3 / pool conv1x1 / skip none conv3x3"
    assert short_arch("x" * 100) == "x" * 63 + "…" and short_arch(None) == ""


def test_live_comparison_verdict_lists_k_and_the_proxy(live):
    summary = json.loads((live / "summary.json").read_text())
    assert summary["config"]["k"] == 3 and "final_test_acc" not in summary["results"]["rs"]["assisted"]
    _check_verdicts(live, "valid_acc", "digits", 2)
    s = page(live).sections
    assert "best validation accuracy (%)" in s["Runs"]["th"] and "valid_acc" in s["Runs"]["details_th"]


def test_live_search_report_lists_k_and_the_proxy(tmp_path):
    out = tmp_path / "search"
    r = gradsign_nas.search(
        data="digits", trials=2, epochs=1, C=4, N=1, k=4, no_ray=True, no_progress=True, out=str(out)
    )
    assert r.summary["settings"]["k"] == 4 and r.summary["settings"]["proxy"] == "gradsign"
    answer = page(out).sections["Answer"]["p"]
    for v, x in r.summary["variants"].items():
        assert f"{v} {x['best_valid_acc']:.2f}" in answer[0]
    assert "no test of a difference" in answer[0]
    assert "proxy gradsign" in answer[-1] and "K = 4" in answer[-1]


# -- constructed summaries: each branch of the rule ----------------------------------------------------


def _summary(p1, p2, ma=94.04, mv=93.74, n=100, holm=None, metric="cifar10", live=None) -> dict:
    cell = lambda m: {metric: {"mean": m, "std": 0.1}}  # noqa: E731
    s = {
        "results": {"rea": {"vanilla": cell(mv), "assisted": cell(ma)}},
        "n": {"rea": {"vanilla": {metric: {"n": n}}, "assisted": {metric: {"n": n}}}},
        "p_values": {"rea": {metric: p1}},
        "paired": {"rea": {metric: {"mann_whitney_p_two_sided": p2}}},
        "config": {"k": 10, "proxy": "gradsign", **(live or {})},
    }
    if holm is not None:
        s["holm"] = {"p_values": {"rea": {metric: holm}, "rs": {metric: 1.0}}}
    return s


def test_no_significant_difference():
    (line,) = verdicts(_summary(0.31, 0.62, 93.80, 93.74))
    assert line == (
        "rea: no significant difference between assisted and vanilla on CIFAR-10: assisted 93.80 vs vanilla "
        "93.74 % mean test accuracy, p = 0.310 (one-sided Mann-Whitney U, that assisted is better; two-sided "
        "p = 0.620), 100 runs each."
    )


def test_assisted_better_and_holm():
    (line,) = verdicts(_summary(2e-15, 4e-15))
    assert line == (
        "rea: assisted found better networks than vanilla on CIFAR-10: 94.04 vs 93.74 % mean test accuracy, "
        "p = 2.0e-15 (one-sided Mann-Whitney U), 100 runs each."
    )
    (line,) = verdicts(_summary(0.02, 0.04, holm=0.08))
    assert "p = 0.020 (one-sided" in line
    assert line.endswith(
        "It does not survive the Holm correction over the comparison's 2 one-sided tests (Holm p = 0.080): take it as a hint, not a finding."
    )
    (line,) = verdicts(_summary(0.001, 0.002, holm=0.002))
    assert line.endswith("It survives the Holm correction over the comparison's 2 one-sided tests (Holm p = 0.002).")


def test_vanilla_better_from_the_two_sided_p():
    (line,) = verdicts(_summary(0.999, 0.003, ma=93.50, mv=93.90, n=20))
    assert line.startswith("rea: vanilla found better networks than assisted on CIFAR-10: 93.90 vs 93.50 %")
    assert "two-sided p = 0.003" in line and "20 runs each" in line


def test_loss_is_better_when_lower_and_final_test_acc_is_primary():
    live = {"live": True, "data": "digits"}
    (line,) = verdicts(_summary(0.01, 0.02, ma=0.40, mv=0.30, metric="valid_loss", live=live))
    assert line.startswith(
        "rea: vanilla found better networks than assisted on digits: 0.30 vs 0.40 mean best validation loss"
    )
    s = _summary(0.5, 1.0, live=live)
    for v, m in (("assisted", 91.0), ("vanilla", 90.0)):
        s["results"]["rea"][v]["final_test_acc"] = {"mean": m, "std": 0.0}
    s["p_values"]["rea"]["final_test_acc"] = 0.01
    (line,) = verdicts(s)
    assert "on digits: 91.00 vs 90.00 % mean final test accuracy, p = 0.010" in line


def test_verdict_text_is_escaped(tmp_path):
    s = _summary(0.5, 1.0)
    s["results"] = {HOSTILE: s["results"]["rea"]}
    s["p_values"] = {HOSTILE: s["p_values"]["rea"]}
    del s["paired"]  # a summary without the paired statistics: no two-sided p to quote
    html = write_report(
        tmp_path, "t", summary=s, runs=[{"algorithm": HOSTILE, "run": 0, "best_arch": "<b>"}]
    ).read_text()
    assert "<script>" not in html and "<b>" not in html
    assert page(tmp_path).sections["Answer"]["p"][0].startswith(f"{HOSTILE}: no significant difference")


def test_no_pair_to_judge_still_names_the_assistance():
    s = _summary(0.5, 1.0)
    s["results"]["rea"] = {"vanilla": s["results"]["rea"]["vanilla"], "warmup": s["results"]["rea"]["assisted"]}
    assert verdicts(s) == []
    from gradsign_nas._report_verdict import answer_section

    section = answer_section(s)
    assert section is not None and section.parts[0].startswith("No verdict: no algorithm ran both")
    assert "K = 10" in section.parts[-1]
