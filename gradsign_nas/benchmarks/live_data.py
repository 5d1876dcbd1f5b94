"""The data of a live search: load any supported input and split it into training and validation.

``load_data(data)`` returns a ``Split`` (train/valid float tensors [N, C, H, W], int64 labels) for

- ``"digits"``: scikit-learn's bundled 8x8 digits, no download;
- ``"cifar10"``: the CIFAR-10 npz in the data directory (a seeded stratified part held out for
  validation);
- a folder of images ``root/<class>/*.png|jpg`` (read with Pillow) or an ``.npz`` file with ``x``, ``y``;
- ``(x, y)`` tensors or arrays (split here) or ``(x_train, y_train, x_valid, y_valid)``.

``LiveTrainingEvaluator`` (``gradsign_nas.benchmarks.live``) trains on it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import InputError

__all__ = ["IMAGE_SUFFIXES", "MAX_CLASSES", "check_arrays", "load_data"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def _split_arrays(x: np.ndarray, y: np.ndarray, valid_fraction: float, seed: int):
    from .digits import stratified_split

    train, valid = stratified_split(y, valid_fraction, np.random.default_rng(seed))
    return x[train], y[train], x[valid], y[valid]


def hold_out(split, fraction: float, seed: int):
    """``(split without the held-out images, (x_test, y_test))``: ``fraction`` of every class of the
    training split, drawn with ``seed``; the validation split is untouched."""
    import torch

    from .digits import stratified_split

    y = split.y_train.numpy()
    train, test = stratified_split(y, fraction, np.random.default_rng(seed))
    tr, te = torch.from_numpy(np.sort(train)), torch.from_numpy(np.sort(test))
    rest = type(split)(split.x_train[tr], split.y_train[tr], split.x_valid, split.y_valid)
    return rest, (split.x_train[te], split.y_train[te])


def _standardise(x_train: np.ndarray, x_valid: np.ndarray, mean=None, std=None):
    """Per-channel standardisation with the training split's statistics (or the given ones)."""
    axes = (0, 2, 3)
    mean = (
        np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        if mean is not None
        else x_train.mean(axis=axes, keepdims=True)
    )
    std = np.asarray(std, np.float32).reshape(1, -1, 1, 1) if std is not None else x_train.std(axis=axes, keepdims=True)
    std = np.where(std > 0, std, 1.0)
    return ((x_train - mean) / std).astype(np.float32), ((x_valid - mean) / std).astype(np.float32)


def _as_nchw_float(x: np.ndarray) -> np.ndarray:
    """Images as float32 [N, C, H, W]; uint8 or HWC input is scaled to [0, 1] / transposed."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise InputError(f"expected images as [N, C, H, W] or [N, H, W, C], but got shape {x.shape}")
    if x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    return np.ascontiguousarray(x.astype(np.float32) / scale)


#: the most classes a label may name (a label is a class number: 10**9 would build a 10**9-way output)
MAX_CLASSES = 10_000


def _data_cap() -> int:
    """The most bytes an input's arrays may hold: a quarter of the machine's memory (they are copied
    to float32 and split)."""
    from .._checks import memory_bytes

    return memory_bytes() // 4


def _read_npz_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` of an npz file, their headers read first: no pickled objects, no array larger
    than ``_data_cap`` (a header may claim any shape), a readable archive; one sentence otherwise."""
    import zipfile

    fmt = np.lib.format
    try:
        with zipfile.ZipFile(path) as zf:
            members = {n[: -len(".npy")]: n for n in zf.namelist() if n.endswith(".npy")}
            if "x" not in members or "y" not in members:
                raise InputError(f"expected arrays x and y in {path}, but got {sorted(members)[:10]}")
            size = 0
            for key in ("x", "y"):
                with zf.open(members[key]) as f:
                    version = fmt.read_magic(f)
                    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                    shape, _, dtype = read(f)
                if dtype.hasobject:
                    raise InputError(
                        f"expected numeric arrays in {path}, but {key} holds Python objects (a pickle); "
                        "save plain numbers, e.g. np.savez(path, x=images.astype(np.uint8), y=labels)"
                    )
                size += int(np.prod(shape, dtype=object)) * dtype.itemsize
            if size > _data_cap():
                raise InputError(
                    f"expected arrays of at most {_data_cap() / 2**30:.1f} GiB (a quarter of this machine's memory) "
                    f"in {path}, but its headers claim {size / 2**30:,.1f} GiB"
                )
        with np.load(path, allow_pickle=False) as z:
            return z["x"], z["y"]
    except InputError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise InputError(f"expected an npz archive of arrays x and y at {path}, but it cannot be read ({e})") from None


