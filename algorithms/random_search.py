"""Random search: every proposal is a uniform sample of the space (``space.sample``).

Assisted rule: draw K uniform samples and evaluate the one with the highest proxy score
(best-of-K random search, the GradSign paper's G-RS).
"""

from __future__ import annotations

from .base import Algorithm, Proposal, Result


class RandomSearch(Algorithm):
    """Uniform random search (NAS-Bench-201's RS baseline).

    Example:
        >>> from gradsign_nas.algorithms import RandomSearch
        >>> rs = RandomSearch("nb201", seed=0, fidelities=(12,))
        >>> p = rs.ask(); p.fidelity
        12
    """

    name = "rs"

    def ask(self) -> Proposal:
        arch, meta = self._choose(lambda: self.space.sample(self.rng))
        return self._proposal(arch, **meta)

    def tell(self, proposal: Proposal, result: Result) -> None:
        self._reward(result)
        self._take(proposal)

    def discard(self, proposal: Proposal) -> None:
        self._take(proposal)
