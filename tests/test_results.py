"""Recording and resuming (History), statistics and plots."""

import json

import numpy as np
import pytest
from conftest import CountingEvaluator

from gradsign_nas import algorithms
from gradsign_nas.benchmarks import NB201Benchmark
from gradsign_nas.benchmarks.nb201_evaluator import NB201TabularEvaluator
from gradsign_nas.errors import DataError
from gradsign_nas.execution import SimulatedExecutor
from gradsign_nas.plots import plot_curves
from gradsign_nas.results import History, read_best, read_history
from gradsign_nas.stats import markdown_table, p_values, summarize, table_csv


@pytest.fixture(scope="module")
def evaluator(data_path):
    return NB201TabularEvaluator(NB201Benchmark(data_path))


INFO = {"algorithm": "rea", "seed": 4, "budget_s": 6000.0}


def search(directory, evaluator, workers=1, seed=4, info=INFO):
    with History(directory, info) as h:
        alg = algorithms.get("rea", "nb201", seed, fidelities=(12,))
        return SimulatedExecutor(alg, evaluator, 6000, workers=workers, history=h).run()


def without_wall(records):
    return [{k: v for k, v in r.items() if k not in ("wall_time", "wall_start")} for r in records]


def test_history_records_every_evaluation_and_the_best(tmp_path, evaluator):
    r = search(tmp_path, evaluator)
    recs = read_history(tmp_path)
    done = [x for x in recs if x["status"] == "completed"]
    assert len(done) == r.n_evaluations and [x["ask"] for x in recs] == list(range(len(recs)))
    assert {
        "trial_id",
        "arch",
        "index",
        "fidelity",
        "metric",
        "cost_s",
        "sim_time",
        "wall_time",
        "proxy",
        "proxy_cost_s",
        "worker",
        "extra",
    } <= set(done[0])
    best = read_best(tmp_path)
    top = max(done, key=lambda x: x["metric"])
    assert best["arch"] == r.best_arch == top["arch"] and best["index"] == evaluator.index(top["arch"])
    assert best["test"]["cifar100"] == r.test["cifar100"] == top["extra"]["cifar100_test"]
    stored = json.loads((tmp_path / "run.json").read_text())
    env = stored.pop("environment")  # what it ran on, added by History
    assert stored == INFO and env["python"] and "numpy" in env["packages"]


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("keep", [0, 7, 30])
def test_resume_after_interruption_reaches_the_same_result(tmp_path, evaluator, workers, keep):
    full = search(tmp_path / "full", evaluator, workers)
    lines = (tmp_path / "full" / "history.jsonl").read_text().splitlines(keepends=True)
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "run.json").write_text((tmp_path / "full" / "run.json").read_text())
    # interrupted while writing record `keep`: a partial last line
    (cut / "history.jsonl").write_text("".join(lines[:keep]) + lines[keep][: len(lines[keep]) // 2])
    counting = CountingEvaluator(evaluator)
    resumed = search(cut, counting, workers)
    assert resumed == full
    assert without_wall(read_history(cut)) == without_wall(read_history(tmp_path / "full"))
    assert read_best(cut) == read_best(tmp_path / "full")
    n_asks = len(lines)
    assert counting.calls == n_asks - keep  # recorded results were not evaluated again


def test_resume_refuses_other_settings_and_writes_nothing(tmp_path, evaluator):
    search(tmp_path, evaluator)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(ValueError, match="other seed"):
        History(tmp_path, {**INFO, "seed": 5})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_replay_checks_the_proposals_match(tmp_path, evaluator):
    search(tmp_path, evaluator, info=None)
    with pytest.raises(ValueError, match="match"):
        search(tmp_path, evaluator, seed=5, info=None)


def test_broken_line_inside_a_history_is_an_error(tmp_path):
    ok = json.dumps({"ask": 0, "arch": "a", "status": "completed", "metric": 1.0, "cost_s": 1.0})
    (tmp_path / "history.jsonl").write_text(ok + "\nnot json\n" + ok + "\n")
    with pytest.raises(DataError, match="line 2"):
        History(tmp_path)


# -- statistics and plots --------------------------------------------------------------------------
def fake_rows(shift, n=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for variant, d in (("vanilla", 0.0), ("assisted", shift)):
        for r in range(n):
            acc = 93.5 + d + rng.normal(0, 0.3)
            t = [100.0, 2000.0, 9000.0]
            rows.append(
                {
                    "algorithm": "rs",
                    "variant": variant,
                    "run": r,
                    "cifar10": acc,
                    "cifar100": acc - 22,
                    "ImageNet16-120": acc - 48,
                    "trajectory": {
                        "time": t,
                        "cifar10": [acc - 2, acc - 1, acc],
                        "cifar100": [None, acc - 23, acc - 22],
                        "ImageNet16-120": [acc - 50, acc - 49, acc - 48],
                    },
                }
            )
    return rows


def test_summary_and_one_sided_p_values():
    rows = fake_rows(0.5)
    s = summarize(rows)
    van = [r["cifar10"] for r in rows if r["variant"] == "vanilla"]
    assert s["rs"]["vanilla"]["cifar10"]["mean"] == pytest.approx(np.mean(van))
    assert s["rs"]["vanilla"]["cifar10"]["std"] == pytest.approx(np.std(van))
    assert p_values(rows)["rs"]["cifar10"] < 1e-6
    assert p_values(fake_rows(-0.5))["rs"]["cifar10"] > 0.99  # one-sided: worse is not significant
    md, csv_text = markdown_table(s, p_values(rows)), table_csv(s, p_values(rows))
    assert "| rs | assisted |" in md and "p (assisted > vanilla)" in md
    assert csv_text.splitlines()[0].startswith("algorithm,variant,dataset,mean,std")


def test_plot_writes_a_png(tmp_path):
    data = plot_curves(fake_rows(0.5, n=5), 12000, tmp_path / "curves.png")
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "curves.png").read_bytes() == data
