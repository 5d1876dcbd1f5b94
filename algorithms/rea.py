"""Regularized (aging) evolution (Real et al. 2019) with NAS-Bench-201's settings.

A population of the ``population_size`` (10) most recently evaluated architectures. Until the
population is filled by results, every proposal is a uniform random sample (also when several asks
are outstanding at once). After that, each proposal is a mutation of a parent: ``sample_size`` (3)
members drawn uniformly *with replacement*, the best of them is the parent, and ``space.mutate``
changes exactly one decision to a different choice (NB201: one edge to a different op). Every result
joins the population and the oldest member is removed.

Assisted rule: where REA would propose one random sample (initial population) or one mutation of
the tournament's parent, it draws K of them (K random samples, or K independent mutations of the
same parent) and evaluates the one with the highest proxy score (the GradSign paper's G-REA).
"""

from __future__ import annotations

from gradsign_nas.errors import InputError

from collections import deque

from .base import Algorithm, Proposal, Result


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"expected {name} to be a positive integer, but got {value!r}")
    return int(value)


class RegularizedEvolution(Algorithm):
    """Aging evolution.

    Args:
        space, seed, assistant, fidelities: see ``Algorithm``.
        population_size: members kept (NB201: 10).
        sample_size: tournament size, drawn with replacement (NB201: 3).
    """

    name = "rea"

    def __init__(self, space, seed, assistant=None, fidelities=None, *, population_size: int = 10,
                 sample_size: int = 3) -> None:
        super().__init__(space, seed, assistant, fidelities)
        self.population_size = _positive_int("population_size", population_size)
        self.sample_size = _positive_int("sample_size", sample_size)
        self.population: deque = deque()  # (arch, reward), oldest first

    def ask(self) -> Proposal:
        if len(self.population) < self.population_size:
            arch, meta = self._choose(lambda: self.space.sample(self.rng))
            return self._proposal(arch, source="random", initial=True, **meta)
        members = self.population
        picks = self.rng.integers(len(members), size=self.sample_size)
        parent = max((members[int(i)] for i in picks), key=lambda m: m[1])[0]
        arch, meta = self._choose(lambda: self.space.mutate(parent, self.rng))
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
