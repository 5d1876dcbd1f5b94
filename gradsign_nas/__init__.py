"""gradsign-nas: neural architecture search with GradSign assistance.

Submodules are imported on first use, so ``import gradsign_nas`` is cheap and starts neither torch
nor Ray.
"""

from __future__ import annotations

from importlib import import_module

from .errors import DataError, GradSignNASError, InputError, UnsafePickleError

__version__ = "0.1.0"
__all__ = [
    "DataError",
    "GradSignNASError",
    "InputError",
    "UnsafePickleError",
    "algorithms",
    "benchmarks",
    "compare_live",
    "load_best",
    "proxies",
    "search_spaces",
    "__version__",
]


def load_best(run_dir, space=None, map_location: str = "cpu"):
    """The best network of a run directory: ``(arch, model)`` with its trained weights loaded (see
    ``gradsign_nas.results.load_best``)."""
    from .results import load_best as _load_best

    return _load_best(run_dir, space=space, map_location=map_location)


def compare_live(out, data="digits", **options):
    """A live comparison of vanilla and assisted searches, as ``gradsign-nas compare --live`` (see
    ``gradsign_nas.commands.compare_live.compare_live``); returns its summary."""
    from .commands.compare_live import compare_live as _compare_live

    return _compare_live(out, data, **options)


_LAZY = {
    "algorithms",
    "benchmarks",
    "proxies",
    "search_spaces",
    "assist",
    "execution",
    "results",
    "correlation",
    "stats",
    "plots",
    "scoring",
}


def __getattr__(name: str):
    if name in _LAZY:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
