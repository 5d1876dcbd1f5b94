"""GradSign assistance: turn K candidates from an algorithm's own proposal distribution into one.

The rule (GradSign paper, Zhang & Jia 2022): where a search algorithm would propose one architecture,
draw K candidates from the same proposal distribution, score each with a zero-cost proxy, and
evaluate the one with the highest score. The algorithms in ``gradsign_nas.algorithms`` apply it when
given ``assistant=Assistant(scorer, k)``; what "their own proposal distribution" is, per algorithm,
is written in each algorithm's module docstring.

How an algorithm is assisted is one ``AssistancePolicy`` that the ``Assistant`` carries and the
algorithm reads: K and the rule (best of K, or ours: adaptive K) and the zero-cost warm-up (M scored
samples before the first evaluation). ``build_assistance(variant, algorithm, scorer, k)`` builds the
assistant of a variant ("vanilla", "assisted" or a strategy of ``gradsign_nas.strategies``); every
executor and command builds it there.

Scores come from a ``ProxyScorer``:

- ``TableScorer``: a precomputed table (``{arch string: score}`` or an array in a space's index
  order), e.g. the packaged whole-space GradSign table of NAS-Bench-201 (``TableScorer.nb201()``).
  Looking a score up costs nothing, but the table may record the seconds it took to compute each
  score (``cost_s``) so that a search can be charged for it.
- ``OnDemandScorer``: builds each architecture's network and computes the proxy on one real batch,
  caching scores by canonical arch string and recording the measured seconds.

Example:
    >>> from gradsign_nas.assist import Assistant, TableScorer
    >>> scorer = TableScorer({"a": 1.0, "b": 3.0, "c": 2.0})
    >>> Assistant(scorer, k=3).pick(["a", "b", "c"])
    ('b', 3.0)
"""

from ._policy import RULES, AssistancePolicy, Assistant
from ._scorers import NB201_TABLE, EnsembleScorer, OnDemandScorer, ProxyScorer, TableScorer, TrainingBatchScorer
from ._strategies import build_assistance

__all__ = [
    "NB201_TABLE",
    "RULES",
    "AssistancePolicy",
    "Assistant",
    "EnsembleScorer",
    "OnDemandScorer",
    "ProxyScorer",
    "TableScorer",
    "TrainingBatchScorer",
    "build_assistance",
]
