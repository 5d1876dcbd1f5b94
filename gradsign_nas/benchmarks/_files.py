"""The public data files the toolkit reads: where they come from, their sha256, and how to check,
find and download them. Nothing here touches the network unless ``download`` is called."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
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

    @property
    def url(self) -> str:
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.source_path}"


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
            "",
            "",
            "",
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
# The CIFAR-10 npz is decoded from 10,000 JPEGs of a repository, and the CIFAR-100 npz joins two
# files; neither is a single downloadable file, so `download` fetches what is one file and names
# how to get the rest.
DOWNLOADABLE = ("nb201_test", "nb201_valid200", "nb201_hp12", "nb101_subset", "nb301_subset")


def data_dir(path: Union[str, os.PathLike, None] = None) -> Path:
    """The data directory: ``path``, else ``$GRADSIGN_NAS_DATA``, else ``~/.cache/gradsign-nas/data``."""
    if path is not None:
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


def download(
    directory: Union[str, os.PathLike, None] = None,
    keys: Optional[Iterable[str]] = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> list[Path]:
    """Fetch the downloadable data files into ``directory``, checking each sha256.

    A file already present with the right checksum is kept. Each file is written to a temporary name
    and moved into place only once its checksum matches, so nothing half-written is left behind.
    """
    d = data_dir(directory)
    keys = list(DOWNLOADABLE if keys is None else keys)
    done = []
    for key in keys:
        if key not in FILES or not FILES[key].repo:
            raise DataError(
                f"data file {key!r} cannot be downloaded as one file; expected one of {', '.join(DOWNLOADABLE)}."
            )
        f = FILES[key]
        target = d / f.path
        if target.is_file() and sha256(target) == f.sha256:
            done.append(target)
            continue
        made = [p for p in reversed(target.parents) if not p.exists()]  # folders to remove again on failure
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with atomic_path(target) as tmp:
                with open(tmp, "wb") as out:
                    try:
                        with urllib.request.urlopen(f.url, timeout=timeout) as resp:
                            shutil.copyfileobj(resp, out)
                    except (urllib.error.URLError, OSError, TimeoutError) as e:
                        reason = getattr(e, "reason", e)
                        raise DataError(
                            f"could not download {f.path} from {f.url} ({reason}); check the network "
                            f"or copy the file into {d} by hand"
                        ) from None
                got = sha256(tmp)
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
        done.append(target)
    return done
