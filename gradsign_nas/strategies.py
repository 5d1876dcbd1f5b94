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

Examples:
    >>> from gradsign_nas import strategies
    >>> strategies.available()
    ['warmup', 'adaptive']
    >>> strategies.settings("warmup", "rea", k=10)
    (5, 'best', {'warmup': 300})
"""

from __future__ import annotations

from gradsign_nas.assist._strategies import (
    ENTRY_POINT_GROUP,
    STRATEGIES,
    Strategy,
    assistance,
    available,
    get,
    register,
    settings,
)

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
