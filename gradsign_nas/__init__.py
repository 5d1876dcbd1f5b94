"""gradsign-nas: neural architecture search with GradSign assistance.

Submodules are imported on first use, so ``import gradsign_nas`` is cheap and starts neither torch
nor Ray.
"""

from __future__ import annotations

from importlib import import_module

from .errors import DataError, GradSignNASError, UnsafePickleError

__version__ = "0.1.0"
__all__ = ["DataError", "GradSignNASError", "UnsafePickleError", "algorithms", "benchmarks", "proxies",
           "search_spaces", "__version__"]

_LAZY = {"algorithms", "benchmarks", "proxies", "search_spaces", "assist", "execution", "results", "correlation", "stats", "plots", "scoring"}


def __getattr__(name: str):
    if name in _LAZY:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
