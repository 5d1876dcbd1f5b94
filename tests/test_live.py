"""Live training: the digits data, the training evaluator (determinism, resume, data sources), the
NATS size space, and a small live search with and without Ray (history, best weights, resume)."""

import json
import os

import numpy as np
import pytest
import torch

from gradsign_nas import algorithms, load_best, search_spaces
from gradsign_nas.assist import Assistant, TrainingBatchScorer
from gradsign_nas.benchmarks.digits import load_digits_split
from gradsign_nas.benchmarks.live import LiveTrainingEvaluator, load_data
from gradsign_nas.execution import run_live_search, sequential_search
from gradsign_nas.results import read_history
from gradsign_nas.search_spaces._nb201_net import TinyNetwork

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def space():
    return search_spaces.get("nb201", C=4, N=1, in_channels=1)


@pytest.fixture(scope="module")
def evaluator(space):
    return LiveTrainingEvaluator(space, "digits", fidelities=(1, 2), device="cpu", seed=0, limit=300)


def test_digits_split_is_seeded_stratified_and_standardised():
    a, b, c = load_digits_split(0.2, seed=0), load_digits_split(0.2, seed=0), load_digits_split(0.2, seed=1)
    assert torch.equal(a.y_valid, b.y_valid) and not torch.equal(a.y_valid, c.y_valid)
    assert tuple(a.x_train.shape[1:]) == (1, 8, 8) and len(a.y_train) + len(a.y_valid) == 1797
    counts = np.bincount(a.y_valid.numpy(), minlength=10)
    assert counts.min() >= 30  # every class held out
    assert abs(float(a.x_train.mean())) < 1e-4 and abs(float(a.x_train.std()) - 1) < 1e-3


def test_training_is_deterministic_and_resumes_exactly(space, evaluator):
    arch = space.from_index(6111)
    full = evaluator.train(arch, 2)
    again = evaluator.train(arch, 2)
    assert full.extra["curve"] == again.extra["curve"]
    saved = {}
    evaluator.train(arch, 1, on_epoch=lambda m, state: saved.setdefault("s", state()))
    resumed = evaluator.train(arch, 2, state=saved["s"])
    assert resumed.extra["resumed_from"] == 1
    assert resumed.extra["curve"] == full.extra["curve"]
    assert resumed.metric == full.metric and 0 <= full.metric <= 100 and full.cost_s > 0
    other = LiveTrainingEvaluator(space, "digits", fidelities=(1, 2), device="cpu", seed=1, limit=300)
    assert other.train(arch, 2).extra["curve"] != full.extra["curve"]


def test_training_learns(space):
    ev = LiveTrainingEvaluator(space, "digits", fidelities=(3,), device="cpu", seed=0)
    r = ev.evaluate(space.from_index(6111))
    assert r.metric > 50.0  # 10 classes: chance is 10%


def test_evaluate_resumes_from_the_checkpoint_store(space, tmp_path):
    ev = LiveTrainingEvaluator(
        space, "digits", fidelities=(1, 2), device="cpu", seed=0, limit=200, checkpoint_dir=tmp_path
    )
    arch = space.from_index(1)
    low = ev.evaluate(arch, 1)
    high = ev.evaluate(arch, 2)
    assert low.extra["resumed_from"] == 0 and high.extra["resumed_from"] == 1
    assert high.extra["curve"][:1] == low.extra["curve"]
    plain = LiveTrainingEvaluator(space, "digits", fidelities=(1, 2), device="cpu", seed=0, limit=200)
    assert plain.evaluate(arch, 2).extra["curve"] == high.extra["curve"]


