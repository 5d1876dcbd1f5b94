"""NAS-Bench-201 tabular data for all 15,625 architectures, read from the public files.

The three source files (two CSVs and the hp12 pickle) are checked by sha256 and imported once into a
compact ``.npz`` cache (no pickle) under the cache directory; later loads read only the cache.

Example:
    >>> from gradsign_nas.benchmarks import NB201Benchmark
    >>> bench = NB201Benchmark("../shared/data")
    >>> round(bench.query(bench.space.from_index(6111))["cifar10_test"], 2)
    94.37
"""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path
from typing import Any, Union

import numpy as np

from gradsign_nas.errors import InputError

from ..errors import DataError
from ._files import FILES, cache_dir, data_dir, locate
from ._unpickle import restricted_loads

# metric name -> description
METRICS = {
    "cifar10_test": "CIFAR-10 test accuracy after the 200-epoch schedule (%, mean over seeds)",
    "cifar100_test": "CIFAR-100 test accuracy after the 200-epoch schedule (%)",
    "ImageNet16-120_test": "ImageNet16-120 test accuracy after the 200-epoch schedule (%)",
    "cifar10_valid_12": "cifar10-valid validation accuracy after the 12-epoch schedule (%)",
    "cifar10_valid_200": "cifar10-valid validation accuracy after 200 epochs (%, 3-seed mean)",
    "cost_12": "seconds to train the 12-epoch schedule on cifar10-valid (= 12 x train_epoch_s)",
    "train_epoch_s": "seconds per training epoch on cifar10-valid",
    "valid_epoch_s": "seconds per validation pass on cifar10-valid",
}
DATASET_TEST_METRIC = {"cifar10": "cifar10_test", "cifar100": "cifar100_test", "ImageNet16-120": "ImageNet16-120_test"}
DATASETS = tuple(DATASET_TEST_METRIC)  # the three NB201 data sets, in the order every table uses
_SOURCES = ("nb201_test", "nb201_valid200", "nb201_hp12")
_CACHE_VERSION = 1


def _read_csv(path: Path, columns: dict[str, str]) -> tuple[list[str], dict[str, np.ndarray]]:
    archs: list[str] = []
    values: dict[str, list[float]] = {k: [] for k in columns}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        need = set(columns.values()) | {"arch"}
        for row in reader:
            arch = row.get("ArchitectureString", row.get("arch_str"))
            if arch is None:
                raise DataError(f"{path} has no architecture column; it is not the expected NB201 file.")
            archs.append(arch)
            for k, col in columns.items():
                if col not in row:
                    raise DataError(f"{path} lacks the column {col!r}; it is not the expected NB201 file.")
                values[k].append(float(row[col]))
        del need
    return archs, {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}


def import_tables(directory: Union[str, os.PathLike, None] = None) -> dict[str, np.ndarray]:
    """Read and cross-check the three NB201 source files (sha256 verified); returns arrays by index."""
    test_path = locate("nb201_test", directory)
    valid_path = locate("nb201_valid200", directory)
    hp12_path = locate("nb201_hp12", directory)
    archs, test = _read_csv(
        test_path,
        {
            "cifar10_test": "CIFAR10TestAccuracy200Epochs",
            "cifar100_test": "CIFAR100TestAccuracy200Epochs",
            "ImageNet16-120_test": "ImageNetTestAccuracy200Epochs",
        },
    )
    archs_v, valid = _read_csv(
        valid_path,
        {
            "cifar10_valid_200": "valid-accuracy",
            "train_epoch_s": "train-per-time",
            "valid_epoch_s": "valid-per-time",
        },
    )
    if archs_v != archs:
        raise DataError(
            f"{valid_path} lists architectures in another order than {test_path}; expected the official index order."
        )
    hp = restricted_loads(hp12_path.read_bytes())
    records = [hp[k] for k in sorted(hp, key=int)] if isinstance(hp, dict) else list(hp)
    if len(records) != len(archs):
        raise DataError(f"{hp12_path} holds {len(records)} records, expected {len(archs)}.")
    for i, r in enumerate(records):
        if r["arch"] != archs[i]:
            raise DataError(f"{hp12_path} record {i} is {r['arch']!r}, expected {archs[i]!r} (official index order).")
    tables = {"arch": np.asarray(archs)}
    tables.update(test)
    tables.update(valid)
    tables["cifar10_valid_12"] = np.asarray([float(r["valacc"]) for r in records])
    tables["cost_12"] = np.asarray([float(r["cost"]) for r in records])
    return tables


class NB201Benchmark:
    """Query NB201 metrics by architecture or index. Loads from the npz cache when present."""

    metrics = tuple(METRICS)

    def __init__(self, directory: Union[str, os.PathLike, None] = None, cache: bool = True) -> None:
        from ..search_spaces import get

        self.space = get("nb201")
        self.data_dir = data_dir(directory)
        self._tables = self._load(cache)
        self.archs = [str(a) for a in self._tables["arch"]]

    def _cache_path(self) -> Path:
        """The cache of the imported tables, named after the sources' sha256. Every source file is
        hashed again on every load (about 9 MB, a few tens of milliseconds), so a file replaced after
        the first import (even with its size and mtime restored) is refused, not read from the cache."""
        for key in _SOURCES:
            locate(key, self.data_dir)  # DataError naming the file if it is missing or corrupt
        tag = hashlib.sha256("|".join(FILES[k].sha256 for k in _SOURCES).encode()).hexdigest()[:16]
        return cache_dir() / f"nb201_v{_CACHE_VERSION}_{tag}.npz"

    def _load(self, cache: bool) -> dict[str, np.ndarray]:
        path = self._cache_path() if cache else None
        if path is not None and path.is_file():
            import zipfile

            try:
                with np.load(path, allow_pickle=False) as z:
                    cached = {k: z[k] for k in z.files}
                lengths = {len(cached[k]) for k in ("arch", *METRICS)}  # KeyError: a table is missing
                if len(lengths) != 1 or cached["arch"].dtype.kind != "U":
                    raise ValueError(f"tables of lengths {sorted(lengths)}")
                return cached
            except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as e:
                from .._io import move_aside

                move_aside(path, f"{type(e).__name__}: {str(e)[:100]}")  # rebuilt below from the sources
        tables = import_tables(self.data_dir)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                from .._io import atomic_path

                with atomic_path(path, suffix=".npz") as tmp:
                    # Any: numpy's stub checks savez's **kwds against its allow_pickle: bool keyword
                    arrays: dict[str, Any] = {k: (v.astype("U") if k == "arch" else v) for k, v in tables.items()}
                    np.savez(tmp, **arrays)
            except OSError:
                pass  # read-only cache dir: work from memory
        return tables

    def __len__(self) -> int:
        return len(self.archs)

    def column(self, metric: str) -> np.ndarray:
        """One metric for all architectures, in official index order."""
        if metric not in self._tables or metric == "arch":
            raise InputError(f"unknown NB201 metric {metric!r}; expected one of {', '.join(METRICS)}")
        return self._tables[metric]

    def index_of(self, arch) -> int:
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
            self.space.from_index(int(arch))  # range check
            return int(arch)
        if isinstance(arch, str):
            arch = self.space.parse(arch)
        return self.space.index(arch)

    def query(self, arch, metric: str | None = None):
        """All metrics of ``arch`` (an ``NB201Arch``, its string, or its index) as a dict, or one."""
        i = self.index_of(arch)
        if metric is not None:
            return float(self.column(metric)[i])
        out = {"index": i, "arch": self.archs[i]}
        out.update({m: float(self._tables[m][i]) for m in METRICS})
        return out
