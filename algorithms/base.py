"""The ask/tell interface every search algorithm implements.

An ``Algorithm`` is pure Python: no I/O, no clock, all randomness from the ``numpy.random.Generator``
it is given (or builds from an int seed). The executor asks for a ``Proposal`` (an architecture and a
fidelity), evaluates it, and tells the ``Result`` back. Several proposals may be outstanding at once
(parallel workers); an executor that drops a proposal (e.g. it would overrun the budget) calls
``discard``. Same seed, same sequence of asks and tells -> same trajectory.

The assisted variant is the same class given ``assistant=``: where the algorithm would propose one
architecture from its own proposal distribution, the assistant draws K from that distribution and
picks the one with the highest proxy score (see ``gradsign_nas.assist``). How it assists (K, best of
K or the adaptive rule, the zero-cost warm-up) is the assistant's ``policy``
(``gradsign_nas.assist.AssistancePolicy``), which the algorithm reads here.

A subclass declares its user-settable constructor options as ``PARAMETERS`` (``Parameter``: type,
default, help, range or choices), which ``gradsign_nas.algorithms.parse_options`` checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Hashable, Mapping, Optional, Union

import numpy as np

from gradsign_nas.errors import InputError

from ._parameters import Parameter


@dataclass(frozen=True)
class Proposal:
    """What to evaluate next: ``arch`` at ``fidelity`` (``None``: the evaluator's default).

    ``trial_id`` numbers the algorithm's proposals 0, 1, 2, ...; ``meta`` carries what the algorithm
    wants to see again in ``tell`` or report (e.g. ``{"source": "model"}``, ``{"proxy": 1.2e6}``).
    """

    arch: Hashable
    fidelity: Any = None
    trial_id: int = 0
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    """The outcome of one evaluation: ``metric`` (higher is better), ``cost_s`` (seconds it took or
    would have taken), and ``extra`` metrics (e.g. test accuracies) for reporting only."""

    metric: float
    cost_s: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)


def make_rng(seed: Union[int, np.random.Generator, None]) -> np.random.Generator:
    """A private generator from an int seed, or the generator passed in."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer or a numpy Generator, but got {seed!r}")
    return np.random.default_rng(int(seed))


