"""Search algorithms behind one ask/tell interface: RS, REA, REINFORCE and BOHB.

``get(name, space, seed, assistant=None, fidelities=None, **options)`` builds one; the assisted
variant is the same class given ``assistant=Assistant(scorer, k)`` (see ``gradsign_nas.assist``).
Defaults for RS, REA and REINFORCE are those of NAS-Bench-201's released scripts (each module cites
the source line), BOHB's default preset is NB201's BOHB (``preset="ours"``: our learning BOHB). Each
module's docstring states its assisted rule. ``register(name, cls)`` or the entry-point group
``gradsign_nas.algorithms`` adds an algorithm of your own.

Each algorithm declares the options a user may set (``parameters(name)``: type, default, help,
range or choices); ``parse_options(name, "preset=ours,num_samples=32")`` (or a mapping) turns them
into typed keyword arguments for ``get``. The keywords in ``RESERVED`` are never options: the
executors pass ``space``, ``seed``, ``assistant`` and ``fidelities``, and the assistance policy
sets the warm-up.

Examples:
    >>> from gradsign_nas import algorithms
    >>> rea = algorithms.get("rea", "nb201", seed=0, fidelities=(12,))
    >>> p = rea.ask()
    >>> rea.tell(p, algorithms.Result(metric=80.0, cost_s=100.0))
    >>> bohb = algorithms.get("bohb", "nb201", 0, **algorithms.parse_options("bohb", "preset=ours"))
    >>> bohb.preset, bohb.num_samples
    ('ours', 64)
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Optional, Union

from gradsign_nas._registry import Registry
from gradsign_nas.errors import InputError

from ._parameters import EXECUTOR_KEYWORDS, RESERVED, Parameter, check_declared
from ._parameters import parse as _parse
from .base import Algorithm, Proposal, Result, make_rng
from .bohb import BOHB
from .random_search import RandomSearch
from .rea import RegularizedEvolution
from .reinforce import Reinforce

__all__ = [
    "Algorithm",
    "BOHB",
    "ENTRY_POINT_GROUP",
    "EXECUTOR_KEYWORDS",
    "Parameter",
    "Proposal",
    "RESERVED",
    "RandomSearch",
    "RegularizedEvolution",
    "Reinforce",
    "Result",
    "available",
    "get",
    "make_rng",
    "options",
    "parameters",
    "parse_options",
    "register",
]

#: entry-point group through which installed packages add algorithms (``name = "module:Class"``)
ENTRY_POINT_GROUP = "gradsign_nas.algorithms"


def _check_algorithm(name: str, cls: Any) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Algorithm)):
        raise InputError(f"expected an Algorithm subclass for {name!r}, but got {cls!r}")


_ALGORITHMS: Registry[type[Algorithm]] = Registry(
    "algorithm",
    ENTRY_POINT_GROUP,
    check=_check_algorithm,
    builtin={"rs": RandomSearch, "rea": RegularizedEvolution, "reinforce": Reinforce, "bohb": BOHB},
)


def register(name: str, cls, *, overwrite: bool = False) -> None:
    """Add algorithm ``cls`` (an ``Algorithm`` subclass, built as ``cls(space, seed, assistant=,
    fidelities=, **options)``) under ``name``; every command and executor can then run it."""
    _ALGORITHMS.register(name, cls, overwrite=overwrite)


def available() -> list[str]:
    """Names ``get`` accepts: the built-in four, registered ones, then installed plug-ins."""
    return _ALGORITHMS.available()


def options(name: str) -> dict[str, Any]:
    """The keyword options of algorithm ``name``'s constructor with their defaults (what ``get``
    accepts from Python; ``parameters`` lists those a user may set by name)."""
    cls = _ALGORITHMS.get(name)
    sig = inspect.signature(cls.__init__)  # type: ignore[misc]
    return {p.name: p.default for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def parameters(name: str) -> dict[str, Parameter]:
    """The user-settable options algorithm ``name`` declares (its class's ``PARAMETERS``: type,
    default, help, range or choices); ``{}`` for one that declares none.

    Examples:
        >>> p = parameters("bohb")["preset"]
        >>> p.default, p.choices
        ('nb201', ('nb201', 'ours'))
    """
    cls = _ALGORITHMS.get(name)
    return check_declared(name, cls, getattr(cls, "PARAMETERS", {}))


def parse_options(name: str, options: Union[str, Mapping[str, Any], None]) -> dict[str, Any]:
    """The keyword arguments for ``get(name, ...)`` that ``options`` sets: a ``"KEY=VALUE,..."`` string
    (the CLI's ``--algorithm-options``) or a mapping (e.g. a TOML table), each key one of
    ``parameters(name)`` and each value converted to its type and checked against its range.

    Raises:
        InputError: one sentence naming the key, what was expected and what came, for an unknown or
            reserved key (``RESERVED``), a value of the wrong type or out of range.

    Examples:
        >>> parse_options("bohb", "preset=ours,num_samples=32,dedupe=false")
        {'preset': 'ours', 'num_samples': 32, 'dedupe': False}
    """
    return _parse(name, parameters(name), options)


def get(
    name: str, space, seed, assistant: Optional[Any] = None, fidelities: Optional[tuple] = None, **opts: Any
) -> Algorithm:
    """Algorithm ``name`` ("rs", "rea", "reinforce", "bohb") on ``space`` with ``seed``.

    Raises:
        ValueError: for an unknown name or option (the message lists the valid ones).
    """
    cls = _ALGORITHMS.get(name)
    valid = options(name)
    unknown = sorted(set(opts) - set(valid))
    if unknown:
        raise InputError(
            f"unknown option(s) {', '.join(unknown)} for {name}; expected {', '.join(valid) if valid else 'no options'}"
        )
    return cls(space, seed, assistant=assistant, fidelities=fidelities, **opts)
