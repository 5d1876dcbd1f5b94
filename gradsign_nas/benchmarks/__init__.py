"""Benchmark data: NB201 tables, CIFAR images, the NB101/NB301 subsets, and the files behind them."""

from ._files import FILES, cache_dir, data_dir, download, locate
from ._unpickle import RestrictedUnpickler, restricted_loads
from .images import load_batch
from .nb201 import DATASET_TEST_METRIC, DATASETS, METRICS, NB201Benchmark
from .nb201_evaluator import NB201TabularEvaluator
from .subsets import load_subset

__all__ = [
    "FILES",
    "cache_dir",
    "data_dir",
    "download",
    "locate",
    "RestrictedUnpickler",
    "restricted_loads",
    "load_batch",
    "load_subset",
    "DATASET_TEST_METRIC",
    "DATASETS",
    "METRICS",
    "NB201Benchmark",
    "NB201TabularEvaluator",
]
