"""Checks every run kind shares, each one sentence naming the option, what was expected and what came.

Numbers use ``gradsign_nas._checks``; this module adds lists of names, output paths, devices and the
upper bounds that protect the machine (beyond them a run cannot finish in reasonable time or fills
the disk, so it is refused rather than left to run for hours).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

from .._checks import positive_int, positive_number
from ..errors import InputError
from ._vocabulary import OPTIONS

__all__ = [
    "MAX_BATCH",
    "MAX_EPOCHS",
    "MAX_K",
    "MAX_PROCS",
    "MAX_RUNS",
    "check_address",
    "check_device",
    "check_out_dir",
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


def check_out_dir(out: Optional[Any], name: str = "out") -> Optional[Path]:
    """``out`` as a path that is, or can become, a writable directory (checked before any work)."""
    if out is None:
        return None
    if not isinstance(out, (str, os.PathLike)) or str(out) == "":
        raise InputError(f"expected {flag(name)} to be a folder path, but got {out!r}")
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise InputError(f"expected {flag(name)} to be a directory, but {p} is a file")
    parent = p
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"expected {flag(name)} to be a directory, but {parent} (on its path) is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"expected {flag(name)} to be writable, but {parent} is not writable")
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


def refuse_unused(config: Any, unused: Sequence[str], why: str) -> None:
    """Refuse options that were given (differ from their defaults) but that this run would not read."""
    given = config.given()
    for name in unused:
        if name in given:
            raise InputError(f"{flag(name)} {why}")
