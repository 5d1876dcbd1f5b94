"""Checks every run kind shares, each one sentence naming the option, what was expected and what came.

Numbers use ``gradsign_nas._checks``; this module adds lists of names, output paths, devices and the
upper bounds that protect the machine (beyond them a run cannot finish in reasonable time or fills
the disk, so it is refused rather than left to run for hours).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence

from .._checks import positive_int, positive_number
from ..errors import InputError
from ._vocabulary import OPTIONS

__all__ = [
    "MAX_BATCH",
    "MAX_CELLS",
    "MAX_EPOCHS",
    "MAX_K",
    "MAX_PROCS",
    "MAX_RUNS",
    "check_address",
    "check_device",
    "check_network_size",
    "network_weights",
    "check_out_dir",
    "check_training_memory",
    "names",
    "positive_int",
    "positive_number",
    "refuse_unused",
]

MAX_K = 10_000
MAX_RUNS = 100_000
MAX_EPOCHS = 10_000
MAX_BATCH = 1_000_000
MAX_PROCS = 1024
VARIANTS = ("vanilla", "assisted")


def flag(name: str) -> str:
    """The command-line spelling of option ``name``."""
    return OPTIONS[name].flag if name in OPTIONS else name


def names(name: str, text: Any, valid: Sequence[str]) -> list[str]:
    """A list option (comma-separated text, or ``'all'`` for every valid name) as a list without
    repeats, each among ``valid``."""
    if not isinstance(text, str):
        raise InputError(f"expected {flag(name)} to be comma-separated names, but got {text!r}")
    if text.strip() == "all":
        return list(valid)
    items = list(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    bad = [v for v in items if v not in valid]
    if not items or bad:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise InputError(
            f"expected {flag(name)} to list {', '.join(valid)} (comma-separated, or 'all'), but got {shown!r}"
        )
    return items


#: the longest file name and path Linux takes (NAME_MAX, PATH_MAX - 1)
NAME_MAX, PATH_MAX = 255, 4095


def _mode(p: Path) -> Optional[int]:
    """``p``'s file mode, or ``None`` where nothing is (or a file sits on its path)."""
    try:
        return os.stat(p).st_mode
    except OSError:  # missing, a file on its path, or out of reach: the walk up finds what is there
        return None


def check_out_dir(
    out: Optional[Any], name: str = "out", *, file_suffix: Optional[str] = None, existing_parent: bool = False
) -> Optional[Path]:
    """``out`` as a path that is, or can become, a writable directory, checked before any work: not
    empty, names no longer than the file system takes, no file or special file where a folder
    belongs, and a folder this process can create entries in (tried: ``os.access`` does not see a
    read-only ``/sys`` as root). ``file_suffix``: ``out`` names a file to write instead, ending in
    that suffix (``""``: any), whose folder is checked so; ``existing_parent``: that folder must exist
    already. One ``InputError`` sentence naming the option (``name``) otherwise."""
    from .._io import kind_of

    if out is None:
        return None
    opt = flag(name)
    if not isinstance(out, (str, os.PathLike)) or str(out) == "" or "\x00" in str(out):
        raise InputError(
            f"expected {opt} to be a {'file' if file_suffix is not None else 'folder'} path, but got {out!r}"
        )
    p = Path(out)
    if len(os.fsencode(p)) > PATH_MAX:
        raise InputError(f"expected {opt} to be a path of at most {PATH_MAX} bytes, but it has {len(os.fsencode(p))}")
    long = next((part for part in p.parts if len(os.fsencode(part)) > NAME_MAX), None)
    if long is not None:
        raise InputError(
            f"expected {opt} to have names of at most {NAME_MAX} bytes, but {long[:40]}... has {len(os.fsencode(long))}"
        )
    folder = p
    if file_suffix is not None:
        if not p.name.endswith(file_suffix) or p.name == file_suffix or str(out).endswith(os.sep):
            what = f"an {file_suffix} file" if file_suffix else "a file path"
            raise InputError(f"expected {opt} to be {what}, but got {str(out)[:200]!r}")
        mode = _mode(p)
        if mode is not None and not stat.S_ISREG(mode):
            raise InputError(f"expected {opt} to be a file, but {p} is {kind_of(mode)}")
        folder = p.parent
    mode = _mode(folder)
    if mode is not None and not stat.S_ISDIR(mode):
        where = "in a folder" if file_suffix is not None else "to be a directory"
        raise InputError(f"expected {opt} {where}, but {folder} is {kind_of(mode)}")
    if mode is None and existing_parent:
        raise InputError(f"expected {opt} in an existing folder, but {folder} is not one")
    parent = folder
    while _mode(parent) is None and parent != parent.parent:
        parent = parent.parent
    mode = _mode(parent)
    if mode is None or not stat.S_ISDIR(mode):
        what = kind_of(mode) if mode is not None else "missing"
        raise InputError(f"expected {opt} to be a directory, but {parent} (on its path) is {what}")
    try:
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
        os.rmdir(tempfile.mkdtemp(prefix=".gradsign-nas-probe-", dir=parent))
    except OSError as e:
        raise InputError(f"expected {opt} to be writable, but {parent} is not ({e.strerror})") from None
    return p


