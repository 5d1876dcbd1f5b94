"""The ``Evaluator`` interface: ``evaluate(arch, fidelity) -> Result``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Hashable

from gradsign_nas.algorithms.base import Result


class Evaluator(ABC):
    """Evaluates architectures. ``fidelities`` lists the fidelities it offers, lowest first (e.g.
    ``(12, 200)`` epochs for NB201's tables); ``None`` in ``evaluate`` means the highest."""

    fidelities: tuple = (None,)

    @abstractmethod
    def evaluate(self, arch: Hashable, fidelity: Any = None) -> Result:
        """Evaluate ``arch`` at ``fidelity``; ``Result.metric`` is the search reward."""
