"""The packaged whole-space GradSign table: complete, described, and reproducible on the CPU."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from gradsign_nas import proxies, search_spaces
from gradsign_nas.assist import TableScorer
from gradsign_nas.benchmarks import NB201Benchmark, load_batch


@pytest.fixture(scope="module")
def table():
    from importlib import resources

    with resources.as_file(resources.files("gradsign_nas").joinpath("tables", "nb201_gradsign.npz")) as p:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


def test_table_is_complete_and_described(table):
    meta = json.loads(str(table["meta"]))
    assert meta["batch_size"] == 64 and meta["batch_seed"] == 0 and meta["proxy"] == "gradsign"
    for d in ("cifar10", "cifar100"):
        s = table[f"scores_{d}"]
        assert s.shape == (15625,) and np.isfinite(s).all()
        assert (table[f"seconds_{d}"] > 0).all()


def test_zero_exactly_for_disconnected_cells(table):
    space = search_spaces.get("nb201")
    connected = np.array([space.is_connected(a) for a in space.all()])
    assert ((table["scores_cifar10"] == 0) == ~connected).all()
    assert (~connected).sum() == 341


@pytest.mark.parametrize("dataset, index", [("cifar10", 6111), ("cifar10", 1), ("cifar100", 9930)])
def test_table_reproduces_on_cpu(table, data_path, dataset, index):
    """The table was scored on a GPU in float32; CPU scoring of the same recipe agrees closely."""
    space = search_spaces.get("nb201")
    x, y = load_batch(dataset, 64, seed=0, directory=data_path)
    torch.manual_seed(0)
    net = space.build(space.from_index(index), num_classes=10 if dataset == "cifar10" else 100)
    assert proxies.gradsign(net, x, y) == pytest.approx(table[f"scores_{dataset}"][index], rel=2e-3)


def test_table_correlates_with_accuracy(table, data_path):
    bench = NB201Benchmark(data_path)
    rho = spearmanr(table["scores_cifar10"], bench.column("cifar10_test"))[0]
    assert rho > 0.75


def test_scorer_reads_the_packaged_table(table):
    scorer = TableScorer.nb201("cifar100")
    space = search_spaces.get("nb201")
    assert scorer.score(space.from_index(42)) == table["scores_cifar100"][42]
    with pytest.raises(ValueError, match="ImageNet"):
        TableScorer.nb201("ImageNet16-120")


def test_score_space_cli_small_run_and_bad_input(data_path, tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "gradsign_nas",
        "score-space",
        "--data-dir",
        str(data_path),
        "--first",
        "2",
        "--cpu-procs",
        "1",
        "--datasets",
        "cifar10",
        "--score-batch-size",
        "8",
        "--json",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["n"] == 2 and summary["by_worker"] == {"cpu": 2} and summary["compile"] is False
    # --compile compiles the GPU pass: refused without --gpu-procs (and without CUDA), not run the usual way
    compiled = subprocess.run(cmd + ["--compile"], capture_output=True, text=True, timeout=300)
    assert compiled.returncode == 2 and "--compile" in compiled.stderr and "Traceback" not in compiled.stderr
    if not torch.cuda.is_available():
        no_gpu = subprocess.run(cmd + ["--compile", "--gpu-procs", "1"], capture_output=True, text=True, timeout=300)
        assert no_gpu.returncode == 2 and "CUDA" in no_gpu.stderr and "Traceback" not in no_gpu.stderr
    bad = subprocess.run(cmd[:-5] + ["--first", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--first" in bad.stderr
    out = tmp_path / "t.npz"
    bad = subprocess.run(cmd + ["--out", str(out)], capture_output=True, text=True)
    assert bad.returncode == 2 and not out.exists()


# -- the baseline tables and ensembles ----------------------------------------------------------------
BASELINES = (
    "synflow",
    "snip",
    "grad_norm",
    "fisher",
    "grasp",
    "jacob_cov",
    "naswot",
    "plain",
    "l2_norm",
    "params",
    "flops",
)


@pytest.mark.parametrize("proxy", BASELINES)
def test_baseline_tables_are_complete_and_reproduce_on_cpu(proxy, data_path):
    from importlib import resources

    with resources.as_file(resources.files("gradsign_nas").joinpath("tables", f"nb201_{proxy}.npz")) as p:
        with np.load(p, allow_pickle=False) as z:
            t = {k: z[k] for k in z.files}
    meta = json.loads(str(t["meta"]))
    assert meta["proxy"] == proxy and meta["batch_size"] == 64 and meta["batch_seed"] == 0
    s = t["scores_cifar10"]
    assert s.shape == (15625,) and not np.isnan(s).any() and not np.isposinf(s).any()
    space = search_spaces.get("nb201")
    disconnected = ~np.array([space.is_connected(a) for a in space.all()])
    assert set(np.flatnonzero(np.isneginf(s))) <= set(np.flatnonzero(disconnected))
    x, y = load_batch("cifar10", 64, seed=0, directory=data_path)
    torch.manual_seed(0)
    net = space.build(space.from_index(6111), num_classes=10)
    # float32 on the GPU against the CPU: grasp's Hessian-vector product is the most sensitive (2.2 %)
    rel = 5e-2 if proxy == "grasp" else 2e-2
    assert proxies.get(proxy)(net, x, y) == pytest.approx(s[6111], rel=rel, abs=1e-6)


def test_an_ensemble_ranks_by_summed_ranks():
    a = TableScorer({"x": 1.0, "y": 2.0, "z": 3.0}, {"x": 1.0, "y": 1.0, "z": 1.0})
    b = TableScorer({"x": 30.0, "y": 10.0, "z": 20.0}, {"x": 2.0, "y": 2.0, "z": 2.0})
    e = TableScorer.ensemble([a, b], ["a", "b"])
    assert [e.score(k) for k in "xyz"] == [4.0, 3.0, 5.0] and e.cost_s("x") == 3.0
    with pytest.raises(ValueError, match="at least two"):
        TableScorer.ensemble([a])
    packaged = TableScorer.nb201("cifar10", "gradsign+jacob_cov")
    assert len(packaged) == 15625 and packaged.meta["proxy"] == "gradsign+jacob_cov"


def test_correlate_reads_tables_instantly(data_path, tmp_path):
    from gradsign_nas.cli import main

    out = tmp_path / "c"
    assert (
        main(
            [
                "correlate",
                "--scores",
                "table",
                "--all",
                "--proxy",
                "gradsign+jacob_cov",
                "--data-dir",
                str(data_path),
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 15625 and summary["spearman"] > 0.85
    assert (
        main(
            [
                "correlate",
                "--scores",
                "table",
                "--space",
                "nb101",
                "--proxy",
                "synflow",
                "--data-dir",
                str(data_path),
                "--out",
                str(tmp_path / "d"),
            ]
        )
        == 2
    )