def test_other_data_sources(tmp_path, data_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 3, 8, 8)).astype(np.float32), np.repeat(np.arange(3), 20)
    s = load_data((torch.from_numpy(x), torch.from_numpy(y)), valid_fraction=0.25, seed=0)
    assert len(s.y_valid) == 15 and tuple(s.x_train.shape[1:]) == (3, 8, 8)
    np.savez(tmp_path / "d.npz", x=(rng.random((40, 8, 8, 3)) * 255).astype(np.uint8), y=np.arange(40) % 4)
    s = load_data(str(tmp_path / "d.npz"), seed=0)
    assert tuple(s.x_train.shape[1:]) == (3, 8, 8) and int(s.y_train.max()) == 3
    from PIL import Image

    for c in range(2):
        (tmp_path / "imgs" / f"class{c}").mkdir(parents=True)
        for i in range(5):
            Image.fromarray((rng.random((6, 6)) * 255).astype(np.uint8)).save(
                tmp_path / "imgs" / f"class{c}" / f"{i}.png"
            )
    s = load_data(tmp_path / "imgs", seed=0)
    assert tuple(s.x_train.shape[1:]) == (1, 6, 6) and sorted(set(s.y_train.tolist())) == [0, 1]
    if (data_path / "images").is_dir():
        s = load_data("cifar10", data_dir=data_path, limit=100, seed=0)
        assert tuple(s.x_train.shape[1:]) == (3, 32, 32) and len(s.y_train) + len(s.y_valid) == 100
    with pytest.raises(ValueError, match="expected"):
        load_data(str(tmp_path / "missing.bin"))
    with pytest.raises(ValueError, match="labels"):
        load_data((x, y[:10]))


