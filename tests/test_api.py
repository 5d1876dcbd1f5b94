"""The Python API and the command line read the same: one option vocabulary across every command,
and each API function returns what its command prints with ``--json``."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

import gradsign_nas
from gradsign_nas.api import configs
from gradsign_nas.api._vocabulary import OPTIONS
from gradsign_nas.cli import build_parser, main

#: options of the command line itself, not of a run (help, config file, verbosity) and of `data`
CLI_OWN = {"-h", "--help", "--config", "-v", "--verbose", "-q", "--quiet", "--version", "--timeout", "--mirror"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_one_name_one_meaning_one_default_across_commands():
    seen: dict[str, tuple] = {}
    for command, p in _commands().items():
        for a in p._actions:
            for flag in a.option_strings:
                if flag in CLI_OWN:
                    continue
                name = a.dest
                assert name in OPTIONS, f"{command} {flag} is not in the option table (api/_vocabulary.py)"
                o = OPTIONS[name]
                assert flag == o.flag, f"{command}: option {name} spelled {flag}, the table says {o.flag}"
                meaning = (a.default, a.type, tuple(a.choices) if a.choices else None, a.help)
                assert meaning == (o.default, None if o.switch else o.type, o.choices, o.help), (command, flag)
                if flag in seen:
                    assert seen[flag][1] == meaning, f"{flag} means one thing in {seen[flag][0]}, another in {command}"
                seen[flag] = (command, meaning)
    assert {"--train-batch-size", "--score-batch-size", "--variants", "--device", "--scores"} <= set(seen)
    assert "--batch-size" not in seen and "--variant" not in seen


def test_configs_take_their_defaults_from_the_table_and_document_every_field():
    for cls in (
        configs.SearchConfig,
        configs.TableSearchConfig,
        configs.CompareConfig,
        configs.CorrelateConfig,
        configs.ScoreSpaceConfig,
    ):
        for f in dataclasses.fields(cls):
            assert f.default == OPTIONS[f.name].default, (cls.__name__, f.name)
            assert f"{f.name}: {OPTIONS[f.name].help}" in cls.__doc__
        with pytest.raises(dataclasses.FrozenInstanceError):
            cls().seed = 3  # type: ignore[misc]
    assert configs.CompareConfig(algorithms=["rs", "rea"]).algorithms == "rs,rea"
    for fn in ("search", "table_search", "compare", "correlate", "score_space"):
        assert "Returns:" in getattr(gradsign_nas, fn).__doc__


def test_unknown_or_misplaced_options_are_refused():
    with pytest.raises(gradsign_nas.InputError, match="trails"):
        gradsign_nas.compare(trails=3)
    with pytest.raises(gradsign_nas.InputError, match="--budget is an option of table searches"):
        gradsign_nas.compare(live=True, budget=100.0)
    with pytest.raises(gradsign_nas.InputError, match="--trials is an option of live comparisons"):
        gradsign_nas.compare(trials=3)
    with pytest.raises(gradsign_nas.InputError, match="--algorithms"):
        gradsign_nas.compare(algorithms="rs,nope")


def test_device_cuda_without_a_gpu_is_one_sentence(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    for argv in (
        ["correlate", "--device", "cuda", "--out", str(tmp_path / "c")],
        ["search", "--device", "cuda", "--no-ray", "--out", str(tmp_path / "s")],
        ["compare", "--live", "--device", "cuda:1", "--no-ray", "--out", str(tmp_path / "l")],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: expected a CUDA GPU") and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir())


def _json_line(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_compare_in_python_equals_the_command(data_path, tmp_path, capsys, monkeypatch):
    r = gradsign_nas.compare(algorithms=["rea"], runs=5, seed=3, workers=1, budget=3000.0, no_progress=True)
    assert r.out is None and not any(tmp_path.iterdir())  # no out: nothing written
    argv = ["compare", "--algorithms", "rea", "--runs", "5", "--seed", "3", "--workers", "1", "--budget", "3000"]
    assert main([*argv, "--json", "--no-progress", "--out", str(tmp_path / "c")]) == 0
    line = _json_line(capsys)
    assert r.summary["results"]["rea"]["assisted"] == line["results"]["rea"]["assisted"]
    assert r.summary["p_values"] == line["p_values"]
    assert r.summary["paired"] == line["paired"] and set(r.summary["paired"]["rea"]["cifar10"]) >= {"n", "ci95"}
    holm = r.summary["holm"]
    assert all(holm["p_values"]["rea"][d] >= p for d, p in r.summary["p_values"]["rea"].items())
    assert all(holm["paired"]["rea"][d] >= c["wilcoxon_p"] for d, c in r.summary["paired"]["rea"].items())
    assert "Wilcoxon p" in r.table
    on_disk = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert on_disk["results"] == r.summary["results"] and on_disk["config"] == r.summary["config"]
    frame = r.to_pandas()
    assert len(frame) == 10 and set(frame["variant"]) == {"vanilla", "assisted"}
    bare = tmp_path / "bare"  # the command without --out: the same answer, nothing written
    bare.mkdir()
    monkeypatch.chdir(bare)
    assert main([*argv, "--json", "--no-progress", "--data-dir", str(data_path)]) == 0
    assert _json_line(capsys)["results"] == line["results"] and not any(bare.iterdir())


def test_table_search_in_python_equals_the_command(data_path, tmp_path, capsys):
    r = gradsign_nas.table_search(algorithm="rs", variants="vanilla,assisted", seed=2, budget=3000.0)
    assert main(["table-search", "--algorithm", "rs", "--seed", "2", "--budget", "3000", "--json"]) == 0
    assert r.summary == _json_line(capsys)
    assert r.best["assisted"]["test"]["cifar10"] == r.summary["variants"]["assisted"]["test"]["cifar10"]
    out = tmp_path / "t"
    r2 = gradsign_nas.table_search(algorithm="rs", variants="assisted", seed=2, budget=3000.0, out=str(out))
    assert r2.summary["variants"]["assisted"] == r.summary["variants"]["assisted"]
    assert json.loads((out / "summary.json").read_text()) == r2.summary
    frame = r2.to_pandas()
    assert (frame["status"] == "completed").sum() == r2.summary["variants"]["assisted"]["evaluations"]


def test_bohb_options_reach_the_algorithm(data_path):
    r = gradsign_nas.table_search(algorithm="bohb", variants="vanilla", algorithm_options="preset=ours", budget=3000.0)
    assert r.summary["variants"]["vanilla"]["evaluations"] > 0
    with pytest.raises(gradsign_nas.InputError, match="nope"):
        gradsign_nas.table_search(algorithm="bohb", algorithm_options="nope=1")


def test_search_in_python_equals_the_command(tmp_path, capsys):
    kw = dict(trials=2, epochs=1, no_ray=True, limit=300, no_progress=True)
    r = gradsign_nas.search(out=str(tmp_path / "py"), **kw)
    argv = ["search", "--trials", "2", "--epochs", "1", "--no-ray", "--limit", "300", "--no-progress", "--json"]
    assert main([*argv, "--out", str(tmp_path / "cli")]) == 0
    line = _json_line(capsys)
    for v in ("vanilla", "assisted"):
        a, b = r.summary["variants"][v], line["variants"][v]
        assert (a["best_arch"], a["curve"]) == (b["best_arch"], b["curve"])
    assert json.loads((tmp_path / "py" / "summary.json").read_text()) == r.summary
    assert r.best["assisted"]["arch"] == r.summary["variants"]["assisted"]["best_arch"]
    assert len(r.to_pandas()) == 4


def test_correlate_in_python_equals_the_command(data_path, tmp_path, capsys):
    kw = dict(proxy="synflow", scores="table", sample=50, seed=1)
    r = gradsign_nas.correlate(out=str(tmp_path / "py"), **kw)
    argv = ["correlate", "--proxy", "synflow", "--scores", "table", "--sample", "50", "--seed", "1", "--json"]
    assert main([*argv, "--out", str(tmp_path / "cli")]) == 0
    line = _json_line(capsys)
    assert {k: v for k, v in r.summary.items() if k != "seconds"} == {k: v for k, v in line.items() if k != "seconds"}
    assert len(r.to_pandas()) == 50 and r.summary["n"] == 50


def test_algorithm_options_from_the_command_line_and_a_config_file_reach_the_algorithm(data_path, tmp_path, capsys):
    from gradsign_nas import algorithms
    from gradsign_nas.benchmarks import NB201TabularEvaluator
    from gradsign_nas.execution import SimulatedExecutor

    ev = NB201TabularEvaluator.from_directory(data_path)
    direct = SimulatedExecutor(algorithms.get("bohb", ev.space, 4, fidelities=(12,), preset="ours"), ev, 3000).run()
    argv = ["table-search", "--algorithm", "bohb", "--variants", "vanilla", "--seed", "4", "--budget", "3000"]
    assert main([*argv, "--algorithm-options", "preset=ours", "--json"]) == 0
    assert _json_line(capsys)["variants"]["vanilla"]["best_arch"] == direct.best_arch
    config = tmp_path / "c.toml"
    config.write_text(
        'algorithm = "bohb"\nvariants = "vanilla"\nseed = 4\nbudget = 3000\n[algorithm_options]\npreset = "ours"\n'
    )
    out = tmp_path / "run"
    assert main(["table-search", "--config", str(config), "--out", str(out), "--json"]) == 0
    assert _json_line(capsys)["variants"]["vanilla"]["best_arch"] == direct.best_arch
    recorded = json.loads((out / "bohb-vanilla" / "run.json").read_text())
    assert recorded["algorithm_options"] == {"preset": "ours"}
    assert main(["table-search", "--config", str(out / "bohb-vanilla" / "run.json"), "--out", str(out), "--json"]) == 0
    assert _json_line(capsys)["variants"]["vanilla"]["resumed_records"] > 0  # the record repeats the run
    assert main([*argv, "--algorithm-options", "preset=nope"]) == 2
    assert "preset" in capsys.readouterr().err
