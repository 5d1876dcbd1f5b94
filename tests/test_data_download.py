"""`gradsign-nas data download` from a mirror on disk (``--mirror file://...``): every file the tests and
the README's commands read is fetched and sha256-checked; the CIFAR-10 file is built from 10,000 JPEG
files, the CIFAR-100 file from two npz files; a build whose checksum differs writes nothing."""

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from gradsign_nas import cli
from gradsign_nas.benchmarks import _files
from gradsign_nas.errors import DataError


def _mirror(root, data_path):
    """A copy of the sources' layout ({repo}/{commit}/{path}) made from the data directory: the single
    files byte for byte, the CIFAR-100 parts as two one-array npz files, the CIFAR-10 images re-encoded
    as JPEGs (so their decoded pixels differ slightly from the registered file's)."""
    for key, f in _files.FILES.items():
        src = data_path / f.path
        base = root / f.repo / f.commit
        if key == "cifar10_images":
            with np.load(src) as z:
                x, names = z["x"], z["names"]
            for img, name in zip(x, names):
                (base / name).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(img).save(base / name, quality=75)
        elif key == "cifar100_images":
            with np.load(src) as z:
                x, y = z["x"], z["y"]
            xp, yp = (base / p for p in _files.CIFAR100_PARTS)
            xp.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(xp, x_train=x)
            np.savez_compressed(yp, y_train=y.astype(np.uint8).reshape(-1, 1))
        else:
            (base / f.source_path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, base / f.source_path)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, data_path):
    root = tmp_path_factory.mktemp("mirror")
    _mirror(root, data_path)
    return root


def test_download_fetches_every_file_and_refuses_a_cifar10_build_with_another_checksum(
    mirror, tmp_path, capsys, data_path
):
    d = tmp_path / "data"
    argv = ["data", "download", "--data-dir", str(d), "--mirror", mirror.as_uri(), "--no-progress"]
    assert cli.main(argv) == 2  # our re-encoded JPEGs decode to other pixels: refused
    err = capsys.readouterr().err
    assert "cifar10_train_10k" in err and "sha256" in err
    assert not (d / _files.FILES["cifar10_images"].path).exists()
    assert not list(d.rglob("*.tmp*")) and not list(d.rglob(".*"))  # nothing half-written
    assert "1 of 7 data files could not be fetched" in err and "the other 6 are in place" in err
    for key, f in _files.FILES.items():  # every other file was still fetched, and verified
        assert key == "cifar10_images" or _files.sha256(d / f.path) == f.sha256
    with_cifar10 = d / _files.FILES["cifar10_images"].path  # one copied in: data check passes, download keeps it
    shutil.copyfile(data_path / _files.FILES["cifar10_images"].path, with_cifar10)
    assert cli.main(argv) == 0 and cli.main(["data", "check", "--data-dir", str(d)]) == 0
    assert "7 files present and verified" in capsys.readouterr().out


def test_cifar10_is_decoded_from_the_jpegs_in_class_order_and_cifar100_joined(mirror, tmp_path, monkeypatch, data_path):
    f = _files.FILES["cifar10_images"]
    base = mirror / f.repo / f.commit
    names = [f"train/{c}/{i:04d}.jpg" for c in _files.CIFAR10_CLASSES for i in range(1000)]
    x = np.stack([np.asarray(Image.open(base / n)) for n in names])
    buf = io.BytesIO()
    np.savez_compressed(buf, x=x, y=np.repeat(np.arange(10), 1000), names=np.array(names))
    import hashlib

    expected = hashlib.sha256(buf.getvalue()).hexdigest()
    monkeypatch.setitem(
        _files.FILES, "cifar10_images", _files.DataFile(f.key, f.path, expected, f.repo, f.commit, f.source_path)
    )
    d = tmp_path / "data"
    got = _files.download(d, keys=["cifar10_images", "cifar100_images"], progress=False, mirror=mirror.as_uri())
    assert [p.name for p in got] == [p.rsplit("/", 1)[1] for p in (f.path, _files.FILES["cifar100_images"].path)]
    with np.load(got[0]) as z:
        assert np.array_equal(z["x"], x) and list(z["names"]) == names
        assert z["y"].dtype == np.int64 and np.array_equal(np.bincount(z["y"]), [1000] * 10)
    # the CIFAR-100 join is byte-identical to the registered file
    assert _files.sha256(got[1]) == _files.FILES["cifar100_images"].sha256
    # and the loaders read what was built
    from gradsign_nas.benchmarks import load_batch

    xb, yb = load_batch("cifar10", 20, seed=0, directory=d)
    assert tuple(xb.shape) == (20, 3, 32, 32) and len(set(yb.tolist())) == 10


def test_download_refuses_unknown_keys_and_a_missing_mirror_file(tmp_path):
    with pytest.raises(DataError, match="expected data file keys"):
        _files.download(tmp_path / "d", keys=["nope"], progress=False)
    with pytest.raises(DataError, match="could not download"):
        _files.download(tmp_path / "d", keys=["nb101_subset"], progress=False, mirror=(tmp_path / "empty").as_uri())
    assert not (tmp_path / "d").exists()
