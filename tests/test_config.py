"""--config FILE (TOML or JSON): settings from a file, the command line overriding them; a run's own
run.json repeats the run; run.json and summary.json record the environment."""

import json

import pytest

from gradsign_nas.cli import main


def _history(run_dir):
    return [json.loads(x) for x in (run_dir / "history.jsonl").read_text().splitlines()]


def _same(a, b):
    keys = ("arch", "fidelity", "status", "metric", "proxy")  # cost_s of a live trial is its wall time
    return [{k: r[k] for k in keys} for r in a] == [{k: r[k] for k in keys} for r in b]


def test_toml_config_with_command_line_override(data_path, tmp_path, capsys):
    cfg = tmp_path / "compare.toml"
    cfg.write_text(
        f'algorithms = "rs,rea"\nruns = 3\nbudget = 2000\nworkers = 1\nno-progress = true\n'
        f'data_dir = "{data_path}"\nout = "{tmp_path / "c"}"\n'
    )
    assert main(["compare", "--config", str(cfg), "--runs", "2", "--json"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["runs"] == 2 and line["budget"] == 2000 and set(line["results"]) == {"rs", "rea"}
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    env = summary["environment"]
    assert env["packages"]["gradsign-nas"] and env["python"] and env["cpu_count"] >= 1
    assert set(env["data"]) == {"nb201_test", "nb201_valid200", "nb201_hp12"}


def test_bad_config_files_end_in_one_sentence(data_path, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    for text, says in (('runz = 3\nout = "x"\n', "unknown setting 'runz'"), ("runs = [\n", "TOML"), ("[1, 2]", None)):
        bad.write_text(text)
        path = bad if says != None else tmp_path / "bad.json"  # noqa: E711
        path.write_text(text)
        assert main(["compare", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and (says is None or says in err[0])
    assert main(["compare", "--config", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_live_search_rerun_from_its_run_json(tmp_path):
    out = tmp_path / "first"
    assert (
        main(
            [
                "search",
                "--variants",
                "vanilla",
                "--trials",
                "3",
                "--epochs",
                "1",
                "--no-ray",
                "--no-progress",
                "--seed",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    run_json = out / "rea-vanilla" / "run.json"
    info = json.loads(run_json.read_text())
    assert info["request"]["trials"] == 3 and info["environment"]["packages"]["torch"]
    again = tmp_path / "again"
    assert main(["search", "--config", str(run_json), "--out", str(again), "--no-progress"]) == 0
    assert _same(_history(out / "rea-vanilla"), _history(again / "rea-vanilla"))
    best = [json.loads((d / "rea-vanilla" / "best.json").read_text()) for d in (out, again)]
    assert best[0]["arch"] == best[1]["arch"] and best[0]["metric"] == best[1]["metric"]
    # the same file for another command is refused
    assert main(["table-search", "--config", str(run_json)]) == 2


def test_table_search_rerun_from_its_run_json(data_path, tmp_path):
    out = tmp_path / "t"
    assert (
        main(
            [
                "table-search",
                "--algorithm",
                "bohb",
                "--budget",
                "3000",
                "--seed",
                "2",
                "--data-dir",
                str(data_path),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert {p.name for p in out.iterdir()} == {"bohb-vanilla", "bohb-assisted", "summary.json"}
    again = tmp_path / "t2"
    run_json = out / "bohb-assisted" / "run.json"  # its variant becomes --variants assisted
    assert (
        main(["table-search", "--config", str(run_json), "--data-dir", str(data_path), "--out", str(again), "--json"])
        == 0
    )
    assert {p.name for p in again.iterdir()} == {"bohb-assisted", "summary.json"}
    first, second = out / "bohb-assisted", again / "bohb-assisted"
    assert _same(_history(first), _history(second)) and len(_history(first)) > 5
    assert json.loads((second / "run.json").read_text())["algorithm"] == "bohb"
    assert list(json.loads((again / "summary.json").read_text())["variants"]) == ["assisted"]


def test_config_values_are_checked_like_their_options(data_path, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    for text, says in (
        ('no_progress = "yes"\n', "no_progress in {} to be true or false"),
        ("sim_workers = 2.5\n", "sim_workers in {} to be an integer"),
        ('seed = "many"\n', "seed in {} to be an integer, but got 'many'"),
        ('budget = "soon"\n', "budget in {} to be a number, but got 'soon'"),
        ("budget = true\n", "budget in {} to be a number"),
        ("proxy = 3\n", "proxy in {} to be a text"),
        ('executor = "cloud"\n', "executor in {} to be one of simulated, ray"),
    ):
        bad.write_text(text)
        assert main(["table-search", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says.format(bad) in err[0], (text, err)
    good = tmp_path / "good.toml"  # lists as TOML arrays, numbers as text, a table of algorithm options
    good.write_text(
        'variants = ["vanilla"]\nbudget = "1500"\nno_progress = true\n[algorithm_options]\npopulation_size = 5\n'
    )
    d = ["--data-dir", str(data_path), "--out", str(tmp_path / "g"), "--json"]
    assert main(["table-search", "--config", str(good), *d]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(summary["variants"]) == ["vanilla"] and summary["budget"] == 1500
    assert not (tmp_path / "o").exists()


def test_verbose_and_quiet_logging(data_path, tmp_path, capsys):
    d = ["--budget", "1500", "--data-dir", str(data_path)]
    assert main(["table-search", *d, "--out", str(tmp_path / "v"), "-v"]) == 0
    err = capsys.readouterr().err
    assert "DEBUG gradsign_nas.execution.driver: evaluation 0 completed" in err
    assert main(["table-search", *d, "--out", str(tmp_path / "q"), "-q"]) == 0
    assert "DEBUG" not in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # one or the other: argparse's usage error
        main(["table-search", *d, "-v", "-q"])
    assert e.value.code == 2


def test_live_search_minimising_valid_loss_keeps_tune_logs(tmp_path):
    """--metric valid_loss: the best is the lowest loss, the algorithm learns from -loss, and Tune's
    CSV / JSON / TensorBoard files of every trial stay in <run>/tune/trial-<ask>/."""
    out = tmp_path / "loss"
    assert (
        main(
            [
                "search",
                "--variants",
                "vanilla",
                "--trials",
                "3",
                "--epochs",
                "2",
                "--metric",
                "valid_loss",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    run = out / "rea-vanilla"
    recs = [r for r in _history(run) if r["status"] == "completed"]
    assert len(recs) == 3 and all(r["metric"] == r["extra"]["valid_loss"] for r in recs)
    best = json.loads((run / "best.json").read_text())
    assert best["metric"] == min(r["metric"] for r in recs)
    assert json.loads((run / "run.json").read_text())["mode"] == "min"
    trials = sorted(p.name for p in (run / "tune").iterdir())
    assert trials == ["trial-00000", "trial-00001", "trial-00002"]
    for t in trials:
        header, *rows = (run / "tune" / t / "progress.csv").read_text().splitlines()
        assert "valid_loss" in header.split(",") and "training_iteration" in header.split(",") and len(rows) == 2
        assert list((run / "tune" / t).glob("events.out.tfevents.*"))  # TensorBoard
    summary = json.loads((out / "summary.json").read_text())
    assert summary["variants"]["vanilla"]["best_valid_loss"] == best["metric"]
    # its run.json repeats it (the recorded mode follows from the metric): every trial replayed
    recorded = _history(run)
    assert main(["search", "--config", str(run / "run.json"), "--out", str(out), "--no-progress"]) == 0
    assert _history(run) == recorded and json.loads((run / "best.json").read_text()) == best


def test_a_minimising_run_tells_algorithms_the_negative_and_ranks_low_first(tmp_path):
    from gradsign_nas.algorithms import Result
    from gradsign_nas.algorithms.random_search import RandomSearch
    from gradsign_nas.execution.driver import Driver
    from gradsign_nas.results import History

    told = []

    class Spy(RandomSearch):
        def tell(self, proposal, result):
            told.append(result.metric)
            super().tell(proposal, result)

    h = History(tmp_path / "min", {"mode": "min"})
    d = Driver(Spy("nb201", 0), h, trials=4)
    for loss in (0.5, 0.2, 0.9, 0.3):
        d.complete(d.next(), Result(metric=loss, cost_s=1.0))
    assert told == [-0.5, -0.2, -0.9, -0.3] and h.best["metric"] == 0.2
    h.close()
    assert History(tmp_path / "min", {"mode": "min"}).best["metric"] == 0.2  # re-derived on resume alike


def test_on_demand_scores_record_their_batch(data_path, tmp_path, capsys):
    """The batch on-demand scores are computed on is part of a table search's identity: a resume
    with another --score-batch-size is refused, and nothing is written."""
    args = ["table-search", "--variants", "assisted", "--scores", "on-demand", "--budget", "800"]
    args += ["--data-dir", str(data_path), "--out", str(tmp_path / "t"), "--no-progress"]
    assert main([*args, "--score-batch-size", "8"]) == 0
    run = tmp_path / "t" / "rea-assisted"
    info = json.loads((run / "run.json").read_text())
    assert info["scores"] == "on-demand" and info["score_batch_size"] == 8
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main([*args, "--score-batch-size", "16"]) == 2
    assert "score_batch_size" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
