"""Live searches measured beyond their own reward: the final evaluation, NAS-Bench-201's ground truth
for NB201 cells on CIFAR-10, the reward's rank agreement, and calibrate."""

from __future__ import annotations

import json

import pytest

import gradsign_nas
from gradsign_nas.cli import main


def _json_line(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_compare_live_reports_the_final_evaluation_beside_the_reward_and_resumes(tmp_path, capsys):
    argv = ["compare", "--live", "--data", "digits", "--algorithms", "rs", "--runs", "2", "--trials", "4"]
    argv += ["--epochs", "1", "--final-epochs", "2", "--no-ray", "--no-progress", "--json", "--out", str(tmp_path)]
    assert main(argv) == 0
    line = _json_line(capsys)
    for v in ("vanilla", "assisted"):
        cell = line["results"]["rs"][v]
        assert set(cell) == {"valid_acc", "final_test_acc"}
        assert all(0 <= cell[k]["mean"] <= 100 and cell[k]["std"] >= 0 for k in cell)
    assert set(line["p_values"]["rs"]) == {"valid_acc", "final_test_acc"}
    finals = list(tmp_path.glob("searches/seed-*/rs-*/final/2ep-*/best.json"))
    assert len(finals) == 4  # one final training per search (top 1)
    stamps = {p: p.stat().st_mtime_ns for p in finals}
    assert main(argv) == 0  # resumed: finished searches and final trainings replayed, not re-run
    assert _json_line(capsys)["results"] == line["results"]
    assert {p: p.stat().st_mtime_ns for p in finals} == stamps


def test_the_final_network_is_trained_on_train_plus_valid_and_tested_on_held_out_images(tmp_path):
    from gradsign_nas.benchmarks.live import LiveTrainingEvaluator
    from gradsign_nas.search_spaces.nb201 import NB201Space

    ev = LiveTrainingEvaluator(NB201Space(C=4, N=1), "digits", fidelities=(1,), test_fraction=0.25, seed=3)
    x_test, y_test = ev.test_data
    fev = ev.for_final(2, seed=11)
    assert len(fev.data.x_train) == len(ev.data.x_train) + len(ev.data.x_valid)
    assert fev.data.x_valid is x_test and fev.fidelities == (2,) and fev.seed == 11
    seen = {t.numpy().tobytes() for t in ev.data.x_train} | {t.numpy().tobytes() for t in ev.data.x_valid}
    assert not any(t.numpy().tobytes() in seen for t in x_test)  # the search never saw a test image
    assert sorted(set(y_test.tolist())) == list(range(10))
    with pytest.raises(gradsign_nas.InputError, match="test split"):
        LiveTrainingEvaluator(NB201Space(C=4, N=1), "digits", fidelities=(1,)).for_final(2, 0)
    with pytest.raises(gradsign_nas.InputError, match="--final-epochs"):
        gradsign_nas.search(final_top=2, out=str(tmp_path / "x"))


def test_nb201_cells_on_cifar10_carry_the_table_truth_and_the_reward_rank_agreement(data_path, tmp_path, capsys):
    argv = ["search", "--algorithm", "rs", "--data", "cifar10", "--limit", "400", "--C", "4", "--N", "1"]
    argv += ["--trials", "5", "--epochs", "1", "--no-ray", "--no-progress", "--json", "--out", str(tmp_path)]
    assert main([*argv, "--data-dir", str(data_path)]) == 0
    s = _json_line(capsys)
    assert "NB201's protocol" in s["note"]
    bench = gradsign_nas.benchmarks.NB201Benchmark(data_path)
    for v in ("vanilla", "assisted"):
        got = s["variants"][v]
        assert got["nb201_cifar10_test"] == pytest.approx(bench.query(got["best_arch"], "cifar10_test"))
        agree = got["reward_rank_agreement"]
        assert agree["n"] == 5 and (agree["spearman"] is None or -1 <= agree["spearman"] <= 1)
    assert s["variants"]["assisted"]["reward_rank_agreement"]["n_proxy"] >= 1


def test_calibrate_trains_the_same_cells_at_each_epoch_count_and_resumes(data_path, tmp_path, capsys):
    argv = ["calibrate", "--data", "cifar10", "--data-dir", str(data_path), "--limit", "300", "--C", "4"]
    argv += ["--N", "1", "--cells", "5", "--epoch-counts", "1,2", "--no-ray", "--no-progress", "--json"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    s = _json_line(capsys)
    assert [r["epochs"] for r in s["rows"]] == [1, 2] and all(r["n"] == 5 for r in s["rows"])
    assert s["rows"][1]["seconds_per_cell"] > s["rows"][0]["seconds_per_cell"]  # two epochs cost more than one
    assert s["proxy"]["name"] == "gradsign" and s["proxy"]["n"] == 5
    one = [json.loads(x)["arch"] for x in (tmp_path / "1ep" / "history.jsonl").read_text().splitlines()]
    two = [json.loads(x)["arch"] for x in (tmp_path / "2ep" / "history.jsonl").read_text().splitlines()]
    assert one == two and len(set(one)) == 5  # the same cells at every epoch count
    assert main([*argv, "--out", str(tmp_path)]) == 0
    again = _json_line(capsys)
    assert [r["replayed"] for r in again["rows"]] == [5, 5] and again["rows"][0]["spearman"] == s["rows"][0]["spearman"]
    assert main(["calibrate", "--out", str(tmp_path / "d")]) == 2  # digits: NB201 has no truth for them


def test_an_ensemble_proxy_assists_live_searches_by_ranks_within_each_call(tmp_path, capsys):
    from gradsign_nas.assist import EnsembleScorer, TableScorer

    a = TableScorer({"x": 1.0, "y": 2.0, "z": float("-inf")})
    b = TableScorer({"x": 3.0, "y": 1.0, "z": 2.0})
    assert EnsembleScorer([a, b], ["a", "b"]).score_many(["x", "y", "z"]) == [5.0, 4.0, 3.0]
    r = gradsign_nas.search(
        algorithm="rs", proxy="gradsign+jacob_cov", trials=3, epochs=1, no_ray=True, limit=300, k=4,
        variants="assisted", no_progress=True, out=str(tmp_path / "s"),
    )  # fmt: skip
    recs = r.to_pandas()
    assert len(recs) == 3 and recs["proxy"].between(2, 8).all()  # sums of two ranks among K = 4
    argv = ["compare", "--live", "--algorithms", "rs", "--runs", "1", "--trials", "2", "--epochs", "1"]
    argv += ["--proxy", "gradsign+jacob_cov", "--no-ray", "--limit", "300", "--no-progress", "--json"]
    assert main([*argv, "--out", str(tmp_path / "c")]) == 0
    assert _json_line(capsys)["proxy_scores"]["rs"]["assisted"] == 20  # K = 10 per trial
    assert main([*argv, "--strategies", "adaptive", "--out", str(tmp_path / "d")]) == 2
    assert "ensemble" in capsys.readouterr().err
