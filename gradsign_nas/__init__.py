"""gradsign-nas: neural architecture search with GradSign assistance.

The run functions (``search``, ``table_search``, ``compare``, ``correlate``, ``score_space``) take the
command line's option names and return result objects (see ``gradsign_nas.api``). Submodules are
imported on first use, so ``import gradsign_nas`` is cheap and starts neither torch nor Ray.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from .errors import DataError, GradSignNASError, InputError, UnsafePickleError

if TYPE_CHECKING:  # the names __getattr__ loads, for type checkers and IDEs
    from .api import (  # noqa: F401
        CalibrateConfig,
        CalibrateResult,
        CompareConfig,
        CompareResult,
        CorrelateConfig,
        CorrelateResult,
        ScoreSpaceConfig,
        ScoreSpaceResult,
        SearchConfig,
        SearchResult,
        TableSearchConfig,
        TableSearchResult,
        calibrate,
        compare,
        correlate,
        score_space,
        search,
        table_search,
    )
    from .results import read_history  # noqa: F401

__version__ = "0.1.0"

#: the API's names, loaded from gradsign_nas.api on first use
_API = (
    "CalibrateConfig",
    "CalibrateResult",
    "calibrate",
    "CompareConfig",
    "CompareResult",
    "CorrelateConfig",
    "CorrelateResult",
    "ScoreSpaceConfig",
    "ScoreSpaceResult",
    "SearchConfig",
    "SearchResult",
    "TableSearchConfig",
    "TableSearchResult",
    "compare",
    "correlate",
    "score_space",
    "search",
    "table_search",
)
__all__ = [
    "DataError",
    "GradSignNASError",
    "InputError",
    "UnsafePickleError",
    "algorithms",
    "benchmarks",
    "load_best",
    "proxies",
    "read_history",
    "search_spaces",
    "__version__",
    *_API,
]


def load_best(run_dir, space=None, map_location: str = "cpu"):
    """The best network of a run directory: ``(arch, model)`` with its trained weights loaded (see
    ``gradsign_nas.results.load_best``)."""
    from .results import load_best as _load_best

    return _load_best(run_dir, space=space, map_location=map_location)


_LAZY = {
    "algorithms",
    "api",
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
    "strategies",
}


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(f"{__name__}.api"), name)
    if name == "read_history":
        return import_module(f"{__name__}.results").read_history
    if name in _LAZY:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
