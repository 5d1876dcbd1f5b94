"""Real CIFAR-10 / CIFAR-100 minibatches from the npz files, normalised with the usual CIFAR mean/std.

The batch is chosen deterministically from a seed and is class-balanced where the file allows:
classes are visited in a seeded random order and each contributes its next seeded-random image, so
a batch of 64 from CIFAR-10 holds 6 or 7 images of every class.
"""

from __future__ import annotations

import os
from typing import Union

import numpy as np

from gradsign_nas.errors import InputError

from ..errors import DataError
from ._files import locate

MEAN_STD = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
_FILE_KEY = {"cifar10": "cifar10_images", "cifar100": "cifar100_images"}
IMAGE_DATASETS = tuple(_FILE_KEY)  # the data sets whose images are in the data directory


def _read_npz(dataset: str, directory) -> tuple[np.ndarray, np.ndarray]:
    if dataset not in _FILE_KEY:
        raise InputError(f"images are available for {', '.join(_FILE_KEY)}, but got dataset {dataset!r}")
    path = locate(_FILE_KEY[dataset], directory)
    try:
        with np.load(path, allow_pickle=False) as z:
            x, y = z["x"], z["y"]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{path} could not be read as an image npz with arrays x and y ({e}).") from None
    if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or len(y) != len(x):
        raise DataError(f"{path} should hold x [N,32,32,3] and y [N], but holds x {x.shape} and y {y.shape}.")
    return x, y.astype(np.int64)


def select_balanced(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` samples, round-robin over the classes in seeded order (balanced where possible)."""
    if n < 1:
        raise InputError(f"batch size must be at least 1, but got {n}")
    if n > len(y):
        raise InputError(f"batch size {n} exceeds the {len(y)} images available")
    classes = rng.permutation(np.unique(y))
    pools = {c: list(rng.permutation(np.flatnonzero(y == c))) for c in classes}
    picked: list[int] = []
    while len(picked) < n:
        for c in classes:
            if pools[c] and len(picked) < n:
                picked.append(int(pools[c].pop()))
    return np.asarray(picked)


def load_batch(
    dataset: str = "cifar10",
    batch_size: int = 64,
    seed: int = 0,
    directory: Union[str, os.PathLike, None] = None,
    dtype=None,
    device=None,
):
    """A normalised ``(x [B,3,32,32], y [B])`` torch batch of real training images.

    Example:
        >>> x, y = load_batch("cifar10", 8, seed=0, directory="../shared/data")
        >>> tuple(x.shape)
        (8, 3, 32, 32)
    """
    import torch

    x, y = _read_npz(dataset, directory)
    idx = select_balanced(y, int(batch_size), np.random.default_rng(seed))
    mean, std = (np.asarray(v, dtype=np.float32).reshape(1, 3, 1, 1) for v in MEAN_STD[dataset])
    xb = (x[idx].astype(np.float32).transpose(0, 3, 1, 2) / 255.0 - mean) / std
    xt = torch.from_numpy(np.ascontiguousarray(xb))
    if dtype is not None:
        xt = xt.to(dtype)
    yt = torch.from_numpy(y[idx])
    if device is not None:
        xt, yt = xt.to(device), yt.to(device)
    return xt, yt