def check_address(address: Optional[str]) -> None:
    """An ``--address`` that answers (one sentence within seconds otherwise; see ``_ray``)."""
    from .._ray import check_address as reachable

    reachable(address)


def check_device(device: Any) -> str:
    """``device`` resolved (``auto`` -> ``cuda`` or ``cpu``), refused with one sentence when it names a
    GPU this machine does not have."""
    from ..benchmarks.live import resolve_device

    resolved = resolve_device(device)
    if resolved.startswith("cuda:"):
        import torch

        index = resolved.split(":", 1)[1]
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise InputError(
                f"expected --device cuda:i with i below the {torch.cuda.device_count()} GPUs torch sees, "
                f"but got {device!r}"
            )
    return resolved


#: bytes training needs per weight: the weight, its gradient and two optimiser buffers (float32)
BYTES_PER_WEIGHT = 16


#: the most cells per stage (``--N``) a network may have: NB201's own has 5
MAX_CELLS = 1000


def network_weights(space: Any, num_classes: int = 10) -> int:
    """The weights of the largest of a few sampled networks of ``space``, built on PyTorch's meta
    device (shapes only, nothing allocated)."""
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    weights = 0
    with torch.device("meta"):
        for _ in range(8):
            net = space.build(space.sample(rng), num_classes)
            weights = max(weights, sum(p.numel() for p in net.parameters()))
    return weights


def check_network_size(weights: int, sizes: str) -> None:
    """Refuse networks of ``weights`` weights in one sentence naming ``sizes`` (the options that sized
    them, e.g. ``--C 100000 --N 5``) when training one would need more than this machine's memory
    (``BYTES_PER_WEIGHT`` per weight), before any is allocated."""
    from .._checks import memory_bytes

    need, have = weights * BYTES_PER_WEIGHT, memory_bytes()
    if need > have:
        raise InputError(
            f"expected networks that fit in this machine's {have / 2**30:,.0f} GiB of memory, but {sizes} gives "
            f"networks of about {weights:,.3g} weights ({need / 2**30:,.0f} GiB to train); use smaller sizes"
        )


def check_training_memory(evaluator: Any) -> int:
    """The activations one training batch of ``evaluator`` keeps for its backward pass (every module
    output of a sampled network for one image, measured on PyTorch's meta device, times the batch:
    a lower bound) checked against the memory of the device it trains on, before any network is
    built; returns the bytes. A space whose ``build`` does not take ``in_channels`` is not measured."""
    import numpy as np
    import torch

    from .._checks import memory_bytes

    data = evaluator.data
    shape, batch = tuple(data.x_train.shape[1:]), min(int(evaluator.batch_size), len(data.x_train))
    per_image = 0

    def count(module: Any, inputs: Any, output: Any) -> None:
        nonlocal per_image
        per_image += output.numel() if torch.is_tensor(output) else 0

    space = evaluator.space
    try:
        with torch.device("meta"):
            net = space.build(space.sample(np.random.default_rng(0)), evaluator.num_classes, in_channels=shape[0])
            for m in net.modules():
                if not list(m.children()):
                    m.register_forward_hook(count)
            net.train()(torch.empty((1, *shape)))
    except Exception:  # a space whose networks cannot be measured on the meta device: training finds out
        return 0
    need = 4 * per_image * batch
    device = str(evaluator.device)
    if device.startswith("cuda") and torch.cuda.is_available():
        index = int(device.split(":")[1]) if ":" in device else 0
        have, where = torch.cuda.get_device_properties(index).total_memory, f"GPU {device}"
    else:
        have, where = memory_bytes(), "this machine"
    if need > have:
        raise InputError(
            f"expected a training batch that fits in the {have / 2**30:,.1f} GiB of {where}, but a batch of {batch:,} "
            f"{'x'.join(map(str, shape))} images (--train-batch-size {evaluator.batch_size:,}) keeps about "
            f"{need / 2**30:,.1f} GiB of activations ({4 * per_image / 2**20:,.1f} MiB per image); use a smaller batch"
        )
    return need


def refuse_unused(config: Any, unused: Sequence[str], why: str) -> None:
    """Refuse options that were given (differ from their defaults) but that this run would not read."""
    given = config.given()
    for name in unused:
        if name in given:
            raise InputError(f"{flag(name)} {why}")
