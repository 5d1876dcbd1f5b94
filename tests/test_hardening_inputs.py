"""Hardening, second pass (issue 23): a refused resume leaves its run folder as it found it; config
files, data files and output paths are checked like the command line, before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import data_dir

from gradsign_nas.cli import main


def _snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes (and every folder, as ``None``)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


# -- item 4: a refused resume changes nothing ---------------------------------------------------------
@pytest.fixture
def recorded_table_run(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["table-search", "--variants", "vanilla", "--budget", "3000", "--seed", "4", "--out", str(out)]
    argv += ["--data-dir", str(data_dir())]
    assert main(argv) == 0
    capsys.readouterr()
    return out, argv


def _edit_metric(run: Path) -> None:
    path = run / "rea-vanilla" / "history.jsonl"
    lines = path.read_text().splitlines()
    rec = json.loads(lines[2])
    lines[2] = json.dumps(dict(rec, metric=99.99))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("tamper", ["edited metric", "foreign seed", "foreign seed, run.json missing"])
def test_a_refused_resume_leaves_every_file_as_it_was(recorded_table_run, tamper, tmp_path, capsys):
    out, argv = recorded_table_run
    run = out / "rea-vanilla"
    if tamper == "edited metric":
        _edit_metric(out)
    else:  # the history of a run with another seed, under this run's settings
        other = tmp_path / "other"
        other_argv = [a if a != "4" else "5" for a in argv]
        other_argv[other_argv.index("--out") + 1] = str(other)
        assert main(other_argv) == 0
        capsys.readouterr()
        (run / "history.jsonl").write_bytes((other / "rea-vanilla" / "history.jsonl").read_bytes())
        if tamper.endswith("missing"):
            (run / "run.json").unlink()
    before = _snapshot(out)
    assert main(argv) == 2
    _one_error(capsys)
    assert _snapshot(out) == before


@pytest.mark.parametrize("corruption", ["100k-deep line", "extra a list", "told_before text", "line repeated"])
def test_a_corrupt_history_line_is_one_sentence_and_changes_nothing(recorded_table_run, corruption, capsys):
    out, argv = recorded_table_run
    path = out / "rea-vanilla" / "history.jsonl"
    lines = path.read_text().splitlines()
    rec = json.loads(lines[1])
    if corruption == "100k-deep line":
        lines[1] = json.dumps(dict(rec, extra={})).replace("{}", "[" * 100_000 + "]" * 100_000)
    elif corruption == "extra a list":
        lines[1] = json.dumps(dict(rec, extra=[1, 2]))
    elif corruption == "told_before text":
        lines[1] = json.dumps(dict(rec, told_before="one"))
    else:
        lines.insert(2, lines[1])
    path.write_text("\n".join(lines) + "\n")
    before = _snapshot(out)
    assert main(argv) == 2
    err = _one_error(capsys)
    assert "history.jsonl" in err and ("line 2" in err or "line 3" in err), err
    assert len(err) < 400
    assert _snapshot(out) == before
