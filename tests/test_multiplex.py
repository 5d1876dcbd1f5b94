"""A live comparison's searches all at once in one Ray Tune experiment (``execution.multiplex``): each
search's history is the one it has without Ray (same seed, one trial in flight per search), trials of
different searches run at the same time, Ctrl-C keeps what finished and a rerun completes it, and the
comparison measures its slot utilisation (summary.json, report.html, timeline.png)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("ray")

import gradsign_nas  # noqa: E402
from gradsign_nas.api._utilisation import intervals, pack_rows, slot_utilisation  # noqa: E402
from gradsign_nas.results import read_history  # noqa: E402

SMALL = dict(
    algorithms="rs,rea",
    algorithm_options="rea.population_size=2",
    runs=2,
    trials=3,
    epochs=1,
    C=4,
    N=1,
    limit=150,
    no_progress=True,
)
CLI = [
    "compare",
    "--live",
    "--algorithms",
    "rs",
    "--runs",
    "2",
    "--trials",
    "4",
    "--epochs",
    "1",
    "--C",
    "4",
    "--N",
    "1",
    "--limit",
    "150",
    "--num-cpus",
    "2",
    "--no-progress",
]


def _env(data_path):
    return dict(os.environ, RAY_AUTH_MODE="disabled", GRADSIGN_NAS_DATA=str(data_path))


def _histories(out):
    return {
        str(h.parent.relative_to(out)): read_history(h.parent) for h in sorted(out.glob("searches/*/*/history.jsonl"))
    }


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same small comparison (2 seeds x rs, rea x vanilla, assisted: 8 searches of 3 trials) on a
    local 2-CPU Ray, every search in one Tune experiment, and without Ray."""
    base = tmp_path_factory.mktemp("mx")
    ray_out, local_out = base / "ray", base / "local"
    on_ray = gradsign_nas.compare(live=True, out=str(ray_out), num_cpus=2, **SMALL)
    local = gradsign_nas.compare(live=True, out=str(local_out), no_ray=True, **SMALL)
    return on_ray, local, ray_out, local_out


def test_each_search_has_its_no_ray_history(both):
    on_ray, local, ray_out, local_out = both
    a, b = _histories(ray_out), _histories(local_out)
    assert len(a) == 8 and sorted(a) == sorted(b)
    for name in a:  # the same proposals in the same order, told the same results
        assert [(r["ask"], r["arch"], r["status"]) for r in a[name]] == [
            (r["ask"], r["arch"], r["status"]) for r in b[name]
        ]
        assert [r["metric"] for r in a[name]] == pytest.approx([r["metric"] for r in b[name]])
        assert len(a[name]) == 3
    assert on_ray.summary["results"] == local.summary["results"]


def test_trials_of_different_searches_overlap_in_wall_clock_time(both):
    _, _, ray_out, _ = both
    spans = intervals(_histories(ray_out))
    assert len(spans) == 24 and all(s["end"] >= s["start"] for s in spans)
    overlapping = {
        frozenset((x["search"], y["search"]))
        for i, x in enumerate(spans)
        for y in spans[i + 1 :]
        if x["search"] != y["search"] and y["start"] < x["end"]
    }
    assert overlapping  # searches ran side by side, not one after another
    for name, records in _histories(ray_out).items():  # yet one trial at a time within a search
        own = sorted((r["extra"]["trial_start"], r["extra"]["trial_end"]) for r in records)
        assert all(prev[1] <= nxt[0] for prev, nxt in zip(own, own[1:])), name
        assert all(r["extra"]["node"] and "gpus" in r["extra"] for r in records)


def test_utilisation_is_measured_and_reported(both):
    on_ray, local, ray_out, local_out = both
    use = json.loads((ray_out / "summary.json").read_text())["utilisation"]
    assert use == on_ray.summary["utilisation"]
    assert use["slots"] == 2 and use["trials"] == 24 and use["nodes"] == 1
    assert 0 < use["utilisation"] <= 1 and use["busy_s"] > 0 and use["span_s"] > 0
    assert local.summary["utilisation"]["slots"] == 1 and local.summary["utilisation"]["trials"] == 24
    for out in (ray_out, local_out):
        assert (out / "timeline.png").stat().st_size > 0
        assert "slot utilisation" in (out / "report.html").read_text()


