"""Random search: every proposal is a uniform sample of the space (``space.sample``).

Assisted rule: draw K uniform samples and evaluate the one with the highest proxy score
(best-of-K random search, the GradSign paper's G-RS). A zero-cost warm-up of M (ours; the assistance
policy's ``warmup``, or ``warmup=M``): score M uniform samples first and evaluate them best-scored
first; best-of-K after they run out. It declares no options (``PARAMETERS`` is empty).
"""

from __future__ import annotations

from typing import Optional

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

    def __init__(self, space, seed, assistant=None, fidelities=None, *, warmup: Optional[int] = None) -> None:
        super().__init__(space, seed, assistant, fidelities)
        self.warmup = self._warmup_samples(warmup)
        self._warm: Optional[list] = None

    def ask(self) -> Proposal:
        if self.assistant is not None and self.warmup:
            if self._warm is None:  # zero-cost warm-up: evaluate the M samples best-scored first
                self._warm = self._warm_up(self.warmup, self.warmup)
            if self._warm:
                arch, meta = self._warm.pop(0)
                return self._proposal(arch, source="warmup", **meta)
        arch, meta = self._choose(lambda: self.space.sample(self.rng))
        return self._proposal(arch, **meta)

    def tell(self, proposal: Proposal, result: Result) -> None:
        self._reward(result)
        self._take(proposal)

    def discard(self, proposal: Proposal) -> None:
        self._take(proposal)