class Algorithm(ABC):
    """Base class of search algorithms (ask/tell).

    ``PARAMETERS`` declares the options a user may set (``{}``: none; a subclass that declares
    nothing accepts no options from ``parse_options``).
    """

    name: str = "algorithm"

    #: the user-settable constructor options: ``{keyword: Parameter}``
    PARAMETERS: ClassVar[dict[str, Parameter]] = {}

    def __init__(
        self,
        space,
        seed: Union[int, np.random.Generator],
        assistant: Optional[Any] = None,
        fidelities: Optional[tuple] = None,
    ) -> None:
        from gradsign_nas.search_spaces import get as get_space

        self.space = get_space(space)
        self.rng = make_rng(seed)
        if assistant is not None and not all(hasattr(assistant, a) for a in ("choose", "policy", "scorer")):
            raise InputError(f"expected an Assistant (gradsign_nas.assist), but got {type(assistant).__name__}")
        self.assistant = assistant
        self.fidelities = tuple(fidelities) if fidelities else (None,)
        self._next_id = 0
        self._pending: dict[int, Proposal] = {}
        self._scored: set = set()  # architectures whose proxy score this search already paid for
        self._lookups = 0  # proxy scores asked for, repeats included
        self._seen_scores: list = []  # sorted proxy scores of the adaptive rule's candidates so far

    @property
    def variant(self) -> str:
        return "assisted" if self.assistant is not None else "vanilla"

    @property
    def policy(self) -> Any:
        """The assistant's ``AssistancePolicy`` (``None`` for a vanilla search)."""
        return None if self.assistant is None else self.assistant.policy

    def _warmup_samples(self, warmup: Optional[int]) -> int:
        """M of the zero-cost warm-up: ``warmup`` when given, else the assistance policy's (0: none)."""
        if warmup is None:
            return 0 if self.assistant is None else int(self.assistant.policy.warmup)
        from gradsign_nas._checks import positive_int

        return positive_int("warmup", warmup, 0)

    def _proposal(self, arch, fidelity=None, **meta) -> Proposal:
        p = Proposal(
            arch=arch,
            fidelity=fidelity if fidelity is not None else self.fidelities[-1],
            trial_id=self._next_id,
            meta=meta,
        )
        self._next_id += 1
        self._pending[p.trial_id] = p
        return p

    def _take(self, proposal: Proposal) -> Proposal:
        """Remove ``proposal`` from the outstanding ones; ``ValueError`` if this algorithm did not make it
        or already saw its result."""
        # any object may come here: a missing or foreign trial_id (None included) finds nothing
        mine = self._pending.get(getattr(proposal, "trial_id", None))  # type: ignore[arg-type]
        if mine is None or mine != proposal:
            raise InputError(f"expected an outstanding proposal of this {self.name} search, but got {proposal!r}")
        return self._pending.pop(proposal.trial_id)

    @property
    def outstanding(self) -> int:
        """How many proposals were asked for and neither told nor discarded."""
        return len(self._pending)

    @staticmethod
    def _reward(result: Result) -> float:
        """``result.metric`` as a float; ``ValueError`` unless it is a finite number."""
        m = getattr(result, "metric", None)
        if isinstance(m, bool) or not isinstance(m, (int, float, np.integer, np.floating)) or not np.isfinite(m):
            raise InputError(f"expected a Result with a finite metric, but got {result!r}")
        return float(m)

    def _assist(self, candidates) -> tuple[Hashable, dict[str, Any]]:
        """The assistant's pick of ``candidates`` (an iterable, consumed lazily) and the meta it adds to
        the proposal: ``proxy`` (the pick's score), ``proxy_cost_s`` (what computing the scores of
        candidates not scored before in this search cost) and ``candidates`` (how many were scored).
        The policy's rule decides (``Assistant.choose``): best of K scores all; the adaptive rule stops
        at the first that reaches the top ``1/K`` of the scores this search has seen."""
        a = self.assistant
        assert a is not None  # only assisted searches call this
        arch, score, examined = a.choose(candidates, self._seen_scores)
        self._lookups += len(examined)
        cost = 0.0
        for c in examined:
            if c not in self._scored:
                self._scored.add(c)
                cost += float(a.scorer.cost_s(c))
        return arch, {"proxy": float(score), "proxy_cost_s": cost, "candidates": len(examined)}

    @property
    def proxy_scores(self) -> int:
        """How many proxy scores this search asked for, repeats included (its proxy budget: best-of-K
        asks K per evaluation); ``len(self._scored)`` is how many distinct architectures that was."""
        return self._lookups

    def _warm_up(self, m: int, take: int) -> list[tuple[Hashable, dict[str, Any]]]:
        """Zero-cost warm-up: score ``m`` uniform samples and return the ``take`` best distinct ones,
        best first, each with its ``proxy`` score; the first carries the ``proxy_cost_s`` of all ``m``."""
        assert self.assistant is not None  # only assisted searches call this
        scorer = self.assistant.scorer
        pool = [self.space.sample(self.rng) for _ in range(m)]
        self._lookups += m
        first = {c: i for i, c in reversed(list(enumerate(pool)))}  # distinct, each at its first draw
        distinct = sorted(first, key=first.__getitem__)
        scores = scorer.score_many(distinct)  # all at once: a GPU scores many networks per pass
        cost, ranked = 0.0, []
        for c, s in zip(distinct, scores):
            if c not in self._scored:
                self._scored.add(c)
                cost += float(scorer.cost_s(c))
            ranked.append((-float(s), first[c], c))
        ranked.sort(key=lambda t: (t[0], t[1]))
        out = [(c, {"proxy": -s, "proxy_cost_s": 0.0, "warmup": m}) for s, _, c in ranked[:take]]
        if out:
            out[0][1]["proxy_cost_s"] = cost
        return out

    def _choose(self, draw) -> tuple[Hashable, dict[str, Any]]:
        """One draw (vanilla), or the assistant's pick of K draws from the same distribution."""
        if self.assistant is None:
            return draw(), {}
        return self._assist(draw() for _ in range(self.assistant.policy.draws))

    @abstractmethod
    def ask(self) -> Proposal:
        """The next proposal to evaluate."""

    @abstractmethod
    def tell(self, proposal: Proposal, result: Result) -> None:
        """The result of evaluating ``proposal``."""

    def discard(self, proposal: Proposal) -> None:  # noqa: B027 (a hook: doing nothing is a valid default)
        """``proposal`` will never be evaluated (do-nothing by default)."""

    def stats(self) -> dict[str, Any]:
        """Algorithm-specific figures for the report (e.g. BOHB's model vs random rewards)."""
        return {}
