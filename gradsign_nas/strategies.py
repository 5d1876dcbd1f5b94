"""Assistance strategies: named ways for an algorithm to use a proxy, run as variants beside
"vanilla" and "assisted" (best of K, the GradSign paper's rule).

Each strategy is sized for an **equal proxy budget** relative to best of K in the same run: it asks
for at most about as many proxy scores as best of K does (K per evaluation; about 1,000 per NB201
run at K = 10), so a gain is not bought with more scoring. ``proxy_scores`` in every run's row
counts what a run really asked for, repeats included.

- ``warmup`` (ours): zero-cost warm-up, then best of K/2. Score M uniform samples before the first
  evaluation and start from the best of them: RS evaluates them best-scored first (M = 80 K), REA's
  initial population is their top 10 (M = 30 K), REINFORCE's policy is pre-trained on the top 3 % of
  their proxy ranks (M = 40 K, see ``Reinforce``) and then learns at rate 0.05 instead of NB201's
  0.001 (chosen on 200 runs of seed 0, measured on other seeds), BOHB's first design is their top
  (M = 30 K, see ``BOHB``).
- ``adaptive`` (ours): adaptive K. Candidates are scored one at a time, at most 2 K, and the first
  that reaches the top 1/K of every score the search has seen is taken (see ``Assistant``).

A strategy becomes an ``AssistancePolicy`` carried by the ``Assistant``
(``gradsign_nas.assist.build_assistance``). ``register(name, Strategy(...))`` or the entry-point
group ``gradsign_nas.strategies`` adds one of your own; the names follow the rules of every registry
(``gradsign_nas._registry``), and ``vanilla`` and ``assisted`` are taken by the built-in variants.

Example:
    >>> from gradsign_nas import strategies
    >>> strategies.available()
    ['warmup', 'adaptive']
    >>> strategies.settings("warmup", "rea", k=10)
    (5, 'best', {'warmup': 300})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from gradsign_nas._registry import Registry
from gradsign_nas.errors import InputError

__all__ = [
    "ENTRY_POINT_GROUP",
    "STRATEGIES",
    "Strategy",
    "assistance",
    "available",
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
    from gradsign_nas.assist import RULES

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


def assistance(variant: str, algorithm: str, scorer: Any, k: int) -> tuple[Any, dict[str, Any]]:
    """``gradsign_nas.assist.build_assistance`` (this name is kept for its callers)."""
    from gradsign_nas.assist import build_assistance

    return build_assistance(variant, algorithm, scorer, k)