def test_a_rerun_replays_every_search(both, caplog):
    import logging

    on_ray, _, ray_out, _ = both
    before = {h: h.read_text() for h in ray_out.glob("searches/*/*/history.jsonl")}
    caplog.set_level(logging.INFO, logger="gradsign_nas")
    again = gradsign_nas.compare(live=True, out=str(ray_out), num_cpus=2, **SMALL)
    assert "24 recorded trials replayed" in caplog.text
    assert {h: h.read_text() for h in before} == before
    assert again.summary["results"] == on_ray.summary["results"]


def test_utilisation_from_intervals():
    recs = {
        "a": [
            {"ask": 0, "status": "completed", "extra": {"node": "n1", "trial_start": 0.0, "trial_end": 2.0}},
            {"ask": 1, "status": "failed", "extra": {"error": "x"}},
        ],
        "b": [{"ask": 0, "status": "completed", "worker": "n1", "wall_start": 1.0, "wall_time": 4.0, "extra": {}}],
        "c": [{"ask": 0, "status": "completed", "extra": {"node": "n2", "trial_start": 2.0, "trial_end": 4.0}}],
    }
    spans = intervals(recs)
    assert [s["search"] for s in spans] == ["a", "b", "c"]
    assert pack_rows(spans) == ["n1 #1", "n1 #2", "n2 #1"]
    use = slot_utilisation(spans, 4)
    assert use["busy_s"] == 7.0 and use["span_s"] == 4.0 and use["utilisation"] == pytest.approx(7 / 16)
    # the 9 idle slot seconds: rows start at 0, 1, 2 (ramp 3), n1 #1 ends at 2 (tail 2), one slot unused (4)
    assert use["idle"] == {"ramp_s": 3.0, "gaps_s": 0.0, "mean_gap_s": None, "tail_s": 2.0, "unused_s": 4.0}
    two = [dict(spans[0]), dict(spans[0], start=2.5, end=3.0)]  # one row, a gap of 0.5 s
    assert slot_utilisation(two, 1)["idle"] == {
        "ramp_s": 0.0,
        "gaps_s": 0.5,
        "mean_gap_s": 0.5,
        "tail_s": 0.0,
        "unused_s": 0.0,
    }
    assert slot_utilisation([], 4)["utilisation"] is None


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--no-ray", "--concurrency", "2"], "--concurrency applies to Ray trials only"),
        (["--scheduler", "asha", "--concurrency", "2"], "with --scheduler asha each search runs alone"),
        (["--concurrency", "0"], "--concurrency"),
    ],
)
def test_concurrency_is_refused_where_it_cannot_apply(data_path, tmp_path, extra, message):
    r = subprocess.run(
        [sys.executable, "-m", "gradsign_nas", *CLI, "--out", str(tmp_path / "x"), *extra],
        env=_env(data_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and message in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / "x").exists()


def test_ctrl_c_stops_every_search_keeps_finished_trials_and_a_rerun_completes(data_path, tmp_path):
    out = tmp_path / "int"
    argv = [sys.executable, "-m", "gradsign_nas", *CLI, "--concurrency", "2", "--out", str(out)]
    proc = subprocess.Popen(argv, env=_env(data_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if sum(len(h.read_text().splitlines()) for h in out.glob("searches/*/*/history.jsonl")) >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the comparison ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    kept = {h: h.read_text() for h in out.glob("searches/*/*/history.jsonl")}
    assert 3 <= sum(len(t.splitlines()) for t in kept.values()) < 16
    r = subprocess.run([*argv, "--json"], env=_env(data_path), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for h, text in kept.items():  # finished trials kept, not re-run
        assert h.read_text().startswith(text)
    hist = _histories(out)
    assert len(hist) == 4
    for records in hist.values():
        assert sorted(r["ask"] for r in records) == [0, 1, 2, 3]
        assert all(r["status"] == "completed" for r in records)


def test_the_utilisation_benchmark_sets_ray_against_local_processes(tmp_path):
    """benchmarks/multiplex_utilisation.py --local (the GPU table's command, here on the CPU, small):
    both runs finish the same searches, and each run's idle slot seconds add up."""
    from conftest import ROOT

    out = tmp_path / "mux"
    argv = ["--local", "--device", "cpu", "--runs", "1", "--trials", "2", "--workers", "2", "--out", str(out)]
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "multiplex_utilisation.py"), *argv],
        env=dict(os.environ, RAY_AUTH_MODE="disabled", PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert list(runs) == ["multiplexed", "local-processes"]
    for name, run in runs.items():
        assert run["searches"] == 4 and run["trials"] == 8, name
        assert run["slots"] == 2 and 0 < run["utilisation"] <= 1
        idle = sum(run["idle"][k] for k in ("ramp_s", "gaps_s", "tail_s", "unused_s"))
        assert idle == pytest.approx(run["slots"] * run["span_s"] - run["busy_s"], abs=0.05)
        assert run["searches_per_hour"] > 0 and (out / name / "timeline.png").is_file()
    assert "| multiplexed | 4 | 8 | 2 |" in r.stdout


def test_a_finished_searchs_final_training_runs_in_the_same_experiment(tmp_path):
    """run_searches(followups=...): the final training of a search that finished joins the experiment
    at once, while another search still searches, and trains on the final evaluator that the trial's
    actor makes from the search's own (the same number as training it here). Whether the final trial
    also starts before the other search's last trial ends depends on actor start-up on a busy machine,
    so the test checks what the code decides: the final is handed to the experiment while "long" is
    unfinished."""
    from gradsign_nas import algorithms
    from gradsign_nas._ray import ray_session
    from gradsign_nas.benchmarks.live import LiveTrainingEvaluator
    from gradsign_nas.execution.fixed import FixedProposals
    from gradsign_nas.execution.live import open_history
    from gradsign_nas.execution.multiplex import Search, run_searches
    from gradsign_nas.search_spaces.nb201 import NB201Space

    space = NB201Space(C=4, N=1)
    ev = LiveTrainingEvaluator(space, "digits", fidelities=(1,), limit=150, device="cpu", seed=0, test_fraction=0.2)
    finals = []
    long_done_then = []

    def followups(sid):
        if sid != "short":
            return []
        long_done_then.append(len(read_history(tmp_path / "long")))
        fev = ev.for_final(2, 7)
        arch = read_history(tmp_path / "short")[0]["arch"]
        alg = FixedProposals(fev.space, [fev.space.parse(arch)], 2)
        finals.append((fev, arch))
        return [Search("short/final", alg, fev, open_history(fev, tmp_path / "final"), 1, final=("short", 2, 7))]

    with ray_session(2):
        searches = [
            Search(sid, algorithms.get("rs", space, i, fidelities=(1,)), ev, open_history(ev, tmp_path / sid), n)
            for i, (sid, n) in enumerate([("short", 1), ("long", 5)])
        ]
        done = run_searches(searches, followups=followups)
    assert set(done) == {"short", "long"} and len(finals) == 1
    final = read_history(tmp_path / "final")
    long = read_history(tmp_path / "long")
    assert len(final) == 1 and final[0]["status"] == "completed" and len(long) == 5
    assert long_done_then[0] < 5  # the final joined while "long" still searched
    fev, arch = finals[0]
    assert final[0]["metric"] == pytest.approx(fev.train(fev.space.parse(arch), 2).metric)


def test_final_trainings_are_trials_of_the_comparisons_experiment(tmp_path):
    """compare(live=True, final_epochs=...) on Ray: every search's final training runs as a trial of the
    one experiment (counted in the utilisation), with the numbers the same comparison gets without
    Ray; a rerun replays them."""
    opts = dict(SMALL, algorithms="rs", algorithm_options=None, runs=1, trials=2, final_epochs=1)
    on_ray = gradsign_nas.compare(live=True, out=str(tmp_path / "ray"), num_cpus=2, **opts)
    local = gradsign_nas.compare(live=True, out=str(tmp_path / "local"), no_ray=True, **opts)
    assert on_ray.summary["results"] == local.summary["results"]
    assert "final_test_acc" in on_ray.summary["results"]["rs"]["assisted"]
    finals = sorted((tmp_path / "ray").glob("searches/seed-0/rs-*/final/1ep-*/history.jsonl"))
    assert len(finals) == 2
    for h in finals:
        (rec,) = read_history(h.parent)
        assert rec["status"] == "completed" and "gpus" in rec["extra"]  # a Ray trial's record
    assert on_ray.summary["utilisation"]["trials"] == 2 * 2 + 2
    stamps = {h: h.stat().st_mtime_ns for h in finals}
    again = gradsign_nas.compare(live=True, out=str(tmp_path / "ray"), num_cpus=2, **opts)
    assert again.summary["results"] == on_ray.summary["results"]
    assert {h: h.stat().st_mtime_ns for h in finals} == stamps
