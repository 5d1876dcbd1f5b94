"""The Python API: one function per run kind, a frozen config in, a result object out.

Every function takes the command line's option names (``_`` for ``-``) as keyword arguments, or a
config object, and returns a result whose ``.summary`` is what the run's summary.json holds. Nothing
here prints: progress bars and log messages go to stderr through ``logging`` and tqdm; the command
line (``gradsign_nas.commands``) parses options, builds the config, calls these, and prints.
"""

from ._calibrate import calibrate
from ._compare import compare
from ._correlate import correlate
from ._results import CalibrateResult, CompareResult, CorrelateResult, ScoreSpaceResult, SearchResult, TableSearchResult
from ._score_space import score_space
from ._search import search
from ._table_search import table_search
from .configs import CalibrateConfig, CompareConfig, CorrelateConfig, ScoreSpaceConfig, SearchConfig, TableSearchConfig

__all__ = [
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
]
