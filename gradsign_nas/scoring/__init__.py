"""Score many architectures with a zero-cost proxy: in parallel, reproducibly, with a score cache.

Every architecture is built with ``torch.manual_seed(seed)`` immediately before
``space.build(arch, num_classes)`` and scored on the same real minibatch
(``load_batch(dataset, batch_size, seed)``), with one torch thread per scorer. A score therefore
depends only on (space, proxy, dataset, batch size, seed, architecture), never on how many workers
computed it or in which order.

Scores are appended, one JSON line each as they arrive, to a cache file keyed by exactly those six
things, so a second run is instant and an interrupted run keeps everything it finished.

A proxy that returns a non-finite value, or raises ``ValueError`` on one architecture (e.g. a
degenerate cell), gives ``NaN`` for that architecture (the message is kept in the cache line);
correlations exclude NaN scores and say how many (see ``gradsign_nas.correlation``).

The parts: ``_cache`` (the score cache), ``_devices`` (devices of workers, a GPU seen alone, float32
without TF32), ``_kernels`` (the general path and the ``(space, proxy)`` registry of batched kernels,
where the stacked NB201 GradSign kernel registers itself), ``_context`` (the picklable setting a
scoring process works in, and its per-process state), ``_backends`` (this process, local processes
or Ray tasks, behind ``score_map``) and ``_engine`` (``ScoringEngine``, ``score_archs``).

Example:
    >>> from gradsign_nas import search_spaces
    >>> from gradsign_nas.scoring import score_archs
    >>> space = search_spaces.get("nb201")
    >>> archs = [space.from_index(i) for i in (0, 6111)]
    >>> scores, seconds = score_archs("nb201", archs, batch_size=8, workers=1,
    ...                               directory="../shared/data", cache=False, progress=False)
    >>> scores.shape
    (2,)
"""

from __future__ import annotations

import sys
import types
from typing import Any

from gradsign_nas.errors import InputError

from . import _devices, _kernels
from ._backends import pinned_pool
from ._cache import ScoreCache, default_cache_path
from ._context import ScoringContext, num_classes_of
from ._devices import gpu_alone, local_devices
from ._engine import ScoringEngine, score_archs
from ._kernels import STACK, BatchedKernel, batched_scorer, register_batched, stacked_applies

__all__ = [
    "STACK",
    "BatchedKernel",
    "InputError",
    "ScoreCache",
    "ScoringContext",
    "ScoringEngine",
    "batched_scorer",
    "default_cache_path",
    "gpu_alone",
    "local_devices",
    "pinned_pool",
    "num_classes_of",
    "register_batched",
    "score_archs",
    "stacked_applies",
]

# the scorers under their old names (tests spy on them); setting one of these names on the package
# sets it in ``_kernels`` too, where the engine, the warm-up and the workers look it up
_exact_float32 = _devices.exact_float32  # experiments/compiled_pass_probe.py
_score_one = _kernels.score_one
_score_chunk = _kernels.score_chunk
_score_stacked = _kernels.score_stacked
_SEAMS = {"_score_one": "score_one", "_score_chunk": "score_chunk", "_score_stacked": "score_stacked"}


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SEAMS:
            setattr(_kernels, _SEAMS[name], value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