def test_the_searches_of_a_seed_share_one_split_and_its_device_copy(space, tmp_path):
    import pickle

    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, x=(rng.random((40, 8, 8, 3)) * 255).astype(np.uint8), y=np.arange(40) % 4)
    a = load_data(str(path), seed=0)
    assert load_data(path, seed=0) is a and load_data(str(path), seed=1) is not a
    old = os.stat(path).st_mtime_ns
    np.savez(path, x=(rng.random((40, 8, 8, 3)) * 255).astype(np.uint8), y=np.arange(40) % 4)
    os.utime(path, ns=(old + 10**9, old + 10**9))  # a rewritten file is read again
    b = load_data(str(path), seed=0)
    assert b is not a and not torch.equal(a.x_train, b.x_train)
    e1, e2 = (LiveTrainingEvaluator(space, str(path), fidelities=(1,), seed=0, device="cpu") for _ in range(2))
    assert e1.data is e2.data and e1._tensors()[0] is e2._tensors()[0]
    # sent together (as to a Ray actor), they arrive sharing one split and one device copy
    r1, r2 = pickle.loads(pickle.dumps([e1, e2]))
    assert r1.data is r2.data and r1._tensors()[0] is r2._tensors()[0]
    folder = tmp_path / "imgs" / "c0"
    folder.mkdir(parents=True)
    from PIL import Image

    for i in range(4):
        Image.fromarray((rng.random((6, 6)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
        (folder.parent / "c1").mkdir(exist_ok=True)
        Image.fromarray((rng.random((6, 6)) * 255).astype(np.uint8)).save(folder.parent / "c1" / f"{i}.png")
    assert load_data(folder.parent, seed=0) is not load_data(folder.parent, seed=0)  # folders: read each time


def test_bad_options(space):
    with pytest.raises(ValueError, match="fidelities"):
        LiveTrainingEvaluator(space, "digits", fidelities=(2, 1))
    with pytest.raises(ValueError, match="optimizer"):
        LiveTrainingEvaluator(space, "digits", optimizer="lbfgs")
    with pytest.raises(ValueError, match="device"):
        LiveTrainingEvaluator(space, "digits", device="tpu")


def test_nats_size_space_is_nb201_with_one_cell_per_stage_at_C_2C_2C_4C_4C():
    nats = search_spaces.get("nats_size")
    assert nats.size == 8**5
    for C in (8, 16):
        arch = nats.parse(f"{C}:{2 * C}:{2 * C}:{4 * C}:{4 * C}")
        torch.manual_seed(0)
        ours = nats.build(arch)
        torch.manual_seed(0)
        ref = TinyNetwork(nats.cell.ops, C=C, N=1)
        assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
        x = torch.randn(2, 3, 16, 16)
        ours.eval(), ref.eval()
        assert torch.equal(ours(x), ref(x))
    arch = nats.parse("8:64:16:40:24")  # widths that change inside cells
    assert str(arch) == "8:64:16:40:24" and nats.build(arch, 5, in_channels=1)(torch.randn(2, 1, 8, 8)).shape == (2, 5)
    with pytest.raises(ValueError, match="layer width"):
        nats.parse("8:8:8:8:12")
    with pytest.raises(ValueError, match="expected"):
        nats.parse("8:8:8")


def test_sequential_search_records_best_weights_and_resumes(space, tmp_path):
    ev = LiveTrainingEvaluator(space, "digits", fidelities=(1,), device="cpu", seed=0, limit=200)

    def alg():
        return algorithms.get(
            "rea",
            space,
            0,
            assistant=Assistant(TrainingBatchScorer(ev, batch_size=16), 3),
            fidelities=(1,),
            population_size=3,
        )

    full = sequential_search(alg(), ev, trials=5, out_dir=tmp_path / "full", progress=False)
    full_records = read_history(tmp_path / "full")
    assert full.n_evaluations == 5 and len(full_records) == 5
    arch, model = load_best(tmp_path / "full")  # rebuilt from what the run directory records
    best = json.loads((tmp_path / "full" / "best.json").read_text())
    assert str(arch) == best["arch"] == full.best_arch
    _, acc = ev._validate(model, *ev._tensors()[2:])
    assert acc == pytest.approx(best["metric"])  # the saved weights are the trained ones
    part = sequential_search(alg(), ev, trials=3, out_dir=tmp_path / "part", progress=False)
    assert part.n_evaluations == 3
    resumed = sequential_search(alg(), ev, trials=5, out_dir=tmp_path / "part", progress=False)
    assert resumed.n_replayed == 3 and resumed.n_evaluations == 5
    records = read_history(tmp_path / "part")
    assert [r["arch"] for r in records] == [r["arch"] for r in full_records]
    assert [r["metric"] for r in records] == [r["metric"] for r in full_records]
    assert all(r["extra"]["curve"] and r["index"] == space.index(space.parse(r["arch"])) for r in records)


@pytest.mark.slow
def test_ray_search_hyperband_pauses_and_resumes_from_checkpoints(space, tmp_path):
    """Under Tune's Hyperband (HyperBandForBOHB) paused trials continue from their checkpoints: no
    trial reports an epoch twice, and trials that went on after a pause were restored, not restarted."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ev = LiveTrainingEvaluator(space, "digits", fidelities=(1, 3, 9), device="cpu", seed=0, limit=120, batch_size=32)
    alg = algorithms.get("rs", space, 0, fidelities=(9,))
    run = run_live_search(alg, ev, trials=9, out_dir=tmp_path / "hb", scheduler="hyperband", num_cpus=2, progress=False)
    records = read_history(tmp_path / "hb")
    assert run.n_evaluations == 9 and len(records) == 9 and all(r["status"] == "completed" for r in records)
    for r in records:
        seen = r["extra"]["reported_epochs"]
        assert seen == list(range(1, r["extra"]["fidelity_reached"] + 1))  # never back to epoch 1
    assert any(r["extra"]["resumed_from"] > 0 for r in records)  # paused, then resumed from a checkpoint
    # a resumed trial ends exactly where an uninterrupted run ends
    r = next(r for r in records if r["extra"]["resumed_from"] > 0)
    straight = ev.train(space.parse(r["arch"]), r["extra"]["fidelity_reached"])
    assert straight.metric == pytest.approx(r["metric"])
    best = json.loads((tmp_path / "hb" / "best.json").read_text())
    assert best["weights"] == "best_model.pt" and (tmp_path / "hb" / "best_model.pt").is_file()
    assert not list((tmp_path / "hb").glob(".tune-*"))  # Tune's trial storage is gone once the search ends
    arch, model = load_best(tmp_path / "hb")
    _, acc = ev._validate(model, *ev._tensors()[2:])
    assert str(arch) == best["arch"] and acc == pytest.approx(best["metric"])
