"""NAS-Bench-201 as a tabular ``Evaluator``: a lookup in arrays, no training.

Two fidelities, as in the NAS-Bench-201 search protocol:

- ``12`` epochs: reward = ``cifar10_valid_12`` (cifar10-valid validation accuracy after the short
  12-epoch schedule); cost = ``cost_12 + valid_epoch_s`` (its training time plus one validation
  pass; 112.8 s on average over the space).
- ``200`` epochs: reward = ``cifar10_valid_200``; cost = ``200 * train_epoch_s + valid_epoch_s``.

``extra`` holds the architecture's official ``index`` and its 200-epoch test accuracies
(``cifar10_test``, ``cifar100_test``, ``ImageNet16-120_test``), for reporting only.

Example:
    >>> from gradsign_nas.benchmarks.nb201_evaluator import NB201TabularEvaluator
    >>> ev = NB201TabularEvaluator.from_directory("../shared/data")
    >>> r = ev.evaluate(ev.space.from_index(6111), 12)
    >>> round(r.extra["cifar10_test"], 2)
    94.37
"""

from __future__ import annotations

import os
from typing import Any, Hashable, Union

import numpy as np

from gradsign_nas.algorithms.base import Result
from gradsign_nas.errors import InputError

from .evaluator import Evaluator
from .nb201 import DATASET_TEST_METRIC

TEST_METRICS = tuple(DATASET_TEST_METRIC.values())  # cifar10_test, cifar100_test, ImageNet16-120_test
FIDELITIES = (12, 200)


class NB201TabularEvaluator(Evaluator):
    """Looks architectures up in NB201's tables (see the module docstring for rewards and costs).

    Args:
        benchmark: an ``NB201Benchmark`` (its arrays are copied; the benchmark is not kept).
    """

    fidelities = FIDELITIES
    test_metrics = DATASET_TEST_METRIC  # dataset -> its 200-epoch test accuracy in Result.extra

    def __init__(self, benchmark) -> None:
        self.space = benchmark.space
        col = benchmark.column
        valid_s = col("valid_epoch_s")
        self._reward = {12: col("cifar10_valid_12").tolist(), 200: col("cifar10_valid_200").tolist()}
        self._cost = {12: (col("cost_12") + valid_s).tolist(), 200: (200.0 * col("train_epoch_s") + valid_s).tolist()}
        self._test = [col(m).tolist() for m in TEST_METRICS]
        self._index: dict = {}
        self._results: dict = {}

    def ceiling(self, fidelity: Any = 12) -> dict:
        """The protocol's ceiling: the architecture with the highest search reward at ``fidelity``
        (the first in index order on a tie) and its test accuracies; no search scored by that reward
        can report more on average. ``{"index", "arch", "reward", "test": {dataset: accuracy}}``."""
        f = self._fidelity(fidelity)
        i = int(np.argmax(self._reward[f]))
        return {
            "index": i,
            "arch": str(self.space.from_index(i)),
            "reward": self._reward[f][i],
            "fidelity": f,
            "test": {m[: -len("_test")]: col[i] for m, col in zip(TEST_METRICS, self._test)},
        }

    @classmethod
    def from_directory(cls, directory: Union[str, os.PathLike, None] = None) -> "NB201TabularEvaluator":
        """Load the NB201 tables from a data directory (see ``gradsign_nas.benchmarks.data_dir``)."""
        from .nb201 import NB201Benchmark

        return cls(NB201Benchmark(directory))

    def __getstate__(self) -> dict:  # the index cache is rebuilt on demand
        state = dict(self.__dict__)
        state["_index"] = {}
        state["_results"] = {}
        return state

    def __len__(self) -> int:
        return len(self._test[0])

    def index(self, arch: Hashable) -> int:
        """The official index of ``arch`` (an ``NB201Arch``, its string, or an index)."""
        i = self._index.get(arch)
        if i is not None:
            return i
        if isinstance(arch, str):
            i = self.space.index(self.space.parse(arch))
        elif isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
            self.space.from_index(int(arch))  # range check
            i = int(arch)
        else:
            self.space.check(arch)  # "expected an architecture of the nb201 space, but got ..."
            i = self.space.index(arch)
        self._index[arch] = i
        return i

    def _fidelity(self, fidelity: Any) -> int:
        if fidelity is None:
            return FIDELITIES[-1]
        if fidelity not in self._reward:
            raise InputError(f"NB201 tabular fidelities are {FIDELITIES} epochs, but got {fidelity!r}")
        return int(fidelity)

    def evaluate(self, arch: Hashable, fidelity: Any = 12) -> Result:
        """The reward, cost and test accuracies of ``arch`` at ``fidelity`` (12 or 200 epochs).

        Results are memoised per (arch, fidelity); treat ``Result.extra`` as read-only.
        """
        key = (arch, fidelity)
        r = self._results.get(key)
        if r is not None:
            return r
        f = self._fidelity(fidelity)
        i = self.index(arch)
        t = self._test
        r = self._results[key] = Result(
            self._reward[f][i],
            self._cost[f][i],
            {"index": i, TEST_METRICS[0]: t[0][i], TEST_METRICS[1]: t[1][i], TEST_METRICS[2]: t[2][i]},
        )
        return r

    def test_accuracies(self, arch: Hashable) -> dict[str, float]:
        """The 200-epoch test accuracies of ``arch`` on the three datasets."""
        i = self.index(arch)
        return {m: self._test[k][i] for k, m in enumerate(TEST_METRICS)}
