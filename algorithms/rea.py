"""Regularized (aging) evolution (Real et al. 2019) as NAS-Bench-201's script runs it.

Checked against D-X-Y/AutoDL-Projects, exps/algos/R_EA.py at commit 28e4b84 (``regularized_evolution``,
``mutate_arch_func``): a population of the ``population_size`` (10) most recently evaluated
architectures, filled with uniform random samples (not budget-checked there; our executors honour
that through ``meta["initial"]``); then each proposal mutates a parent: ``sample_size`` (3) members
drawn uniformly *with replacement*, the best of them is the parent, and ``space.mutate`` changes one
decision to a different choice (NB201: NB201's node-then-edge rule, see ``NB201Space.mutate``;
``mutation="uniform"``: one of the decisions uniformly). Every result joins the population and the
oldest member is removed.

Assisted rule (GradSign's released G-REA, cmu-catalyst/GradSign autodl/R_EA.py, the loop marked
``G-REA``): each mutation is the best-scored of K independent mutations of the same parent; the
initial population stays plain random. ``assist_initial=True`` (ours) also makes each initial
sample the best-scored of K random samples. A zero-cost warm-up of M (ours; the assistance policy's
``warmup``, or ``warmup=M``): the initial population is the ``population_size`` best-scored of M
uniform samples.
"""

from __future__ import annotations

from collections import deque
from typing import Optional

from gradsign_nas._checks import positive_int
from gradsign_nas.errors import InputError

from ._parameters import Parameter
from .base import Algorithm, Proposal, Result


class RegularizedEvolution(Algorithm):
    """Aging evolution.

    Args:
        space, seed, assistant, fidelities: see ``Algorithm``.
        population_size: members kept (NB201: 10).
        sample_size: tournament size, drawn with replacement (NB201: 3).
        mutation: ``"space"`` (the space's own rule) or ``"uniform"`` (one decision, uniformly).
        assist_initial: assisted only: each initial sample is the best-scored of K random samples.
        warmup: M of the zero-cost warm-up (``None``: the assistance policy's).
    """

    name = "rea"

    PARAMETERS = {
        "population_size": Parameter(int, 10, "members kept (NB201: 10)", low=1),
        "sample_size": Parameter(int, 3, "tournament size, drawn with replacement (NB201: 3)", low=1),
        "mutation": Parameter(
            str, "space", "the space's own mutation rule, or one decision uniformly", choices=("space", "uniform")
        ),
        "assist_initial": Parameter(bool, False, "assisted: each initial sample is the best-scored of K"),
    }

    def __init__(
        self,
        space,
        seed,
        assistant=None,
        fidelities=None,
        *,
        population_size: int = 10,
        sample_size: int = 3,
        mutation: str = "space",
        assist_initial: bool = False,
        warmup: Optional[int] = None,
    ) -> None:
        super().__init__(space, seed, assistant, fidelities)
        self.population_size = positive_int("population_size", population_size)
        self.sample_size = positive_int("sample_size", sample_size)
        if mutation not in ("space", "uniform"):
            raise InputError(f"expected mutation 'space' (the space's own rule) or 'uniform', but got {mutation!r}")
        if not isinstance(assist_initial, bool):
            raise InputError(f"expected assist_initial to be True or False, but got {assist_initial!r}")
        self.mutation, self.assist_initial = mutation, assist_initial
        self.warmup = self._warmup_samples(warmup)
        self._warm: Optional[list] = None
        self.population: deque = deque()  # (arch, reward), oldest first

    def _mutate(self, parent):
        if self.mutation == "uniform":
            from gradsign_nas.search_spaces.base import SearchSpace

            return SearchSpace.mutate(self.space, parent, self.rng)
        return self.space.mutate(parent, self.rng)

    def ask(self) -> Proposal:
        if len(self.population) < self.population_size:
            if self.assistant is not None and self.warmup:
                if self._warm is None:  # zero-cost warm-up: the initial population is the top of M samples
                    self._warm = self._warm_up(self.warmup, self.population_size)
                if self._warm:
                    arch, meta = self._warm.pop(0)
                    return self._proposal(arch, source="warmup", initial=True, **meta)
            if self.assistant is None or not self.assist_initial:
                return self._proposal(self.space.sample(self.rng), source="random", initial=True)
            arch, meta = self._choose(lambda: self.space.sample(self.rng))
            return self._proposal(arch, source="random", initial=True, **meta)
        members = self.population
        picks = self.rng.integers(len(members), size=self.sample_size)
        parent = max((members[int(i)] for i in picks), key=lambda m: m[1])[0]
        arch, meta = self._choose(lambda: self._mutate(parent))
        return self._proposal(arch, source="mutation", parent=str(parent), **meta)

    def tell(self, proposal: Proposal, result: Result) -> None:
        reward = self._reward(result)
        self._take(proposal)
        self.population.append((proposal.arch, reward))
        while len(self.population) > self.population_size:
            self.population.popleft()

    def discard(self, proposal: Proposal) -> None:
        self._take(proposal)

    def stats(self) -> dict:
        return {"population": len(self.population)}
