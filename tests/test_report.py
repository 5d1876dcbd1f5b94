"""report.html: one self-contained page of a compare or live search, checked as HTML (parses, escapes
hostile text, loads nothing from elsewhere) and in a real headless Chromium (the tables show the
numbers of summary.json and results.md, every plot is loaded and drawn).

The browser test needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)
and selenium (the ``test`` extra). Without them it fails when the environment variable CI is true (so
CI really runs it) and is skipped otherwise.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gradsign_nas.cli import main
from gradsign_nas.report import REPORT_NAME, write_report

DATASETS = ["cifar10", "cifar100", "ImageNet16-120"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
HOSTILE = '<script>alert("x")</script>'


# -- fixtures: one small compare and one tiny live search --------------------------------------------


@pytest.fixture(scope="module")
def compare_out(data_path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "compare"
    assert (
        main(
            [
                "compare",
                "--algorithms",
                "rs,rea",
                "--runs",
                "3",
                "--budget",
                "2000",
                "--workers",
                "1",
                "--no-progress",
                "--data-dir",
                str(data_path),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def search_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "search"
    assert main(["search", "--trials", "2", "--epochs", "1", "--no-ray", "--no-progress", "--out", str(out)]) == 0
    return out


# -- plain HTML checks (no browser) ------------------------------------------------------------------


class _Page(HTMLParser):
    """Tags, attributes and text of a page; fails on an end tag that closes nothing open."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.decl, self.starts, self.stack, self.text, self.errors = [], [], [], [], []

    def handle_decl(self, decl):
        self.decl.append(decl)

    def handle_starttag(self, tag, attrs):
        self.starts.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.starts.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    assert page.decl == ["DOCTYPE html"] and text.startswith("<!DOCTYPE html>")
    assert not page.errors and not page.stack, (page.errors, page.stack)
    tags = [t for t, _ in page.starts]
    assert tags[:2] == ["html", "head"] and tags.count("html") == tags.count("body") == tags.count("title") == 1
    assert ("meta", {"charset": "utf-8"}) in page.starts and "script" not in tags
    for tag, attrs in page.starts:  # nothing from elsewhere: images are data URLs, links point inside the page
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        assert tag not in ("link", "iframe", "object", "embed"), tag
        if "src" in attrs:
            assert attrs["src"].startswith("data:image/png;base64,"), attrs["src"][:40]
        if "href" in attrs:
            assert attrs["href"].startswith("#"), attrs["href"]
    return page


def embedded_images(page: _Page) -> list[bytes]:
    return [base64.b64decode(a["src"].split(",", 1)[1], validate=True) for t, a in page.starts if t == "img"]


def test_hostile_text_is_escaped_and_the_page_parses(tmp_path, compare_out):
    png = compare_out / "curves.png"
    summary = {
        "runs": 2,
        "budget": 100.0,
        "results": {
            HOSTILE: {
                "vanilla": {"cifar10": {"mean": 93.456, "std": 0.1}},
                "assisted": {"cifar10": {"mean": 94.0, "std": 0.25}},
            }
        },
        "p_values": {HOSTILE: {"cifar10": 0.0004}},
        "strategy_p_values": {"rea": {"warmup": {"vs_vanilla": {"cifar10": 0.25}, "vs_assisted": {"cifar10": 0.5}}}},
        "ceiling": {"index": 7, "test": {"cifar10": 94.37}, "found": {HOSTILE: {"vanilla": 0.5}}},
        "config": {"proxy": '"><img src=x onerror=alert(1)>', "algorithms": [HOSTILE, "rea & co"]},
        "settings": {"data": "</td></tr></table><b>bold</b>"},
        "variants": {
            "vanilla": {
                "best_valid_acc": 61.234,
                "mean_valid_acc": 60.0,
                "curve": [59.0, 61.0],
                "trials": 2,
                "failed": 0,
                "best_arch": "|nor_conv_3x3~0|<&>|",
            }
        },
        "environment": {"packages": {"x": "1.0 <b>"}, "git_commit": "'quoted'"},
    }
    path = write_report(tmp_path, f"title {HOSTILE}", [png, tmp_path / "never.png"], summary=summary, subtitle="a < b")
    assert path == tmp_path / REPORT_NAME
    raw = path.read_text(encoding="utf-8")
    page = parse(raw)
    assert "<script" not in raw.lower() and "<b>" not in raw and "<img src=x" not in raw
    text = "".join(page.text)
    for s in (
        HOSTILE,
        '"><img src=x onerror=alert(1)>',
        "</td></tr></table><b>bold</b>",
        "|nor_conv_3x3~0|<&>|",
        "1.0 <b>",
        "'quoted'",
        "title " + HOSTILE,
        "a < b",
        "rea & co",
        "never.png",
    ):
        assert s in text, s  # shown as text, exactly
    assert "93.46 ± 0.10" in text and "94.00 ± 0.25" in text and "4.0e-04" in text and "94.37" in text
    assert "warmup > vanilla" in text and "warmup > assisted" in text and "0.250" in text
    assert "61.23" in text and "60.00 ± 1.00" in text and "50.0 %" in text
    assert embedded_images(page) == [png.read_bytes()]  # the same bytes, and a missing plot only named
    assert [p.name for p in tmp_path.iterdir()] == [REPORT_NAME]  # written atomically: no temporary left


