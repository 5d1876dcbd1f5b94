import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from gradsign_nas.benchmarks import NB201Benchmark, load_batch, restricted_loads
from gradsign_nas.errors import DataError, UnsafePickleError


@pytest.fixture(scope="module")
def bench(data_path):
    return NB201Benchmark(data_path)


def test_published_optima(bench):
    c10, c100, in16 = (bench.column(m) for m in ("cifar10_test", "cifar100_test", "ImageNet16-120_test"))
    assert (int(np.argmax(c10)), round(c10.max(), 4)) == (6111, 94.3733)
    assert (int(np.argmax(c100)), round(c100.max(), 4)) == (9930, 73.5133)
    assert (int(np.argmax(in16)), round(in16.max(), 4)) == (857, 47.3111)
    assert int(np.argmax(bench.column("cifar10_valid_200"))) == 6111


def test_query_forms_agree(bench):
    a = bench.space.from_index(1234)
    q = bench.query(a)
    assert q == bench.query(str(a)) == bench.query(1234)
    assert q["cost_12"] == pytest.approx(12 * q["train_epoch_s"], rel=1e-6)
    assert bench.query(a, "cifar10_valid_12") == q["cifar10_valid_12"]
    with pytest.raises(ValueError, match="unknown NB201 metric"):
        bench.column("accuracy")


def test_mean_cost_matches_findings(bench):
    cost = bench.column("cost_12") + bench.column("valid_epoch_s")
    assert cost.mean() == pytest.approx(112.8, abs=0.5)


def test_cache_is_npz_without_pickle(bench, data_path):
    path = bench._cache_path()
    assert path.is_file()
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) >= {"arch", "cifar10_test", "cost_12"}
    again = NB201Benchmark(data_path)
    assert np.array_equal(again.column("cifar10_valid_12"), bench.column("cifar10_valid_12"))


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/gradsign_nas_pwned",))


def test_malicious_pickle_runs_no_code(tmp_path):
    if os.path.exists("/tmp/gradsign_nas_pwned"):
        os.unlink("/tmp/gradsign_nas_pwned")
    payload = pickle.dumps([{"arch": "x", "valacc": _Evil()}])
    with pytest.raises(UnsafePickleError, match="refusing to unpickle"):
        restricted_loads(payload)
    assert not os.path.exists("/tmp/gradsign_nas_pwned")
    for module_attr in (pickle.dumps(eval), pickle.dumps(subprocess.Popen)):
        with pytest.raises(UnsafePickleError):
            restricted_loads(module_attr)


def test_restricted_unpickler_reads_numpy_scalars():
    obj = [{"arch": "a", "valacc": np.float64(84.5), "cost": np.float64(1.5), "n": np.int64(3)}]
    back = restricted_loads(pickle.dumps(obj))
    assert back == obj and isinstance(back[0]["valacc"], np.float64)
    with pytest.raises(UnsafePickleError):
        restricted_loads(b"not a pickle")


def _copy_nb201(data_path, tmp_path):
    d = tmp_path / "data"
    shutil.copytree(data_path / "nb201", d / "nb201")
    return d


def test_missing_and_corrupt_files_name_the_file(data_path, tmp_path):
    with pytest.raises(DataError, match="vtao_nats_bench.csv was not found"):
        NB201Benchmark(tmp_path / "empty", cache=False)
    d = _copy_nb201(data_path, tmp_path)
    p = d / "nb201" / "nb2_cf10_hp12_info.p"
    os.chmod(p, 0o644)
    with open(p, "r+b") as f:
        f.seek(100)
        f.write(b"XX")
    with pytest.raises(DataError, match="nb2_cf10_hp12_info.p is corrupt"):
        NB201Benchmark(d, cache=False)


def test_cli_reports_missing_data_in_one_sentence(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "gradsign_nas", "data", "check", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert "was not found" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_download_offline_fails_cleanly(tmp_path, monkeypatch):
    import urllib.request

    def offline(*a, **k):
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    from gradsign_nas.benchmarks import download

    with pytest.raises(DataError, match="could not download"):
        download(tmp_path, keys=["nb201_test"])
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_batches_are_seeded_balanced_and_normalised(data_path):
    x, y = load_batch("cifar10", 64, seed=0, directory=data_path)
    x2, y2 = load_batch("cifar10", 64, seed=0, directory=data_path)
    x3, _ = load_batch("cifar10", 64, seed=1, directory=data_path)
    assert torch.equal(x, x2) and torch.equal(y, y2) and not torch.equal(x, x3)
    counts = torch.bincount(y, minlength=10)
    assert counts.min() >= 6 and counts.max() <= 7
    assert x.shape == (64, 3, 32, 32) and abs(float(x.mean())) < 0.5 and 0.6 < float(x.std()) < 1.5
    xc, yc = load_batch("cifar100", 64, seed=0, directory=data_path)
    assert xc.shape == (64, 3, 32, 32) and yc.max() < 100
    with pytest.raises(ValueError, match="exceeds"):
        load_batch("cifar100", 101, seed=0, directory=data_path)
    with pytest.raises(ValueError, match="at least 1"):
        load_batch("cifar10", 0, seed=0, directory=data_path)
    with pytest.raises(ValueError, match="images are available"):
        load_batch("svhn", 8, seed=0, directory=data_path)
