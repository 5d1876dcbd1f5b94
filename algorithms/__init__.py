"""Search algorithms behind one ask/tell interface: RS, REA, REINFORCE and BOHB.

``get(name, space, seed, assistant=None, fidelities=None, **options)`` builds one; the assisted
variant is the same class given ``assistant=Assistant(scorer, k)`` (see ``gradsign_nas.assist``).
Defaults for RS, REA and REINFORCE are those of NAS-Bench-201's released scripts (each module cites
the source line), BOHB's default preset is NB201's BOHB (``preset="ours"``: our learning BOHB). Each
module's docstring states its assisted rule. ``register(name, cls)`` or the entry-point group
``gradsign_nas.algorithms`` adds an algorithm of your own.

Example:
    >>> from gradsign_nas import algorithms
    >>> rea = algorithms.get("rea", "nb201", seed=0, fidelities=(12,))
    >>> p = rea.ask()
    >>> rea.tell(p, algorithms.Result(metric=80.0, cost_s=100.0))
"""

from __future__ import annotations

import inspect
from typing import Any, Optional

from gradsign_nas.errors import InputError

from .base import Algorithm, Proposal, Result, make_rng
from .bohb import BOHB
from .random_search import RandomSearch
from .rea import RegularizedEvolution
from .reinforce import Reinforce

__all__ = [
    "Algorithm",
    "BOHB",
    "ENTRY_POINT_GROUP",
    "Proposal",
    "RandomSearch",
    "RegularizedEvolution",
    "Reinforce",
    "Result",
    "available",
    "get",
    "make_rng",
    "options",
    "register",
]

_BUILTIN = {"rs": RandomSearch, "rea": RegularizedEvolution, "reinforce": Reinforce, "bohb": BOHB}
_ALGORITHMS = dict(_BUILTIN)

#: entry-point group through which installed packages add algorithms (``name = "module:Class"``)
ENTRY_POINT_GROUP = "gradsign_nas.algorithms"


def register(name: str, cls, *, overwrite: bool = False) -> None:
    """Add algorithm ``cls`` (an ``Algorithm`` subclass, built as ``cls(space, seed, assistant=,
    fidelities=, **options)``) under ``name``; every command and executor can then run it."""
    if not isinstance(name, str) or not name or "," in name:
        raise InputError(f"an algorithm name must be a non-empty string without commas, but got {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Algorithm)):
        raise InputError(f"expected an Algorithm subclass for {name!r}, but got {cls!r}")
    if not overwrite and name in _ALGORITHMS:
        raise InputError(f"an algorithm named {name!r} is already registered; pass overwrite=True to replace it")
    _ALGORITHMS[name] = cls


def _entry_points() -> dict:
    from gradsign_nas._plugins import installed

    return installed(ENTRY_POINT_GROUP)


def available() -> list[str]:
    """Names ``get`` accepts: the built-in four, registered ones, then installed plug-ins."""
    return list(_ALGORITHMS) + sorted(set(_entry_points()) - set(_ALGORITHMS))


def options(name: str) -> dict[str, Any]:
    """The options of algorithm ``name`` with their defaults."""
    cls = _lookup(name)
    sig = inspect.signature(cls.__init__)
    return {p.name: p.default for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _lookup(name: str):
    if name not in _ALGORITHMS:
        eps = _entry_points() if isinstance(name, str) else {}
        if name not in eps:
            raise InputError(f"unknown algorithm {name!r}; expected one of {', '.join(available())}")
        register(name, eps[name].load())
    return _ALGORITHMS[name]


def get(
    name: str, space, seed, assistant: Optional[Any] = None, fidelities: Optional[tuple] = None, **opts: Any
) -> Algorithm:
    """Algorithm ``name`` ("rs", "rea", "reinforce", "bohb") on ``space`` with ``seed``.

    Raises:
        ValueError: for an unknown name or option (the message lists the valid ones).
    """
    cls = _lookup(name)
    valid = options(name)
    unknown = sorted(set(opts) - set(valid))
    if unknown:
        raise InputError(
            f"unknown option(s) {', '.join(unknown)} for {name}; expected {', '.join(valid) if valid else 'no options'}"
        )
    return cls(space, seed, assistant=assistant, fidelities=fidelities, **opts)
