"""The ``SearchSpace`` protocol every algorithm and executor works against.

A search space says what an architecture is (an immutable, hashable value with a canonical
string), how to draw and change one (``sample``, ``mutate``), how to see it as a set of
categorical decisions (``decisions``, ``encode``, ``decode``: used by REINFORCE's policy and by
BOHB's configuration space), and how to build its ``torch.nn.Module`` (``build``).

A new space is one subclass. Only ``decisions``, ``decode``, ``parse`` and ``build`` are required;
``encode`` falls back to ``decode``'s inverse for architectures that expose ``as_dict()``, and
``sample`` / ``mutate`` default to uniform draws over the decisions (one decision changed to a
different choice); NB201 overrides ``mutate`` with NAS-Bench-201's node-then-edge rule.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Generic, Hashable, Mapping, Sequence, TypeVar

import numpy as np

from gradsign_nas.errors import InputError


@dataclass(frozen=True)
class Decision:
    """One categorical choice of a search space, e.g. the op on one edge of a cell."""

    name: str
    choices: tuple

    def __post_init__(self) -> None:
        if len(self.choices) < 1:
            raise InputError(f"decision {self.name!r} needs at least one choice, but got none")
        if len(set(self.choices)) != len(self.choices):
            raise InputError(f"decision {self.name!r} has repeated choices: {self.choices!r}")


ArchT = TypeVar("ArchT", bound=Hashable)  # a space's architecture type


class SearchSpace(ABC, Generic[ArchT]):
    """Base class of search spaces. Subclasses set ``name`` and implement the abstract methods."""

    name: str = "space"

    # -- what an architecture is -------------------------------------------------------------
    @property
    @abstractmethod
    def decisions(self) -> Sequence[Decision]:
        """The categorical decisions that together define an architecture, in a fixed order."""

    @abstractmethod
    def decode(self, config: Mapping[str, Any]) -> ArchT:
        """The architecture for ``{decision name: choice}``; raises ``ValueError`` on a bad config."""

    def encode(self, arch: ArchT) -> dict[str, Any]:
        """``{decision name: choice}`` of ``arch`` (the inverse of :meth:`decode`)."""
        self.check(arch)
        as_dict = getattr(arch, "as_dict", None)
        if as_dict is None:
            raise NotImplementedError(f"{type(self).__name__} must implement encode()")
        return dict(as_dict())

    @abstractmethod
    def parse(self, text: str) -> ArchT:
        """The architecture whose canonical string (``str(arch)``) is ``text``."""

    @abstractmethod
    def build(self, arch: ArchT, num_classes: int = 10, **kwargs: Any):
        """A freshly initialised ``torch.nn.Module`` for ``arch``."""

    def contains(self, arch: Any) -> bool:
        """Whether ``arch`` is an architecture of this space."""
        try:
            return self.decode(self.encode(arch)) == arch
        except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError):
            return False

    def check(self, arch: Any) -> None:
        """Raise ``ValueError`` unless ``arch`` belongs to this space."""
        arch_type = getattr(self, "arch_type", None)
        if arch_type is not None and not isinstance(arch, arch_type):
            raise InputError(
                f"expected an architecture of the {self.name} space ({arch_type.__name__}), "
                f"but got {type(arch).__name__}: {arch!r}"
            )

    # -- drawing and changing architectures ---------------------------------------------------
    def sample(self, rng: np.random.Generator) -> ArchT:
        """A uniformly random architecture (one uniform draw per decision)."""
        return self.decode({d.name: d.choices[int(rng.integers(len(d.choices)))] for d in self.decisions})

    def mutate(self, arch: ArchT, rng: np.random.Generator) -> ArchT:
        """``arch`` with one uniformly chosen decision changed to a different, uniform choice."""
        config = self.encode(arch)
        mutable = [d for d in self.decisions if len(d.choices) > 1]
        if not mutable:
            raise InputError(f"the {self.name} space has no decision with two or more choices to mutate")
        d = mutable[int(rng.integers(len(mutable)))]
        others = [c for c in d.choices if c != config[d.name]]
        config[d.name] = others[int(rng.integers(len(others)))]
        return self.decode(config)

    # -- conveniences ---------------------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        """The constructor options that recreate this space: ``search_spaces.get(self.name,
        **self.options())`` builds the same networks (recorded with every live run, so that
        ``gradsign_nas.load_best`` can rebuild its best network). A space with options overrides it."""
        return {}

    @property
    def size(self) -> int:
        """Number of decision combinations (an upper bound where ``decode`` rejects some)."""
        n = 1
        for d in self.decisions:
            n *= len(d.choices)
        return n

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, decisions={len(self.decisions)})"
