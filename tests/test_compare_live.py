"""`gradsign-nas compare --live`: seeds x variants of live searches on digits through Ray, the tabular
compare's JSON shape, and a comparison killed mid-run that resumes without re-running a finished trial."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("ray")

LIVE = [
    "compare",
    "--live",
    "--algorithms",
    "rs",
    "--runs",
    "3",
    "--trials",
    "4",
    "--epochs",
    "1",
    "--num-cpus",
    "2",
    "--no-progress",
]


def _env(data_path):
    return dict(os.environ, RAY_AUTH_MODE="disabled", GRADSIGN_NAS_DATA=str(data_path))


def _cli(argv, data_path, **kw):
    return subprocess.run(
        [sys.executable, "-m", "gradsign_nas", *argv],
        env=_env(data_path),
        capture_output=True,
        text=True,
        timeout=900,
        **kw,
    )


def _histories(out):
    return sorted(out.glob("searches/seed-*/*/history.jsonl"))


def test_live_comparison_table_json_shape_and_resume(data_path, tmp_path):
    out = tmp_path / "live"
    r = _cli([*LIVE, "--out", str(out), "--json"], data_path)
    assert r.returncode == 0, r.stderr[-3000:]
    line = json.loads(r.stdout.strip().splitlines()[-1])
    tabular = _cli(
        [
            "compare",
            "--algorithms",
            "rs",
            "--runs",
            "2",
            "--budget",
            "1500",
            "--workers",
            "1",
            "--no-progress",
            "--out",
            str(tmp_path / "tab"),
            "--json",
        ],
        data_path,
    )
    assert tabular.returncode == 0, tabular.stderr[-3000:]
    tab = json.loads(tabular.stdout.strip().splitlines()[-1])
    assert set(tab) <= set(line)  # the same keys (and proxy_time beside them)
    assert set(line["results"]["rs"]) == set(tab["results"]["rs"]) == {"vanilla", "assisted"}
    for v in ("vanilla", "assisted"):
        cell = line["results"]["rs"][v]["valid_acc"]
        assert set(cell) == {"mean", "std"} and 0 < cell["mean"] <= 100
    assert 0 <= line["p_values"]["rs"]["valid_acc"] <= 1
    assert line["proxy_scores"]["rs"]["vanilla"] == 0 and line["proxy_scores"]["rs"]["assisted"] > 0
    assert line["proxy_time"]["rs"]["assisted"]["proxy_s"] > 0
    hist = _histories(out)
    assert len(hist) == 6 and all(len(h.read_text().splitlines()) == 4 for h in hist)
    assert {
        "results.md",
        "results.csv",
        "runs.json",
        "summary.json",
        "curves_trials.png",
        "curves_wall.png",
        "report.html",
    } <= {p.name for p in out.iterdir()}
    runs = json.loads((out / "runs.json").read_text())["runs"]
    assert len({x["seed"] for x in runs}) == 3  # three seeds, shared by the two variants
    before = [h.read_text() for h in hist]
    again = _cli([*LIVE, "--out", str(out), "--json"], data_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "24 recorded trials replayed" in again.stderr
    assert [h.read_text() for h in hist] == before
    assert json.loads(again.stdout.strip().splitlines()[-1])["results"] == line["results"]


def test_a_comparison_killed_mid_run_resumes_without_rerunning_finished_trials(data_path, tmp_path):
    out = tmp_path / "killed"
    argv = [sys.executable, "-m", "gradsign_nas", *LIVE, "--out", str(out)]
    proc = subprocess.Popen(
        argv, env=_env(data_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 600
    try:
        while time.time() < deadline and proc.poll() is None:  # kill once a few trials are recorded
            if sum(len(h.read_text().splitlines()) for h in _histories(out)) >= 6:
                break
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    recorded = {h: h.read_text() for h in _histories(out)}
    assert sum(len(t.splitlines()) for t in recorded.values()) >= 6
    r = _cli([*LIVE, "--out", str(out)], data_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "recorded trials replayed" in r.stderr
    for h, text in recorded.items():  # what was recorded before the kill is kept, not re-run
        assert h.read_text().startswith(text.rstrip("\n").rsplit("\n", 1)[0] if not text.endswith("\n") else text)
    hist = _histories(out)
    assert len(hist) == 6 and all(
        sum(json.loads(x)["status"] == "completed" for x in h.read_text().splitlines()) == 4 for h in hist
    )


def test_no_ray_runs_every_trial_in_this_process_and_refuses_ray_options(data_path, tmp_path):
    out = tmp_path / "noray"
    argv = [
        "compare",
        "--live",
        "--no-ray",
        "--algorithms",
        "rs",
        "--runs",
        "2",
        "--trials",
        "2",
        "--epochs",
        "1",
        "--no-progress",
        "--out",
        str(out),
        "--json",
    ]
    r = _cli(argv, data_path)
    assert r.returncode == 0, r.stderr[-3000:]
    line = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(line["results"]["rs"]) == {"vanilla", "assisted"}
    hist = _histories(out)
    assert len(hist) == 4 and all(len(h.read_text().splitlines()) == 2 for h in hist)
    bad = _cli([*argv[:-2], str(tmp_path / "bad"), "--address", "127.0.0.1:1"], data_path)
    assert bad.returncode == 2 and "--address" in bad.stderr and not (tmp_path / "bad").exists()
    # --workers 2: the same searches in two spawned processes give the same trials and results
    par = tmp_path / "par"
    r2 = _cli([*argv[:-2], str(par), "--json", "--workers", "2"], data_path)
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert json.loads(r2.stdout.strip().splitlines()[-1])["results"] == line["results"]

    def trials(o):
        return [[(x["arch"], x["metric"]) for x in map(json.loads, h.read_text().splitlines())] for h in _histories(o)]

    assert trials(par) == trials(out)
    assert [h.relative_to(par) for h in _histories(par)] == [h.relative_to(out) for h in _histories(out)]


def test_strategies_run_as_further_live_variants(data_path, tmp_path):
    """--strategies with --live: each strategy is a variant of its own searches, with its p-values
    against vanilla (and assisted, where run); warm-up scores are counted in proxy_scores."""
    out = tmp_path / "strat"
    argv = [
        "compare",
        "--live",
        "--no-ray",
        "--algorithms",
        "rs",
        "--variants",
        "vanilla",
        "--strategies",
        "warmup,adaptive",
        "--k",
        "2",
        "--runs",
        "2",
        "--trials",
        "2",
        "--epochs",
        "1",
        "--no-progress",
        "--out",
        str(out),
        "--json",
    ]
    r = _cli(argv, data_path)
    assert r.returncode == 0, r.stderr[-3000:]
    line = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(line["results"]["rs"]) == {"vanilla", "warmup", "adaptive"}
    assert set(line["strategy_p_values"]["rs"]) == {"warmup", "adaptive"}
    runs = json.loads((out / "runs.json").read_text())["runs"]
    warm = [x for x in runs if x["variant"] == "warmup"]
    assert len(warm) == 2 and all(x["proxy_scores"] >= 160 for x in warm)  # RS's warm-up: 80 K samples
    assert all(x["proxy_scores"] == 0 for x in runs if x["variant"] == "vanilla")
    assert len(_histories(out)) == 6
    assert json.loads((out / "searches/seed-0/rs-warmup/run.json").read_text())["variant"] == "warmup"


def test_python_api_compares_on_tensors_and_resumes(tmp_path, caplog):
    """gradsign_nas.compare(live=True): the command's options and files from Python, on (x, y) tensors,
    recorded by shape and sha256; the same call again replays every trial."""
    import logging

    import torch
    from sklearn.datasets import load_digits

    import gradsign_nas

    caplog.set_level(logging.INFO, logger="gradsign_nas")
    d = load_digits()
    x = torch.tensor(d.images[:300], dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target[:300])
    out = tmp_path / "api"
    kw = dict(algorithms=["rs"], runs=2, trials=2, epochs=1, C=4, N=1, no_ray=True, no_progress=True)
    r = gradsign_nas.compare(live=True, out=str(out), data=(x, y), **kw)
    s = r.summary
    assert isinstance(r, gradsign_nas.CompareResult) and s == json.loads((out / "summary.json").read_text())
    assert set(s["results"]["rs"]) == {"vanilla", "assisted"} and s["config"]["data"].startswith("arrays 300x1x8x8/")
    run_json = json.loads((out / "searches/seed-0/rs-assisted/run.json").read_text())
    assert run_json["data"] == s["config"]["data"]
    caplog.clear()
    again = gradsign_nas.compare(live=True, out=str(out), data=(x, y), **dict(kw, algorithms="rs"))  # a comma string
    assert again.summary["results"] == s["results"]
    assert "8 recorded trials replayed" in caplog.text
    with pytest.raises(gradsign_nas.InputError, match="same settings to resume, but it holds one with other data"):
        gradsign_nas.compare(live=True, out=str(out), data=(x[:200], y[:200]), **kw)  # other tensors: refused
    with pytest.raises(gradsign_nas.InputError, match="expected options of CompareConfig .*'trails'"):
        gradsign_nas.compare(live=True, out=str(out), data=(x, y), trails=3)


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["compare", "--live", "--budget", "100"], "--budget is an option of table searches"),
        (["compare", "--live", "--scores", "table"], "--scores is an option of table searches"),
        (["compare", "--trials", "3"], "--trials is an option of live comparisons"),
        (["compare", "--train-batch-size", "32"], "--train-batch-size is an option of live comparisons"),
    ],
)
def test_options_of_the_other_kind_are_refused(tmp_path, capsys, argv, flag):
    from gradsign_nas.cli import main

    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and not out.exists()
