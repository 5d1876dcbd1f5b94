"""``gradsign-nas correlate``: outputs, the JSON line, the cache, and bad input."""

import csv
import json

import numpy as np
import pytest

from gradsign_nas import cli, scoring
from gradsign_nas.correlation import correlate, sample_indices

#: what --json printed before it printed summary.json's whole object (still part of it)
JSON_KEYS = {"space", "dataset", "proxy", "n", "spearman", "kendall", "seconds"}


def _argv(data_path, out, *extra):
    return [
        "correlate",
        "--space",
        "nb201",
        "--dataset",
        "cifar10",
        "--proxy",
        "gradsign",
        "--sample",
        "6",
        "--seed",
        "2",
        "--score-batch-size",
        "8",
        "--data-dir",
        str(data_path),
        "--out",
        str(out),
        "--json",
        "--workers",
        "1",
        "--no-progress",
        *extra,
    ]


def test_correlate_writes_outputs_and_second_run_hits_the_cache(data_path, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert cli.main(_argv(data_path, out)) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert JSON_KEYS | {"metric", "seed", "batch_size"} <= set(result)
    assert result == json.loads((out / "summary.json").read_text())  # --json prints summary.json's object
    assert result["seed"] == 2 and result["batch_size"] == 8
    assert result["n"] == 6 and -1 <= result["spearman"] <= 1 and -1 <= result["kendall"] <= 1
    with open(out / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["index", "arch", "score", "accuracy", "seconds"]
    assert [int(r["index"]) for r in rows] == list(sample_indices(15625, 6, 2))
    expect = correlate([float(r["score"]) for r in rows], [float(r["accuracy"]) for r in rows])
    assert result["spearman"] == pytest.approx(expect.spearman)
    assert (out / "scatter.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary leftovers

    monkeypatch.setattr(scoring, "_score_one", lambda *a: pytest.fail("a cached architecture was scored again"))
    out2 = tmp_path / "out2"
    assert cli.main(_argv(data_path, out2)) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["spearman"] == result["spearman"] and again["kendall"] == result["kendall"]
    assert (out2 / "scores.csv").read_text() == (out / "scores.csv").read_text()


def test_sample_is_seeded_and_without_replacement():
    a, b, c = sample_indices(15625, 50, 1), sample_indices(15625, 50, 1), sample_indices(15625, 50, 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and len(set(a.tolist())) == 50
    assert np.array_equal(sample_indices(10, None, 0), np.arange(10))


@pytest.mark.parametrize(
    "change",
    [
        ["--proxy", "no_such_proxy"],
        ["--space", "no_such_space"],
        ["--dataset", "svhn"],
        ["--sample", "1"],
        ["--sample", "20000"],
        ["--data-dir", "{missing}"],
        ["--space", "nb101", "--dataset", "cifar100"],
        ["--dataset", "cifar100", "--score-batch-size", "101"],
    ],
)
def test_bad_input_exits_2_with_one_sentence_and_writes_nothing(data_path, tmp_path, capsys, change):
    out = tmp_path / "out"
    argv = _argv(data_path, out)
    for flag, value in zip(change[::2], change[1::2]):
        argv[argv.index(flag) + 1] = value.format(missing=tmp_path / "nothing-here")
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert "unrecognized arguments" not in err[0]  # refused for the value, not for an unknown option
    assert not out.exists()


def test_out_that_is_a_file_is_refused(data_path, tmp_path, capsys):
    out = tmp_path / "file"
    out.write_text("keep me")
    assert cli.main(_argv(data_path, out)) == 2
    assert out.read_text() == "keep me"
