"""``FixedProposals``: an "algorithm" that proposes a given list of architectures, in order, once each.

It lets everything that is not a search run through the one executor interface (records, resume, Ray
Tune trials): the final evaluation of a search's best networks, and a calibration's random cells.
"""

from __future__ import annotations

from typing import Any, Sequence

from gradsign_nas.algorithms.base import Algorithm, Proposal, Result
from gradsign_nas.errors import InputError

__all__ = ["FixedProposals"]


class FixedProposals(Algorithm):
    """Proposes ``archs`` in order at ``fidelity``; asked once more, it refuses (give the driver
    ``trials=len(archs)``)."""

    name = "fixed"

    def __init__(self, space: Any, archs: Sequence[Any], fidelity: Any = None) -> None:
        super().__init__(space, 0, fidelities=(fidelity,) if fidelity is not None else None)
        self.archs = list(archs)
        self._i = 0

    def ask(self) -> Proposal:
        if self._i >= len(self.archs):
            raise InputError(f"expected at most {len(self.archs)} proposals of a fixed list, but was asked for more")
        arch = self.archs[self._i]
        self._i += 1
        return self._proposal(arch)

    def tell(self, proposal: Proposal, result: Result) -> None:
        self._take(proposal)

    def discard(self, proposal: Proposal) -> None:
        self._take(proposal)
