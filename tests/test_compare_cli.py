"""`gradsign-nas compare` and `gradsign-nas search` on NB201's tables: outputs, resume, bad input."""

import json
from importlib import resources

import pytest

from gradsign_nas.benchmarks import NB201Benchmark
from gradsign_nas.cli import main

DATASETS = ["cifar10", "cifar100", "ImageNet16-120"]


@pytest.fixture(scope="module")
def table(data_path, tmp_path_factory):
    """A user score table: the CIFAR-10 test accuracy itself as the 'proxy'."""
    b = NB201Benchmark(data_path)
    path = tmp_path_factory.mktemp("scores") / "oracle.json"
    path.write_text(json.dumps(dict(zip(b.archs, b.column("cifar10_test").tolist()))))
    return path


def compare(data_path, out, *extra):
    return main(
        [
            "compare",
            "--space",
            "nb201",
            "--algorithms",
            "rs,rea",
            "--runs",
            "4",
            "--budget",
            "3000",
            "--seed",
            "3",
            "--data-dir",
            str(data_path),
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
            *extra,
        ]
    )


def test_compare_json_line_and_files(data_path, table, tmp_path, capsys):
    assert compare(data_path, tmp_path / "out", "--json", "--score-table", str(table)) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(line) == {"runs", "budget", "results", "p_values", "ceiling", "proxy_scores", "paired", "holm"}
    assert line["proxy_scores"]["rs"]["vanilla"] == 0 and line["proxy_scores"]["rs"]["assisted"] > 10
    assert line["ceiling"]["index"] == 13714  # the highest cifar10-valid 12-epoch reward
    assert line["ceiling"]["test"]["cifar10"] == pytest.approx(94.37, abs=0.01)
    assert all(0 <= f <= 1 for vs in line["ceiling"]["found"].values() for f in vs.values())
    assert line["runs"] == 4 and line["budget"] == 3000
    assert set(line["results"]) == {"rs", "rea"} and set(line["p_values"]) == {"rs", "rea"}
    for algo in ("rs", "rea"):
        assert set(line["results"][algo]) == {"vanilla", "assisted"}
        for variant in ("vanilla", "assisted"):
            assert set(line["results"][algo][variant]) == set(DATASETS)
            assert set(line["results"][algo][variant]["cifar10"]) == {"mean", "std"}
        assert set(line["p_values"][algo]) == set(DATASETS)
        assert all(0 <= p <= 1 for p in line["p_values"][algo].values())
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {
        "results.md",
        "results.csv",
        "runs.csv",
        "runs.json",
        "summary.json",
        "curves.png",
        "report.html",
    }
    runs = json.loads((out / "runs.json").read_text())["runs"]
    assert len(runs) == 2 * 2 * 4
    rs_van = [r["cifar10"] for r in runs if r["algorithm"] == "rs" and r["variant"] == "vanilla"]
    assert line["results"]["rs"]["vanilla"]["cifar10"]["mean"] == pytest.approx(sum(rs_van) / 4)
    # same seed, same numbers
    assert compare(data_path, tmp_path / "again", "--json", "--score-table", str(table)) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == line


