"""scikit-learn's bundled 8x8 handwritten digits as torch tensors: real images, no download.

1,797 grey-scale images of the digits 0-9 (UCI optical recognition data, shipped inside
scikit-learn). ``load_digits_split`` returns a seeded, class-stratified train/validation split,
scaled to [0, 1] and standardised with the training split's mean and std, as ``[N, 1, 8, 8]``
float tensors and int64 labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from gradsign_nas.errors import InputError

if TYPE_CHECKING:
    import torch

NUM_CLASSES = 10
IMAGE_SHAPE = (1, 8, 8)


class Split(NamedTuple):
    """A train/validation split of image tensors ``[N, C, H, W]`` and int64 labels ``[N]``."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor


def stratified_split(y: np.ndarray, valid_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, valid)``: ``valid_fraction`` of every class (at least one) goes to valid."""
    if not 0.0 < float(valid_fraction) < 1.0:
        raise InputError(f"valid_fraction must lie strictly between 0 and 1, but got {valid_fraction!r}")
    train, valid = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < 2:
            raise InputError(f"class {c} needs at least 2 samples to split, but has {len(idx)}")
        k = min(len(idx) - 1, max(1, int(round(valid_fraction * len(idx)))))
        valid.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(valid))


def load_digits_split(valid_fraction: float = 0.2, seed: int = 0) -> Split:
    """The digits, split into train and validation sets by a seeded stratified draw.

    Args:
        valid_fraction: share of every class held out for validation.
        seed: seed of the split (same seed, same split).

    Returns:
        ``Split(x_train [N,1,8,8] float32, y_train, x_valid, y_valid)``, standardised with the
        training split's statistics.

    Example:
        >>> s = load_digits_split(0.2, seed=0)
        >>> tuple(s.x_train.shape[1:]), int(s.y_train.max())
        ((1, 8, 8), 9)
    """
    import torch
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.images.astype(np.float32) / 16.0
    y = bunch.target.astype(np.int64)
    train, valid = stratified_split(y, valid_fraction, np.random.default_rng(seed))
    mean, std = float(x[train].mean()), float(x[train].std())
    x = (x - mean) / std

    def tensor(a: np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(a))

    return Split(tensor(x[train, None]), tensor(y[train]), tensor(x[valid, None]), tensor(y[valid]))
