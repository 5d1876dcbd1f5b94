"""One resume rule for every executor: a search cut off after k records and resumed records exactly
what an uninterrupted search records, without evaluating a recorded proposal again; and best.json
is re-derived from the history after a crash."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from conftest import CountingEvaluator

from gradsign_nas import algorithms, load_best, search_spaces
from gradsign_nas.benchmarks import NB201Benchmark
from gradsign_nas.benchmarks.live import LiveTrainingEvaluator
from gradsign_nas.benchmarks.nb201_evaluator import NB201TabularEvaluator
from gradsign_nas.execution import RayTuneExecutor, SimulatedExecutor, run_live_search, sequential_search
from gradsign_nas.results import History, read_best, read_history

EXECUTORS = ["simulated", "ray-table", "live-sequential", "live-ray"]
# fields that legitimately differ between two runs: wall-clock times, measured training seconds (and
# the simulated times derived from them), and where a trial ran
VOLATILE = {"wall_start", "wall_time", "cost_s", "sim_start", "sim_time", "worker", "proxy_cost_s"}
VOLATILE_EXTRA = {"train_seconds", "node", "pid", "trial_start", "trial_end"}  # when and where it ran


def stable(records):
    out = []
    for r in records:
        r = {k: v for k, v in r.items() if k not in VOLATILE}
        r["extra"] = {k: v for k, v in r["extra"].items() if k not in VOLATILE_EXTRA}
        out.append(r)
    return out


@pytest.fixture(scope="module")
def table(data_path):
    return NB201TabularEvaluator(NB201Benchmark(data_path))


@pytest.fixture(scope="module")
def live_space():
    return search_spaces.get("nb201", C=4, N=1, in_channels=1)


@pytest.fixture(scope="module")
def live_evaluator(live_space):
    torch.set_num_threads(1)
    return LiveTrainingEvaluator(live_space, "digits", fidelities=(1,), device="cpu", seed=0, limit=150)


def search(kind, out, table, live_evaluator, live_space, counter=None):
    """Run the executor ``kind`` into ``out``; returns its RunResult."""
    if kind in ("simulated", "ray-table"):
        ev = counter if counter is not None else table
        alg = algorithms.get("rea", "nb201", 5, fidelities=(12,))
        with History(out, {"kind": kind}) as h:
            if kind == "simulated":
                return SimulatedExecutor(alg, ev, 2500, history=h).run()
            return RayTuneExecutor(alg, ev, 2500, history=h, num_cpus=1).run()
    alg = algorithms.get("rea", live_space, 0, fidelities=(1,), population_size=2)
    if kind == "live-sequential":
        return sequential_search(alg, live_evaluator, trials=5, out_dir=out, progress=False, run_info={"kind": kind})
    return run_live_search(
        alg, live_evaluator, trials=5, out_dir=out, progress=False, run_info={"kind": kind}, workers=1, num_cpus=1
    )


@pytest.mark.parametrize("kind", EXECUTORS)
def test_a_resumed_search_records_what_an_uninterrupted_one_records(kind, tmp_path, table, live_evaluator, live_space):
    full_dir = tmp_path / "full"
    full = search(kind, full_dir, table, live_evaluator, live_space)
    lines = (full_dir / "history.jsonl").read_text().splitlines(keepends=True)
    assert len(lines) >= 5
    keep = 3
    cut = tmp_path / "cut"
    cut.mkdir()
    shutil.copy(full_dir / "run.json", cut / "run.json")
    # killed while writing record `keep`: a partial last line, and a stale best.json from another run
    (cut / "history.jsonl").write_text("".join(lines[:keep]) + lines[keep][: len(lines[keep]) // 2])
    stale = read_best(full_dir)
    (cut / "best.json").write_text(json.dumps(dict(stale, ask=999)))
    (cut / ".best.json.x1.tmp").write_text("left by an interrupted write")
    counter = CountingEvaluator(table) if kind == "simulated" else None
    resumed = search(kind, cut, table, live_evaluator, live_space, counter)
    assert resumed.n_replayed == keep
    assert stable(read_history(cut)) == stable(read_history(full_dir))
    assert read_history(cut)[:keep] == read_history(full_dir)[:keep]  # recorded lines kept as they were
    assert resumed.best_arch == full.best_arch and resumed.n_evaluations == full.n_evaluations
    assert read_best(cut)["ask"] == read_best(full_dir)["ask"]
    assert not (cut / ".best.json.x1.tmp").exists()
    if counter is not None:
        assert counter.calls == len(lines) - keep  # recorded results were not evaluated again
    if kind.startswith("live"):
        if read_best(cut)["ask"] >= keep:  # trained after the resume: its weights are there
            arch, model = load_best(cut)
            assert str(arch) == read_best(cut)["arch"]
        else:  # the stale best.json could not vouch for weights of a replayed record: none are claimed
            assert read_best(cut)["weights"] is None and not (cut / "best_model.pt").exists()


def test_best_json_and_weights_are_rederived_after_a_crash(tmp_path, live_evaluator, live_space):
    """A crash between a history append and the best.json write: the resume rewrites best.json from
    the history and drops weights that cannot be shown to be the best record's."""
    alg = algorithms.get("rs", live_space, 0, fidelities=(1,))
    sequential_search(alg, live_evaluator, trials=3, out_dir=tmp_path, progress=False)
    best = read_best(tmp_path)
    worse = min((r for r in read_history(tmp_path)), key=lambda r: r["metric"])
    (tmp_path / "best.json").write_text(json.dumps(dict(best, ask=worse["ask"], arch=worse["arch"])))
    (tmp_path / "best_model.pt").write_bytes(b"not the weights")
    with History(tmp_path) as h:  # opening reads only; accepting the history (a replay did) rewrites
        h.accept()
    fixed = read_best(tmp_path)
    assert fixed["ask"] == best["ask"] and fixed["arch"] == best["arch"]
    assert fixed["weights"] is None and not (tmp_path / "best_model.pt").exists()


def test_a_resume_with_fewer_concurrent_trials_is_refused_in_one_sentence(tmp_path):
    """A run that asked two proposals at once cannot be replayed one at a time (its algorithm would
    have to propose the second before it learns the first): refused, naming the concurrency; with
    the recorded concurrency every evaluation is replayed."""
    from gradsign_nas import algorithms
    from gradsign_nas.algorithms.base import Result
    from gradsign_nas.errors import InputError
    from gradsign_nas.execution import Driver

    def run(workers):
        with History(tmp_path / "run", {"kind": "two at once"}) as h:
            d = Driver(algorithms.get("rea", "nb201", 3, population_size=4), h, trials=6, workers=workers)
            while not d.finished:
                batch = [p for p in (d.next(), d.next()) if p is not None]
                for p in batch:
                    d.complete(p, Result(float(len(str(p.proposal.arch))), 1.0))
            return d

    first = run(2)
    assert first.n_replayed == 0 and len(first.history.records) == 6
    recorded = (tmp_path / "run" / "history.jsonl").read_bytes()
    with pytest.raises(InputError, match=r"expected 2 or more concurrent trials to resume this run .* has 1;"):
        run(1)
    assert (tmp_path / "run" / "history.jsonl").read_bytes() == recorded
    assert run(2).n_replayed == 6
