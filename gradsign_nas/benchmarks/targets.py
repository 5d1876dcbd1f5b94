"""Which benchmark accuracies each search space has: the table a proxy's rank correlation looks up.

``nb201``: the 200-epoch test accuracy of each of its datasets for all 15,625 architectures
(``NB201Benchmark``'s ``<dataset>_test`` column, in official index order); ``nb101`` / ``darts``: the
500-architecture NAS-Bench-Suite-Zero subsets' validation accuracy (CIFAR-10 only).
"""

from __future__ import annotations

import os
from typing import Union

import numpy as np

from ..errors import InputError

__all__ = ["DEFAULT_SAMPLE", "SPACE_DATASETS", "check_space_dataset", "load_targets"]

#: space -> the datasets with benchmark accuracies
SPACE_DATASETS = {"nb201": ("cifar10", "cifar100"), "nb101": ("cifar10",), "darts": ("cifar10",)}
#: space -> architectures a correlation samples by default; other spaces: all architectures of the subset
DEFAULT_SAMPLE = {"nb201": 1000}


def check_space_dataset(space: str, dataset: str) -> None:
    """Raise ``ValueError`` unless accuracies of ``dataset`` exist for ``space``."""
    if space not in SPACE_DATASETS:
        raise InputError(
            f"expected a space with benchmark accuracies, one of {', '.join(SPACE_DATASETS)}, but got {space!r}"
        )
    if dataset not in SPACE_DATASETS[space]:
        raise InputError(
            f"expected a dataset of the {space} benchmark, one of {', '.join(SPACE_DATASETS[space])}, but got {dataset!r}"
        )


def load_targets(
    space: str, dataset: str, directory: Union[str, os.PathLike, None] = None
) -> tuple[list, np.ndarray, str]:
    """All architectures of the benchmark, their accuracy, and what that accuracy is.

    ``nb201``: the 15,625 architectures in official index order and ``NB201Benchmark``'s
    ``<dataset>_test`` column; ``nb101`` / ``darts``: the subset from
    ``gradsign_nas.benchmarks.subsets.load_subset`` and its ``val_accuracy``.
    """
    check_space_dataset(space, dataset)
    if space == "nb201":
        from .nb201 import DATASET_TEST_METRIC, NB201Benchmark

        bench = NB201Benchmark(directory)
        metric = DATASET_TEST_METRIC[dataset]
        return bench.space.all(), np.asarray(bench.column(metric), dtype=np.float64), metric
    try:
        from .subsets import load_subset
    except ImportError:
        raise InputError(
            f"expected the {space} subset loader gradsign_nas.benchmarks.subsets.load_subset, "
            "but this build does not have it yet"
        ) from None
    archs, accuracy, _reference = load_subset(space, directory)
    return list(archs), np.asarray(accuracy, dtype=np.float64), "val_accuracy"