def test_compare_and_search_write_a_report_with_their_plot(compare_out, search_out):
    for out, plot in ((compare_out, "curves.png"), (search_out, "live_search.png")):
        page = parse((out / REPORT_NAME).read_text(encoding="utf-8"))
        assert embedded_images(page) == [(out / plot).read_bytes()]
        assert sum(t == "table" for t, _ in page.starts) >= 3  # results, settings, environment
        assert "packages.torch" in "".join(page.text)
    assert not [p for d in (compare_out, search_out) for p in d.iterdir() if p.name.startswith(".")]


# -- in a real browser -------------------------------------------------------------------------------


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium under selenium; missing parts fail under CI=true, else skip."""
    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    driver_path = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    missing = [
        name for name, ok in (("chromium", chromium), ("chromedriver", driver_path), ("selenium", webdriver)) if not ok
    ]
    if missing:
        why = f"the browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver; pip install selenium)"
        if _ci():
            pytest.fail(why + ", and CI is set")
        pytest.skip(why)
    opts = Options()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _open(driver, path: Path) -> None:
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"


def _table(driver, section: str) -> dict:
    """``{row labels: [cell texts]}`` of the table under the heading ``section``."""
    from selenium.webdriver.common.by import By

    tables = driver.find_elements(By.XPATH, f"//section[h2='{section}']//table")
    assert len(tables) == 1, section
    assert tables[0].is_displayed()
    rows = {}
    for tr in tables[0].find_elements(By.CSS_SELECTOR, "tbody tr"):
        label = tuple(th.text for th in tr.find_elements(By.TAG_NAME, "th"))
        rows[label] = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
    return rows


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _check_images(driver, plots: list[Path]) -> None:
    state = driver.execute_script(
        "return Array.from(document.images).map(i => { i.scrollIntoView(); const r = i.getBoundingClientRect();"
        " return [i.complete, i.naturalWidth, i.naturalHeight, r.width, r.height]; });"
    )
    assert len(state) == len(plots)
    for (complete, nw, nh, w, h), plot in zip(state, plots):
        assert complete and nw > 0 and nh > 0 and w > 0 and h > 0, (plot.name, complete, nw, nh, w, h)
        assert (nw, nh) == _png_size(plot.read_bytes())  # the plot's own pixels, decoded
    external = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:'));"
    )
    assert external == [] and driver.execute_script("return document.scripts.length") == 0


def _md_rows(md: str) -> dict:
    """``{(first cell, second cell): [other cells]}`` of results.md's table rows."""
    out = {}
    for line in md.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            out[(cells[0], cells[1])] = cells[2:]
    return out


def test_compare_report_in_a_browser(browser, compare_out):
    _open(browser, compare_out / REPORT_NAME)
    assert browser.title.startswith("gradsign-nas compare")
    summary = json.loads((compare_out / "summary.json").read_text())
    md = _md_rows((compare_out / "results.md").read_text())

    results = _table(browser, "Results")
    assert len(results) == 4
    for a, vs in summary["results"].items():
        for v, cells in vs.items():
            row = results[(a, v)]
            assert row[0] == "3"  # runs
            want = [f"{cells[d]['mean']:.2f} ± {cells[d]['std']:.2f}" for d in DATASETS]
            assert row[1:] == want == [c.replace("+-", "±") for c in md[(a, v)]]

    pvals = _table(browser, "p-values")
    for a in summary["p_values"]:
        assert pvals[(a, "assisted > vanilla")] == md[(a, "p (assisted > vanilla)")]
        assert all(re.fullmatch(r"\d\.\d{3}|\d\.\de-\d\d", p) for p in pvals[(a, "assisted > vanilla")])

    ceiling = _table(browser, "Protocol ceiling")
    head = next(k for k in ceiling if k[0].startswith("protocol ceiling"))
    assert head[0] == f"protocol ceiling (index {summary['ceiling']['index']})"
    assert ceiling[head][:3] == [f"{summary['ceiling']['test'][d]:.2f}" for d in DATASETS]
    for a, vs in summary["ceiling_detail"].items():
        for v, c in vs.items():
            assert ceiling[(a, v)] == [f"{-c['gap'][d]:+.2f}" for d in DATASETS] + [f"{100 * c['found']:.1f} %"]
            assert ceiling[(a, v)] == md[(a, f"{v}: gap, found")]

    settings = {k[0]: v[0] for k, v in _table(browser, "Settings").items()}
    assert settings["algorithms"] == "rs, rea" and settings["runs"] == "3" and settings["budget_s"] == "2000"
    env = {k[0]: v[0] for k, v in _table(browser, "Environment").items()}
    assert env["packages.numpy"] == summary["environment"]["packages"]["numpy"]
    _check_images(browser, [compare_out / "curves.png"])


def test_search_report_in_a_browser(browser, search_out):
    _open(browser, search_out / REPORT_NAME)
    assert browser.title.startswith("gradsign-nas search")
    summary = json.loads((search_out / "summary.json").read_text())
    metric = summary.get("metric", "valid_acc")
    results = _table(browser, "Results")
    assert set(results) == {("rea", v) for v in summary["variants"]}
    for v, r in summary["variants"].items():
        row = results[("rea", v)]
        assert row[0] == "digits" and row[1] == f"{r[f'best_{metric}']:.2f}"
        assert row[2].startswith(f"{r[f'mean_{metric}']:.2f} ± ")
        assert row[3] == f"{r['trials']} ({r['failed']})" and row[-1] == r["best_arch"]
    settings = {k[0]: v[0] for k, v in _table(browser, "Settings").items()}
    assert settings["trials"] == "2" and settings["epochs"] == "1" and settings["algorithm"] == "rea"
    assert "packages.torch" in {k[0] for k in _table(browser, "Environment")}
    _check_images(browser, [search_out / "live_search.png"])
