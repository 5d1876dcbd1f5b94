"""The assistance policy and the ``Assistant`` that carries it (``gradsign_nas.assist``)."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, fields, replace
from typing import Hashable, Iterable, Optional, Sequence

import numpy as np

from ..errors import InputError
from ._scorers import ProxyScorer

__all__ = ["RULES", "AssistancePolicy", "Assistant"]

#: the rules an assistant picks by: best of K (the GradSign paper's) or adaptive K (ours)
RULES = ("best", "adaptive")


@dataclass(frozen=True)
class AssistancePolicy:
    """How an assisted algorithm uses the proxy: what the ``Assistant`` carries and the algorithm reads.

    Args:
        k: candidates per proposal (K >= 1; K = 1 is vanilla with the proxy merely recorded).
        rule: ``"best"`` (default: best of K, the GradSign paper's rule) or ``"adaptive"`` (ours: the
            algorithm scores its candidates one at a time, at most ``adaptive_draws * K``, and takes
            the first whose score reaches the top ``1/K`` of every score this search has seen, else the
            best it scored; about ``0.86 K`` scores per proposal on average at the default: fewer where
            candidates are good, more where they are poor).
        adaptive_draws: the adaptive rule's limit, in multiples of K (2).
        warmup: the zero-cost warm-up (ours): M uniform samples scored before the first evaluation,
            whose best the algorithm starts from (see each algorithm; 0: none). An algorithm's own
            ``warmup=`` argument, when given, takes precedence.
        warmup_top: REINFORCE: the share of the M its policy is fitted to (``None``: its default 0.1).
        warmup_learning_rate: REINFORCE: its learning rate after a warm-up (``None``: its own).

    Raises:
        ValueError: for a setting out of its range (one sentence naming it).

    Example:
        >>> AssistancePolicy(k=10, rule="adaptive").draws
        20
    """

    k: int = 10
    rule: str = "best"
    adaptive_draws: int = 2
    warmup: int = 0
    warmup_top: Optional[float] = None
    warmup_learning_rate: Optional[float] = None

    def __post_init__(self) -> None:
        from .._checks import positive_int

        k = self.k
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"expected K (candidates per proposal) >= 1, but got {k!r}")
        object.__setattr__(self, "k", int(k))
        if self.rule not in RULES:
            raise InputError(f"expected rule {' or '.join(map(repr, RULES))}, but got {self.rule!r}")
        positive_int("adaptive_draws", self.adaptive_draws)
        positive_int("warmup", self.warmup, 0)
        top = self.warmup_top
        if top is not None and (isinstance(top, bool) or not isinstance(top, (int, float)) or not 0 < top <= 1):
            raise InputError(f"expected warmup_top in (0, 1], but got {top!r}")
        lr = self.warmup_learning_rate
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf):
            raise InputError(f"expected warmup_learning_rate to be a positive finite number, but got {lr!r}")

    @property
    def draws(self) -> int:
        """Candidates an algorithm draws per proposal: K, or ``adaptive_draws * K`` for the adaptive rule."""
        return self.k if self.rule == "best" else self.adaptive_draws * self.k


class Assistant:
    """Picks, of the candidates an algorithm draws, the one its ``AssistancePolicy`` chooses.

    Args:
        scorer: where scores come from.
        k: K, candidates per proposal (default: the policy's, 10).
        rule: ``"best"`` or ``"adaptive"`` (default: the policy's, ``"best"``; see ``AssistancePolicy``).
        policy: the whole policy (default ``AssistancePolicy()``); ``k`` and ``rule``, when given, replace
            its values.

    Raises:
        ValueError: if ``k`` is not a positive integer, ``rule`` is unknown or ``scorer`` is not a
            ``ProxyScorer``.
    """

    RULES = RULES

    def __init__(
        self,
        scorer: ProxyScorer,
        k: Optional[int] = None,
        rule: Optional[str] = None,
        *,
        policy: Optional[AssistancePolicy] = None,
    ) -> None:
        if not isinstance(scorer, ProxyScorer):
            raise InputError(f"expected a ProxyScorer, but got {type(scorer).__name__}")
        if policy is None:
            policy = AssistancePolicy()
        elif not isinstance(policy, AssistancePolicy):
            raise InputError(f"expected an AssistancePolicy, but got {type(policy).__name__}")
        if k is not None:
            policy = replace(policy, k=k)
        if rule is not None:
            policy = replace(policy, rule=rule)
        self.scorer = scorer
        self.policy = policy

    @property
    def k(self) -> int:
        """K, candidates per proposal."""
        return self.policy.k

    @property
    def rule(self) -> str:
        """The policy's rule: ``"best"`` or ``"adaptive"``."""
        return self.policy.rule

    @property
    def draws(self) -> int:
        """Candidates an algorithm draws per proposal (``AssistancePolicy.draws``)."""
        return self.policy.draws

    def pick(self, candidates: Sequence[Hashable]) -> tuple[Hashable, float]:
        """``(arch, score)`` of the highest-scoring candidate; ties go to the earliest."""
        if len(candidates) == 0:
            raise InputError("expected at least one candidate to pick from, but got none")
        best, best_score = None, -math.inf
        for arch, s in zip(candidates, self.scorer.score_many(list(candidates))):
            if math.isnan(s):
                s = -math.inf
            if best is None or s > best_score:
                best, best_score = arch, s
        return best, best_score

    def choose(self, candidates: Iterable[Hashable], seen: list) -> tuple[Hashable, float, list]:
        """``(arch, score, examined)``: the policy's pick of ``candidates`` (consumed lazily) and the
        candidates it scored. Best of K scores them all (``pick``); the adaptive rule scores them one at
        a time, adds each score to ``seen`` (the sorted scores of the search so far, updated in place)
        and stops at the first that reaches its top ``1/K``."""
        if self.policy.rule == "best":
            examined = list(candidates)
            arch, score = self.pick(examined)
            return arch, score, examined
        k = self.policy.k
        bar = seen[int(len(seen) * (1 - 1 / k))] if len(seen) >= k else math.inf
        examined, best, best_score = [], None, -math.inf
        for c in candidates:
            s = float(self.scorer.score(c))
            s = -math.inf if math.isnan(s) else s
            examined.append(c)
            bisect.insort(seen, s)
            if best is None or s > best_score:
                best, best_score = c, s
            if s >= bar:
                best, best_score = c, s
                break
        if best is None:
            raise InputError("expected at least one candidate to pick from, but got none")
        return best, best_score, examined

    def __repr__(self) -> str:
        default = AssistancePolicy()
        extra = "".join(
            f", {f.name}={getattr(self.policy, f.name)!r}"
            for f in fields(AssistancePolicy)
            if f.name != "k" and getattr(self.policy, f.name) != getattr(default, f.name)
        )
        return f"Assistant({type(self.scorer).__name__}, k={self.k}{extra})"
