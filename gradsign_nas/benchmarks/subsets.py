"""The 500-architecture NAS-Bench-101 and NAS-Bench-301 subsets of NAS-Bench-Suite-Zero (NASLib).

Each file maps an architecture key to CIFAR-10 validation accuracy (NB101: 108 epochs) and the values
of 11 zero-cost proxies that NASLib computed. Keys are Python literals (tuples and lists of ints),
read with ``ast.literal_eval``, which evaluates literals only and runs no code.
"""

from __future__ import annotations

import ast
import json
import os
from typing import Union

import numpy as np

from gradsign_nas.errors import InputError

from ..errors import DataError
from ._files import locate

_SOURCES = {"nb101": ("nb101_subset", "nasbench101"), "darts": ("nb301_subset", "nasbench301")}


def _arch(space_name: str, space, key: str):
    try:
        value = ast.literal_eval(key)
    except (ValueError, SyntaxError):
        raise DataError(f"architecture key {key[:60]!r} of the {space_name} subset is not a Python literal.") from None
    if space_name == "nb101":
        if not isinstance(value, tuple) or len(value) != 56:
            raise DataError(f"an NB101 subset key is 49 matrix bits and 7 op codes, but got {key[:60]!r}.")
        return space.from_matrix(value[:49], value[49:])
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise DataError(f"an NB301 subset key is two lists of 8 (input, op) pairs, but got {key[:60]!r}.")
    return space.from_nb301(value[0], value[1])


def load_subset(
    space: str, directory: Union[str, os.PathLike, None] = None, dataset: str = "cifar10"
) -> tuple[list, np.ndarray, dict[str, np.ndarray]]:
    """The subset for ``space`` ("nb101" or "darts"): ``(archs, accuracy, reference)``.

    ``archs`` are architectures of that search space in file order (NB101 keys are unpruned
    matrices; the returned archs are pruned, so two keys may give equal archs), ``accuracy`` is
    ``val_accuracy`` in percent, and ``reference[proxy]`` holds the file's value of each proxy for
    the same rows.

    Example:
        >>> archs, acc, ref = load_subset("darts", "../shared/data")
        >>> len(archs), sorted(ref)[:3]
        (500, ['epe_nas', 'fisher', 'flops'])
    """
    if space not in _SOURCES:
        raise InputError(f"subsets exist for {', '.join(_SOURCES)}, but got space {space!r}")
    from ..search_spaces import get

    key, top = _SOURCES[space]
    path = locate(key, directory)
    try:
        with open(path, encoding="utf-8") as f:
            table = json.load(f)[top][dataset]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path} does not hold {top}/{dataset} in the NAS-Bench-Suite-Zero format ({e}).") from None
    sp = get(space)
    archs, rows = [], []
    for k, record in table.items():
        try:
            archs.append(_arch(space, sp, k))
        except ValueError as e:
            if isinstance(e, DataError):
                raise
            raise DataError(f"{path} has an architecture that is not valid in the {space} space ({e}).") from None
        rows.append(record)
    names = sorted({n for r in rows for n in r if n != "val_accuracy"})
    accuracy = np.array([float(r["val_accuracy"]) for r in rows])
    reference = {n: np.array([float(r.get(n, np.nan)) for r in rows]) for n in names}
    return archs, accuracy, reference
