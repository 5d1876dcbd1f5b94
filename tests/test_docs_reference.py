"""The reference pages agree with the code: the generated CLI reference names every option of every
command, and docs/reference/files.md lists exactly the keys a real run writes."""

import argparse
import importlib.util
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT, data_dir

DOCS = ROOT / "docs"
FILES_MD = DOCS / "reference" / "files.md"


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parsers(parser: argparse.ArgumentParser, words=()):
    """``(command words, parser)`` of the program and every subcommand below it."""
    yield list(words), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*words, name))


def _sections(markdown: str) -> dict[str, str]:
    """The generated reference split at its ``## `gradsign-nas ...` `` headings."""
    parts = re.split(r"^## `([^`]+)`$", markdown, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


# -- the command line ------------------------------------------------------------------------------
def test_cli_reference_names_every_option_of_every_command():
    from gradsign_nas.cli import build_parser

    parser = build_parser()
    sections = _sections(_hooks().cli_markdown(parser))
    commands = list(_parsers(parser))
    assert len(commands) > 5
    assert set(sections) == {" ".join([parser.prog, *words]) for words, _ in commands}
    for words, p in commands:
        text = sections[" ".join([parser.prog, *words])]
        assert p.format_usage().split()[1] in text  # the usage line names the program
        for action in p._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            names = action.option_strings or [action.dest]
            for name in names:
                assert re.search(rf"`(?:[^`]*, )?{re.escape(name)}\b", text), f"{name} of {words} is not listed"
            for choice in action.choices or ():
                assert f"`{choice}`" in text, f"choice {choice} of {names[-1]} ({words}) is not listed"
            if action.help:
                first = re.escape(action.help.split()[0].replace("_", "\\_"))
                assert re.search(first, text), f"the help of {names[-1]} ({words}) is missing"


def test_cli_reference_replaces_the_placeholder_of_its_page():
    hooks = _hooks()
    page_text = (DOCS / "reference" / "cli.md").read_text()
    assert page_text.count(hooks.PLACEHOLDER) == 1

    class Page:
        class file:
            src_uri = hooks.PAGE

    out = hooks.on_page_markdown(page_text, Page, None, None)
    assert hooks.PLACEHOLDER not in out and "## `gradsign-nas table-search`" in out

    class Other:
        class file:
            src_uri = "index.md"

    assert hooks.on_page_markdown(hooks.PLACEHOLDER, Other, None, None) == hooks.PLACEHOLDER


# -- the files a run writes ------------------------------------------------------------------------
def _table(heading: str) -> dict[str, str]:
    """``{key: presence}`` of the table under ``heading`` in files.md (presence ``"always"`` for a
    table without a Present column); a cell naming several keys gives each."""
    text = FILES_MD.read_text()
    start = text.index(f"\n{heading}\n")
    rows: dict[str, str] = {}
    header = None
    for line in text[start + len(heading) + 2 :].splitlines():
        if line.startswith("#"):
            break
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if header is None:
            header = cells
            continue
        if set(cells[0]) <= {"-", " "}:
            continue
        present = cells[header.index("Present")] if "Present" in header else "always"
        for key in re.findall(r"`([^`]+)`", cells[0]):
            rows[key] = present
    assert rows, f"no table under {heading!r} in {FILES_MD}"
    return rows


def _check(actual: dict, documented: dict[str, str], what: str) -> None:
    undocumented = set(actual) - set(documented)
    assert not undocumented, f"{what} holds keys files.md does not list: {sorted(undocumented)}"
    missing = {k for k, p in documented.items() if p == "always"} - set(actual)
    assert not missing, f"files.md says {what} always holds {sorted(missing)}, but it does not"


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    import gradsign_nas

    out = tmp_path_factory.mktemp("docs-ref") / "t"
    gradsign_nas.table_search(
        variants="vanilla,assisted", budget=2000, out=str(out), data_dir=str(data_dir()), no_progress=True
    )
    return out


def test_run_json_keys_are_documented(table_run):
    documented = _table("### `run.json` of a table search")
    environment = _table("### environment")
    for variant in ("vanilla", "assisted"):
        info = json.loads((table_run / f"rea-{variant}" / "run.json").read_text())
        _check(info, documented, f"run.json of a table search ({variant})")
        _check(info["environment"], environment, "run.json's environment")
        if variant == "assisted":
            assisted = {k for k, p in documented.items() if p == "assisted variants"}
            assert assisted and assisted <= set(info)


def test_history_record_keys_are_documented(table_run):
    from gradsign_nas.results import RECORD_FIELDS, read_history

    documented = _table("### History records")
    extra = _table("### `extra` of a table search's record")
    assert set(documented) == set(RECORD_FIELDS)
    records = [r for v in ("vanilla", "assisted") for r in read_history(table_run / f"rea-{v}")]
    assert records and any(r["proxy"] is not None for r in records)
    for rec in records:
        _check(rec, documented, "a history record")
        _check(rec["extra"], extra, "a table search record's extra")


def test_best_json_keys_are_documented(table_run):
    documented = _table("### `best.json`")
    for variant in ("vanilla", "assisted"):
        best = json.loads((table_run / f"rea-{variant}" / "best.json").read_text())
        _check(best, documented, "best.json")
        assert "test" in best and documented["test"] == "table searches"
        assert "model" not in best and documented["model"] == "live searches"


def test_table_search_summary_keys_are_documented(table_run):
    summary = json.loads((table_run / "summary.json").read_text())
    top = _table("### table-search")
    assert set(summary) == set(top)
    text = FILES_MD.read_text()
    block = text[text.index("Each variant's result:", text.index("### table-search")) :]
    each = {
        k for line in block.split("\n\n")[1].splitlines()[2:] for k in re.findall(r"`([^`]+)`", line.split(" | ")[0])
    }
    for result in summary["variants"].values():
        assert set(result) == each


def test_compare_summary_keys_are_documented(tmp_path):
    import gradsign_nas

    r = gradsign_nas.compare(
        algorithms="rea",
        runs=2,
        budget=2000,
        workers=1,
        out=str(tmp_path / "c"),
        data_dir=str(data_dir()),
        no_progress=True,
    )
    summary = json.loads((Path(r.out) / "summary.json").read_text())
    _check(summary, _table("### compare"), "compare's summary.json")


@pytest.fixture(scope="module")
def live_run(tmp_path_factory):
    import gradsign_nas

    out = tmp_path_factory.mktemp("docs-ref") / "s"
    gradsign_nas.search(trials=2, epochs=1, no_ray=True, out=str(out), no_progress=True)
    return out


def test_live_search_files_are_documented(live_run):
    from gradsign_nas.results import read_history

    run_json, best_json = _table("### `run.json` of a live search"), _table("### `best.json`")
    records, extra = _table("### History records"), _table("### `extra` of a live trial's record")
    extra_always = {k: p for k, p in extra.items() if p != "Ray trials"}  # trials here run without Ray
    for variant in ("vanilla", "assisted"):
        d = live_run / f"rea-{variant}"
        info = json.loads((d / "run.json").read_text())
        _check(info, run_json, f"run.json of a live search ({variant})")
        _check(info["model"], _table("### model"), "run.json's model")
        best = json.loads((d / "best.json").read_text())
        _check(best, best_json, "best.json of a live search")
        assert "model" in best and best["weights"] == "best_model.pt" and (d / "best_model.pt").is_file()
        for rec in read_history(d):
            _check(rec, records, "a live search's history record")
            _check(rec["extra"], extra_always, "a live trial record's extra")


def test_live_search_summary_keys_are_documented(live_run):
    summary = json.loads((live_run / "summary.json").read_text())
    _check(summary, _table("### search"), "a live search's summary.json")
    each = _table("Each variant's result (`<metric>` is the metric's name, e.g. `best_valid_acc`):")
    each = {k.replace("<metric>", summary["metric"]): p for k, p in each.items()}
    for result in summary["variants"].values():
        _check(result, each, "a live search's result per variant")
