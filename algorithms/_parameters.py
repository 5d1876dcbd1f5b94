"""Declared algorithm parameters: what a user may set on an algorithm, typed and checked.

An algorithm class declares its user-settable constructor options as ``PARAMETERS``, a dict of
``Parameter`` (type, default, help, and a range or choices). ``parse(name, params, options)`` turns
``"preset=ours,num_samples=32"`` (the CLI's ``--algorithm-options``) or a mapping (a TOML table)
into the typed keyword arguments of the constructor, refusing an unknown key, a bad type or a value
out of range with one sentence naming the key, what was expected and what came.

Example:
    >>> from gradsign_nas.algorithms import parse_options
    >>> parse_options("rea", "population_size=20,mutation=uniform")
    {'population_size': 20, 'mutation': 'uniform'}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from gradsign_nas.errors import InputError

__all__ = ["EXECUTOR_KEYWORDS", "RESERVED", "Parameter", "check_declared", "parse"]

#: what every executor passes to an algorithm's constructor
EXECUTOR_KEYWORDS = ("space", "seed", "assistant", "fidelities")

#: keyword arguments an algorithm option may not be called: what the executors pass and the
#: assistance policy's warm-up, which a strategy sets (``gradsign_nas.assist.AssistancePolicy``; the
#: constructors still take ``warmup=`` and ``warmup_top=`` from Python)
RESERVED = EXECUTOR_KEYWORDS + ("warmup", "warmup_top")

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_TYPES = (bool, int, float, str)


@dataclass(frozen=True)
class Parameter:
    """One user-settable option of an algorithm.

    Args:
        type: ``int``, ``float``, ``bool`` or ``str``.
        default: the constructor's default (``None``: decided by the algorithm, e.g. BOHB's preset).
        help: one line for ``--help`` and the docs.
        low, high: the range of a number (``None``: unbounded on that side).
        low_open, high_open: whether ``low`` / ``high`` themselves are excluded.
        choices: the values a ``str`` option may take.
    """

    type: type
    default: Any
    help: str
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    choices: Optional[tuple] = None

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise InputError(f"expected a Parameter type among bool, int, float, str, but got {self.type!r}")

    def expected(self) -> str:
        """What a value must be, in words: "an integer >= 1", "one of 'nb201', 'ours'", ..."""
        if self.choices is not None:
            return f"one of {', '.join(map(repr, self.choices))}"
        what = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[self.type]
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            return f"{what} in {'(' if self.low_open else '['}{lo:g}, {hi:g}{')' if self.high_open else ']'}"
        if lo is not None:
            return f"{what} {'>' if self.low_open else '>='} {lo:g}"
        if hi is not None:
            return f"{what} {'<' if self.high_open else '<='} {hi:g}"
        return what

    def convert(self, value: Any) -> Any:
        """``value`` (a string from the command line, or a Python / TOML value) as this parameter's
        type, or ``ValueError`` if it is not one or is out of range or not among the choices."""
        if value is None and self.default is None:
            return None
        v: Any
        if isinstance(value, str) and self.type is not str:
            text = value.strip()
            if self.type is bool:
                if text.lower() not in _TRUE + _FALSE:
                    raise ValueError
                v = text.lower() in _TRUE
            elif self.type is int:
                v = int(text)  # "1.5" and "1e3" are not integers
            else:
                v = float(text)
        elif self.type is bool:
            if not isinstance(value, bool):
                raise ValueError
            v = value
        elif self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError
            v = int(value)
        elif self.type is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError
            v = float(value)
        else:
            if not isinstance(value, str):
                raise ValueError
            v = value
        if self.type in (int, float):
            if not math.isfinite(v):
                raise ValueError
            if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
                raise ValueError
            if self.high is not None and (v > self.high or (self.high_open and v == self.high)):
                raise ValueError
        if self.choices is not None and v not in self.choices:
            raise ValueError
        return v


def check_declared(algorithm: str, cls: type, params: Mapping[str, Any]) -> dict[str, Parameter]:
    """``params`` (a class's ``PARAMETERS``) as a dict, if every entry is a ``Parameter`` under a name
    that is not ``RESERVED`` and that the constructor takes as a keyword; else one ``InputError``."""
    import inspect

    if not isinstance(params, Mapping):
        raise InputError(f"expected {algorithm}'s PARAMETERS to be a dict of Parameter, but got {params!r}")
    signature = list(inspect.signature(cls).parameters.values())
    keywords = {p.name for p in signature if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature)
    for key, p in params.items():
        if not isinstance(p, Parameter):
            raise InputError(f"expected {algorithm}'s PARAMETERS[{key!r}] to be a Parameter, but got {p!r}")
        if key in RESERVED:
            raise InputError(
                f"expected {algorithm}'s PARAMETERS to leave out the reserved names {', '.join(RESERVED)}, "
                f"but it declares {key!r}"
            )
        if key not in keywords and not takes_any:
            raise InputError(f"expected {algorithm}'s constructor to take its declared option {key!r}, but it does not")
    return dict(params)


def _split(algorithm: str, text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputError(f"expected {algorithm} options as KEY=VALUE pairs separated by commas, but got {item!r}")
        if key in out:
            raise InputError(f"expected each {algorithm} option once, but {key!r} is given twice")
        out[key] = value.strip()
    return out


def parse(
    algorithm: str, params: Mapping[str, Parameter], options: Union[str, Mapping[str, Any], None]
) -> dict[str, Any]:
    """The typed keyword arguments ``options`` (``"KEY=VALUE,..."``, a mapping or ``None``) give to
    algorithm ``algorithm`` whose declared parameters are ``params``, in the order given."""
    if options is None:
        return {}
    if isinstance(options, str):
        items: Mapping[str, Any] = _split(algorithm, options)
    elif isinstance(options, Mapping):
        items = options
    else:
        raise InputError(
            f"expected {algorithm} options as a 'KEY=VALUE,...' string or a mapping, but got {type(options).__name__}"
        )
    out: dict[str, Any] = {}
    for key, value in items.items():
        if key in RESERVED:
            raise InputError(
                f"expected {algorithm} options other than {key!r}, which the executor or the assistance "
                f"strategy sets (reserved: {', '.join(RESERVED)})"
            )
        p = params.get(key) if isinstance(key, str) else None
        if p is None:
            valid = ", ".join(params) if params else "none (it declares no options)"
            raise InputError(f"unknown option {key!r} for algorithm {algorithm}; expected one of {valid}")
        try:
            out[key] = p.convert(value)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"expected {algorithm} option {key} to be {p.expected()}, but got {value!r}") from None
    return out
