"""Checks of numeric arguments, shared by the library and the CLI: one ``InputError`` sentence each."""

from __future__ import annotations

import math
import os
from typing import Any, Optional

from .errors import InputError

__all__ = ["memory_bytes", "positive_int", "positive_number"]


def positive_int(name: str, value: Any, minimum: int = 1, maximum: Optional[int] = None) -> int:
    """``value`` if it is an integer in ``minimum..maximum``, else an ``InputError`` naming ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bound = f"in {minimum}..{maximum:,}" if maximum is not None else f">= {minimum}"
        raise InputError(f"expected {name} to be an integer {bound}, but got {value!r}")
    return value


def positive_number(name: str, value: Any, allow_zero: bool = False) -> float:
    """``value`` as a float if it is a finite number > 0 (>= 0 with ``allow_zero``), else an ``InputError``."""
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        raise InputError(
            f"expected {name} to be a {'non-negative' if allow_zero else 'positive'} finite number, but got {value!r}"
        )
    return float(value)


def memory_bytes() -> int:
    """This machine's physical memory in bytes (what data and networks are checked against before
    they are allocated; 16 GiB where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 << 30