def test_search_prints_records_and_resumes(data_path, table, tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "table-search",
        "--data-dir",
        str(data_path),
        "--algorithm",
        "rea",
        "--variants",
        "assisted",
        "--score-table",
        str(table),
        "--budget",
        "4000",
        "--seed",
        "2",
        "--out",
        str(out),
    ]
    assert main(args + ["--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary) == {"algorithm", "seed", "budget", "variants"} and list(summary["variants"]) == ["assisted"]
    assert json.loads((out / "summary.json").read_text()) == summary
    first = summary["variants"]["assisted"]
    run = out / "rea-assisted"
    best = json.loads((run / "best.json").read_text())
    assert best["arch"] == first["best_arch"] and best["index"] == first["best_index"]
    lines = (run / "history.jsonl").read_text().splitlines(keepends=True)
    (run / "history.jsonl").write_text("".join(lines[:5]) + lines[5][:10])  # killed mid-write
    assert main(args + ["--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["variants"]["assisted"]
    assert again["resumed_records"] == 5
    assert {k: v for k, v in again.items() if k != "resumed_records"} == {
        k: v for k, v in first.items() if k != "resumed_records"
    }
    assert json.loads((run / "best.json").read_text()) == best
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert first["best_arch"] in printed and "cifar100 test accuracy" in printed


def _bad_cases(data_path, table, tmp_path):
    other_space = tmp_path / "other.json"
    other_space.write_text(json.dumps({"input-conv3x3-output": 1.0}))
    d = ["--data-dir", str(data_path)]
    return {
        "unknown algorithm": ["compare", "--algorithms", "rs,annealing", *d],
        "budget": ["compare", "--budget", "0", *d],
        "negative budget": ["table-search", "--budget", "-5", *d],
        "nan budget": ["table-search", "--budget", "nan", *d],
        "space without a table": ["table-search", "--space", "nb101", *d],
        "data-dir without cifar10": ["search", "--space", "nb101", *d],
        "C on another space": ["search", "--space", "nats_size", "--C", "4"],
        "ray option with --no-ray": ["search", "--no-ray", "--scheduler", "asha"],
        "nan lr": ["search", "--lr", "nan"],
        "negative lr": ["search", "--lr", "-1"],
        "k 0 in a live search": ["search", "--k", "0"],
        "unknown proxy": ["search", "--proxy", "nope"],
        "variants": ["search", "--variants", ","],
        "k": ["compare", "--k", "0", *d],
        "missing score table": ["compare", "--score-table", str(tmp_path / "nope.json"), *d],
        "arch from another space": ["table-search", "--score-table", str(other_space), *d],
        "fidelities": ["table-search", "--fidelities", "3", *d],
        "missing data": ["compare", "--data-dir", str(tmp_path / "no-data"), "--variants", "vanilla"],
    }


@pytest.mark.parametrize(
    "case",
    [
        "unknown algorithm",
        "budget",
        "negative budget",
        "nan budget",
        "space without a table",
        "data-dir without cifar10",
        "C on another space",
        "ray option with --no-ray",
        "nan lr",
        "negative lr",
        "k 0 in a live search",
        "unknown proxy",
        "variants",
        "k",
        "missing score table",
        "arch from another space",
        "fidelities",
        "missing data",
    ],
)
def test_bad_input_one_sentence_exit_2_nothing_written(data_path, table, tmp_path, capsys, case):
    out = tmp_path / "out"
    argv = _bad_cases(data_path, table, tmp_path)[case] + ["--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0]
    assert not out.exists()


def test_missing_packaged_table_is_a_clear_error(data_path, tmp_path, capsys):
    if resources.files("gradsign_nas").joinpath("tables", "nb201_gradsign.npz").is_file():
        pytest.skip("the packaged GradSign table exists")
    assert compare(data_path, tmp_path / "out") == 2
    assert "missing score table" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_resume_with_other_settings_changes_nothing(data_path, tmp_path, capsys):
    out = tmp_path / "run"
    base = [
        "table-search",
        "--data-dir",
        str(data_path),
        "--variants",
        "vanilla",
        "--budget",
        "2000",
        "--out",
        str(out),
    ]
    assert main(base + ["--seed", "1"]) == 0

    def files():
        return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    before = files()
    assert {"summary.json", "rea-vanilla/history.jsonl", "rea-vanilla/best.json"} <= set(before)
    capsys.readouterr()
    assert main(base + ["--seed", "2"]) == 2
    assert "other seed" in capsys.readouterr().err
    assert files() == before


def test_a_bug_keeps_its_traceback_and_exits_1(monkeypatch, capsys):
    """Only the toolkit's own errors are usage errors; a ValueError from a bug is not hidden."""
    from gradsign_nas.commands import table_search

    def broken(args):
        raise ValueError("an internal bug")

    monkeypatch.setattr(table_search, "run", broken)
    with pytest.raises(ValueError, match="internal bug"):
        main(["table-search"])


def test_every_option_has_help():
    from gradsign_nas.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        for action in p._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help text"


def test_search_validates_before_writing(capsys, tmp_path):
    """The live search validates every option before writing anything."""
    out = tmp_path / "live"
    assert main(["search", "--trials", "0", "--out", str(out)]) == 2
    assert "--trials" in capsys.readouterr().err
    assert not out.exists()
    assert main(["search", "--space", "nats_size", "--epochs", "0", "--out", str(out)]) == 2
    assert "--epochs" in capsys.readouterr().err
    assert not out.exists()


def test_compare_strategies_all_keys_each_strategy_as_a_variant(data_path, tmp_path, capsys):
    from gradsign_nas import strategies

    assert (
        main(
            [
                "compare",
                "--algorithms",
                "rs,reinforce,bohb",
                "--runs",
                "3",
                "--budget",
                "3000",
                "--seed",
                "1",
                "--data-dir",
                str(data_path),
                "--out",
                str(tmp_path / "s"),
                "--workers",
                "1",
                "--no-progress",
                "--strategies",
                "all",
                "--json",
            ]
        )
        == 0
    )
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    names = {"vanilla", "assisted", *strategies.available()}
    for algo in ("rs", "reinforce", "bohb"):
        assert set(line["results"][algo]) == names and set(line["proxy_scores"][algo]) == names
        assert set(line["ceiling"]["found"][algo]) == names
        for s in strategies.available():
            by = line["strategy_p_values"][algo][s]
            assert set(by) == {"vs_vanilla", "vs_assisted"} and set(by["vs_assisted"]) == set(DATASETS)
        assert line["proxy_scores"][algo]["vanilla"] == 0
        assert line["proxy_scores"][algo]["warmup"] >= 30 * 10  # the warm-up's M scores were asked for
    md = (tmp_path / "s" / "results.md").read_text()
    assert "p (warmup > assisted)" in md and "p (adaptive > vanilla)" in md
    # a bad strategy name: one sentence, exit 2, nothing written
    assert (
        main(
            [
                "compare",
                "--runs",
                "2",
                "--data-dir",
                str(data_path),
                "--out",
                str(tmp_path / "bad"),
                "--strategies",
                "warmup,sideways",
            ]
        )
        == 2
    )
    assert "sideways" in capsys.readouterr().err and not (tmp_path / "bad").exists()
