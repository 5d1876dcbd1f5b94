"""The ``Evaluator`` interface: ``evaluate(arch, fidelity) -> Result``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Hashable, Mapping

from gradsign_nas.algorithms.base import Result

from .nb201 import DATASET_TEST_METRIC

__all__ = ["Evaluator", "test_metrics_of"]


class Evaluator(ABC):
    """Evaluates architectures. ``fidelities`` lists the fidelities it offers, lowest first (e.g.
    ``(12, 200)`` epochs for NB201's tables); ``None`` in ``evaluate`` means the highest.
    ``test_metrics`` names the test accuracies an evaluation reports for reporting only, as
    ``{dataset: key of Result.extra}`` (empty when it reports none, e.g. live training); a run's
    ``test`` and trajectories list these datasets in this order."""

    fidelities: tuple = (None,)
    test_metrics: ClassVar[Mapping[str, str]] = {}

    @abstractmethod
    def evaluate(self, arch: Hashable, fidelity: Any = None) -> Result:
        """Evaluate ``arch`` at ``fidelity``; ``Result.metric`` is the search reward."""


def test_metrics_of(evaluator: Any) -> Mapping[str, str]:
    """The test accuracies a run of ``evaluator`` reports, ``{dataset: key of Result.extra}``: its
    ``test_metrics`` (empty for an ``Evaluator`` that has none, e.g. live training); an object that
    does not declare them (a duck-typed evaluator, or a wrapper around one) is taken to be a lookup in
    the tabular benchmark this package ships, whose keys a run reports where its results carry them."""
    declared = getattr(evaluator, "test_metrics", None)
    return DATASET_TEST_METRIC if declared is None else declared
