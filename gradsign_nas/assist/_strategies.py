"""The strategy registry (``gradsign_nas.strategies`` re-exports it) and ``build_assistance``, which
turns a variant ("vanilla", "assisted" or a strategy) into the ``Assistant`` an algorithm is given."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, Optional

from .._registry import Registry
from ..errors import InputError
from ._policy import RULES, AssistancePolicy, Assistant

__all__ = [
    "ENTRY_POINT_GROUP",
    "STRATEGIES",
    "Strategy",
    "assistance",
    "available",
    "build_assistance",
    "get",
    "register",
    "settings",
]

#: entry-point group through which installed packages add strategies (``name = "module:object"``)
ENTRY_POINT_GROUP = "gradsign_nas.strategies"


@dataclass(frozen=True)
class Strategy:
    """One strategy: ``k(K)`` candidates per proposal after any warm-up, the Assistant's ``rule``,
    and per-algorithm settings as functions of the comparison's K. A setting named after a field of
    ``AssistancePolicy`` (``warmup``, ``warmup_top``, ``warmup_learning_rate``, ``adaptive_draws``)
    sets the policy; any other is passed to the algorithm as an option. An empty ``options`` means
    the strategy applies to every algorithm."""

    description: str
    k: Callable[[int], int]
    rule: str = "best"
    options: Mapping[str, Callable[[int], dict]] = field(default_factory=dict)


def _half(k: int) -> int:
    return max(1, k // 2)


def _check_strategy(name: str, obj: Any) -> None:
    if not isinstance(obj, Strategy):
        raise InputError(f"expected a Strategy for {name!r}, but got {obj!r}")
    if obj.rule not in RULES:
        raise InputError(
            f"expected strategy {name!r} to use rule {' or '.join(map(repr, RULES))}, but got {obj.rule!r}"
        )


#: the strategies by name (built-in, registered, then installed plug-ins)
STRATEGIES: Registry[Strategy] = Registry(
    "strategy",
    ENTRY_POINT_GROUP,
    check=_check_strategy,
    reserved=("vanilla", "assisted"),
    builtin={
        "warmup": Strategy(
            "zero-cost warm-up of M scored samples, then best of K/2",
            k=_half,
            options={
                "rs": lambda k: {"warmup": 80 * k},
                "rea": lambda k: {"warmup": 30 * k},
                "reinforce": lambda k: {"warmup": 40 * k, "warmup_top": 0.03, "warmup_learning_rate": 0.05},
                "bohb": lambda k: {"warmup": 30 * k},
            },
        ),
        "adaptive": Strategy(
            "adaptive K: the first of at most 2K candidates in the top 1/K of the scores seen",
            k=lambda k: k,
            rule="adaptive",
        ),
    },
)


def register(name: str, strategy: Strategy, *, overwrite: bool = False) -> None:
    """Add ``strategy`` under ``name``; every comparison can then run it as a variant."""
    STRATEGIES.register(name, strategy, overwrite=overwrite)


def available() -> list[str]:
    """The strategies' names: built-in, registered, then installed plug-ins."""
    return STRATEGIES.available()


def get(name: str) -> Strategy:
    """The strategy called ``name``."""
    return STRATEGIES.get(name)


def settings(name: str, algorithm: str, k: int) -> tuple[int, str, dict[str, Any]]:
    """``(k, rule, settings)`` of strategy ``name`` for ``algorithm`` in a comparison at K = ``k``."""
    s = STRATEGIES.get(name)
    if s.options and algorithm not in s.options:
        raise InputError(f"strategy {name!r} is defined for {', '.join(s.options)}, but got algorithm {algorithm!r}")
    make = s.options.get(algorithm)
    return s.k(k), s.rule, (dict(make(k)) if make is not None else {})


#: the settings of a strategy that are ``AssistancePolicy`` fields (the others are algorithm options)
_POLICY_SETTINGS = frozenset(f.name for f in fields(AssistancePolicy)) - {"k", "rule"}


def build_assistance(variant: str, algorithm: str, scorer: Any, k: int) -> tuple[Optional[Assistant], dict[str, Any]]:
    """The ``Assistant`` of ``variant`` for ``algorithm`` over ``scorer`` at K = ``k``, and the options
    the algorithm takes for it: ``(None, {})`` for ``"vanilla"``; best of ``k`` for ``"assisted"``;
    else the strategy ``variant`` of ``gradsign_nas.strategies`` (its K, rule and warm-up in the
    policy, any other setting of it as an algorithm option).

    Example:
        >>> from gradsign_nas.assist import TableScorer
        >>> a, options = build_assistance("warmup", "rea", TableScorer({"a": 1.0}), 10)
        >>> a.policy.k, a.policy.warmup, options
        (5, 300, {})
    """
    if variant == "vanilla":
        return None, {}
    if variant == "assisted":
        return Assistant(scorer, policy=AssistancePolicy(k=k)), {}
    from gradsign_nas.algorithms import EXECUTOR_KEYWORDS

    kk, rule, chosen = settings(variant, algorithm, k)
    bad = sorted(set(chosen) & ({"k", "rule"} | set(EXECUTOR_KEYWORDS)))
    if bad:
        raise InputError(
            f"expected strategy {variant!r} to set K and the rule as Strategy.k and .rule and to leave "
            f"{', '.join(EXECUTOR_KEYWORDS)} to the executor, but its settings for {algorithm} name {', '.join(bad)}"
        )
    policy = AssistancePolicy(k=kk, rule=rule, **{n: v for n, v in chosen.items() if n in _POLICY_SETTINGS})
    return Assistant(scorer, policy=policy), {n: v for n, v in chosen.items() if n not in _POLICY_SETTINGS}


def assistance(variant: str, algorithm: str, scorer: Any, k: int) -> tuple[Any, dict[str, Any]]:
    """``gradsign_nas.assist.build_assistance`` (this name is kept for its callers)."""
    return build_assistance(variant, algorithm, scorer, k)