def check_arrays(x: np.ndarray, y: np.ndarray, source: str, classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of a live search's input, checked before anything is trained or written: images
    of finite real numbers, one integer label (a class number ``0..MAX_CLASSES-1``) per image, at
    least ``classes`` classes (two: a classifier of one class learns nothing); labels as int64.
    One ``InputError`` sentence naming ``source`` otherwise."""
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind not in "uif":
        raise InputError(f"expected images of real numbers in {source}, but they have dtype {x.dtype}")
    if x.ndim not in (3, 4) or 0 in x.shape[1:]:
        raise InputError(
            f"expected images as [N, C, H, W], [N, H, W, C] or [N, H, W] in {source}, but got shape {x.shape}"
        )
    if y.ndim != 1 or len(y) != len(x) or len(y) == 0:
        raise InputError(
            f"expected one label per image in {source}, but got labels of shape {y.shape} for {len(x)} images"
        )
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            bad = float(y[~(np.isfinite(y) & (y == np.round(y)))][0])
            raise InputError(f"expected integer labels (class numbers) in {source}, but got {bad!r}")
    elif y.dtype.kind not in "iu":
        raise InputError(f"expected integer labels (class numbers) in {source}, but they have dtype {y.dtype}")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= MAX_CLASSES:
        raise InputError(
            f"expected labels 0..{MAX_CLASSES - 1:,} (class numbers) in {source}, but got {lo if lo < 0 else hi!r}"
        )
    y = y.astype(np.int64)
    if len(np.unique(y)) < classes:
        raise InputError(f"expected images of at least two classes in {source}, but every label is {int(y[0])}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        n = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise InputError(f"expected finite pixel values in {source}, but {n:,} are NaN or infinite")
    return x, y


def _limit(x, y, limit: Optional[int], seed: int):
    if limit is None or limit >= len(y):
        return x, y
    from .images import select_balanced

    idx = np.sort(select_balanced(y, int(limit), np.random.default_rng(seed + 1)))
    return x[idx], y[idx]


def _read_image_folder(root: Path, image_size: Optional[int]):
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow ships with matplotlib
        raise InputError(
            f"reading the image folder {root} needs Pillow (pip install pillow), but it is not installed"
        ) from None
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise InputError(f"expected an image folder {root}/<class>/<image>, but found no class folders")
    xs, ys, mode = [], [], None
    for label, name in enumerate(classes):
        for f in sorted((root / name).iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(f) as opened:
                    opened.load()
                    mode = mode or ("L" if opened.mode in ("L", "1", "I;16") else "RGB")
                    img: Image.Image = opened.convert(mode)
            except (OSError, ValueError, Image.DecompressionBombError) as e:
                raise InputError(
                    f"expected every file of the image folder {root} to be an image, but {f} cannot be decoded "
                    f"({str(e)[:100]}); remove it or move it out of the folder"
                ) from None
            if image_size is not None:
                img = img.resize((image_size, image_size))
            xs.append(np.asarray(img, dtype=np.uint8))
            ys.append(label)
    if not xs:
        raise InputError(f"expected images ({', '.join(IMAGE_SUFFIXES)}) under {root}/<class>/, but found none")
    shapes = {a.shape for a in xs}
    if len(shapes) > 1:
        raise InputError(
            f"expected images of one size in {root}, but got sizes {sorted(shapes)[:3]}...; pass image_size"
        )
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


_SPLITS: dict = {}  # the last splits loaded by name or path: {key: Split}, at most _KEEP_SPLITS
_KEEP_SPLITS = 2


def load_data(
    data: Any = "digits",
    *,
    valid_fraction: float = 0.2,
    seed: int = 0,
    data_dir=None,
    image_size: Optional[int] = None,
    limit: Optional[int] = None,
):
    """A ``Split`` (train/valid float tensors [N,C,H,W], int64 labels) for any supported ``data``.

    ``"digits"``, ``"cifar10"`` or a file with the same settings (and, for a file, the same size and
    modification time) gives the same ``Split`` object as the last two calls did: the searches of
    one seed in a comparison share their images (in memory, and as one object when they are sent to
    Ray together). Treat a ``Split`` as read-only."""
    named = isinstance(data, str) and data in ("digits", "cifar10")
    try:
        st = None if named or not isinstance(data, (str, os.PathLike)) else os.stat(data)
    except OSError:
        st = None
    if not named and (st is None or not stat.S_ISREG(st.st_mode)):  # arrays, folders: loaded each time
        return _load_data(data, valid_fraction, seed, data_dir, image_size, limit)
    key = (str(data), st and (st.st_size, st.st_mtime_ns), valid_fraction, seed, str(data_dir), image_size, limit)
    split = _SPLITS.get(key)
    if split is None:
        split = _load_data(data, valid_fraction, seed, data_dir, image_size, limit)
        while len(_SPLITS) >= _KEEP_SPLITS:
            _SPLITS.pop(next(iter(_SPLITS)))
        _SPLITS[key] = split
    return split


def _load_data(data: Any, valid_fraction: float, seed: int, data_dir, image_size: Optional[int], limit: Optional[int]):
    import torch

    from .digits import Split, load_digits_split

    if isinstance(data, Split):
        return data
    if isinstance(data, str) and data == "digits":
        if limit is None:
            return load_digits_split(valid_fraction, seed)
        s = load_digits_split(valid_fraction, seed)
        xt, yt = _limit(s.x_train.numpy(), s.y_train.numpy(), limit, seed)
        return Split(torch.from_numpy(xt), torch.from_numpy(yt), s.x_valid, s.y_valid)
    mean = std = None
    if isinstance(data, str) and data == "cifar10":
        from .images import MEAN_STD, _read_npz

        x, y = _read_npz("cifar10", data_dir)
        x, y = _limit(x, y, limit, seed)
        x, mean, std = _as_nchw_float(x), *MEAN_STD["cifar10"]
    elif isinstance(data, (str, os.PathLike)):
        path = Path(data).expanduser()
        if path.is_dir():
            x, y = _read_image_folder(path, image_size)
        elif path.suffix == ".npz" and path.is_file():
            x, y = _read_npz_arrays(path)
        else:
            raise InputError(
                f"expected data 'digits', 'cifar10', an image folder or an .npz file, but got {str(data)!r}"
            )
        x, y = _limit(*check_arrays(x, y, str(path)), limit, seed)
        x = _as_nchw_float(x)
    elif isinstance(data, (tuple, list)) and len(data) in (2, 4):
        arrays = [a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a) for a in data]
        if len(arrays) == 4:
            xt, yt = check_arrays(arrays[0], arrays[1], "the training arrays")
            xv, yv = check_arrays(arrays[2], arrays[3], "the validation arrays", classes=1)
            return Split(
                *(
                    torch.from_numpy(np.ascontiguousarray(a))
                    for a in (_as_nchw_float(xt), yt.astype(np.int64), _as_nchw_float(xv), yv.astype(np.int64))
                )
            )
        x, y = check_arrays(arrays[0], arrays[1], "the given arrays")
        x = _as_nchw_float(x)
        xt, yt, xv, yv = _split_arrays(x, y, valid_fraction, seed)
        return Split(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (xt, yt, xv, yv)))
    else:
        raise InputError(f"expected data 'digits', 'cifar10', a path, or (x, y) tensors, but got {type(data).__name__}")
    if len(x) != len(y):
        raise InputError(f"expected as many labels as images, but got {len(y)} labels for {len(x)} images")
    xt, yt, xv, yv = _split_arrays(x, y, valid_fraction, seed)
    xt, xv = _standardise(xt, xv, mean, std)
    return Split(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (xt, yt, xv, yv)))
