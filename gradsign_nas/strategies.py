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

from gradsign_nas.errors import InputError

__all__ = ["STRATEGIES", "Strategy", "assistance", "available", "settings"]


@dataclass(frozen=True)
class Strategy:
    """One strategy: ``k(K)`` candidates per proposal after any warm-up, the Assistant's ``rule``,
    and per-algorithm options as functions of the comparison's K."""

    description: str
    k: Callable[[int], int]
    rule: str = "best"
    options: Mapping[str, Callable[[int], dict]] = field(default_factory=dict)


def _half(k: int) -> int:
    return max(1, k // 2)


STRATEGIES: dict[str, Strategy] = {
    "warmup": Strategy(
        "zero-cost warm-up of M scored samples, then best of K/2",
        k=_half,
        options={
            "rs": lambda k: {"warmup": 80 * k},
            "rea": lambda k: {"warmup": 30 * k},
            "reinforce": lambda k: {"warmup": 40 * k, "warmup_top": 0.03, "learning_rate": 0.05},
            "bohb": lambda k: {"warmup": 30 * k},
        },
    ),
    "adaptive": Strategy(
        "adaptive K: the first of at most 2K candidates in the top 1/K of the scores seen",
        k=lambda k: k,
        rule="adaptive",
    ),
}


def available() -> list[str]:
    """The strategies' names."""
    return list(STRATEGIES)


def settings(name: str, algorithm: str, k: int) -> tuple[int, str, dict[str, Any]]:
    """``(k, rule, options)`` of strategy ``name`` for ``algorithm`` in a comparison at K = ``k``."""
    if name not in STRATEGIES:
        raise InputError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    s = STRATEGIES[name]
    if s.options and algorithm not in s.options:
        raise InputError(f"strategy {name!r} is defined for {', '.join(s.options)}, but got algorithm {algorithm!r}")
    make = s.options.get(algorithm)
    return s.k(k), s.rule, (make(k) if make is not None else {})


def assistance(variant: str, algorithm: str, scorer: Any, k: int) -> tuple[Any, dict[str, Any]]:
    """The ``Assistant`` of ``variant`` (``None`` for vanilla; best of ``k`` for assisted; else the
    strategy's) over ``scorer``, and the extra options the algorithm takes for it."""
    if variant == "vanilla":
        return None, {}
    from gradsign_nas.assist import Assistant

    if variant == "assisted":
        return Assistant(scorer, k=k), {}
    kk, rule, extra = settings(variant, algorithm, k)
    return Assistant(scorer, k=kk, rule=rule), dict(extra)
