"""NAS-Bench-201: a 4-node cell with 6 edges, each one of five ops, stacked into a fixed network.

Architectures print and parse in the official format
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (edges 0->1, 0->2, 1->2, 0->3, 1->3, 2->3), and map to
the official NAS-Bench-201 / NATS-Bench topology index 0..15624 through a permutation table that
ships with the package (derived from the benchmark's own files; ``tests/test_nb201.py`` checks it
against them).

``build`` reproduces NAS-Bench-201's ``TinyNetwork``: 3x3 conv stem (C=16) + BN, three stages of N=5
cells at C, 2C, 4C with residual reduction blocks between them, BN-ReLU, global average pooling and
a linear classifier. Its parameter count equals the one NAS-Bench-201 reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

import numpy as np

from gradsign_nas.errors import InputError

from .base import Decision, SearchSpace

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to node, from node), official order
EDGE_NAMES = tuple(f"edge_{j}_{i}" for i, j in EDGES)  # edge_<from>_<to>
NUM_ARCHS = len(OPS) ** len(EDGES)


@dataclass(frozen=True)
class NB201Arch:
    """An NB201 cell: the op on each of the six edges, in the official edge order."""

    ops: tuple
    _text: str = field(init=False, repr=False, compare=False, hash=False, default="")

    def __post_init__(self) -> None:
        if not isinstance(self.ops, tuple) or len(self.ops) != len(EDGES):
            raise InputError(f"an NB201 cell has 6 edge ops, but got {self.ops!r}")
        for op in self.ops:
            if op not in OPS:
                raise InputError(f"unknown NB201 op {op!r}; expected one of {', '.join(OPS)}")
        parts, k = [], 0
        for node in range(1, 4):
            parts.append("|" + "|".join(f"{self.ops[k + j]}~{j}" for j in range(node)) + "|")
            k += node
        object.__setattr__(self, "_text", "+".join(parts))  # the canonical string, computed once

    def __str__(self) -> str:
        return self._text

    def as_dict(self) -> dict[str, str]:
        return dict(zip(EDGE_NAMES, self.ops))

    @property
    def code(self) -> int:
        """Base-5 code of the ops (edge 0 most significant); not the official index."""
        c = 0
        for op in self.ops:
            c = c * len(OPS) + OPS.index(op)
        return c

    @classmethod
    def from_code(cls, code: int) -> "NB201Arch":
        ops = []
        for _ in EDGES:
            code, r = divmod(int(code), len(OPS))
            ops.append(OPS[r])
        return cls(tuple(reversed(ops)))


def parse_arch_string(text: str) -> NB201Arch:
    """Parse the official NB201 arch string; raises ``ValueError`` naming what is wrong."""
    if not isinstance(text, str):
        raise InputError(f"expected an NB201 arch string, but got {type(text).__name__}")
    s = text.strip()
    nodes = s.split("+")
    if len(nodes) != 3:
        raise InputError(
            f"expected an NB201 arch string of 3 nodes like '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|', "
            f"but got {text!r}"
        )
    ops = []
    for node, part in enumerate(nodes, start=1):
        if not (part.startswith("|") and part.endswith("|")):
            raise InputError(f"node {node} of NB201 arch string {text!r} must be wrapped in '|', but got {part!r}")
        edges = part[1:-1].split("|")
        if len(edges) != node:
            raise InputError(f"node {node} of NB201 arch string {text!r} needs {node} inputs, but got {len(edges)}")
        for j, edge in enumerate(edges):
            op, sep, src = edge.rpartition("~")
            if not sep or src != str(j):
                raise InputError(f"edge {edge!r} of NB201 arch string {text!r} should read 'op~{j}'")
            if op not in OPS:
                raise InputError(f"unknown NB201 op {op!r} in {text!r}; expected one of {', '.join(OPS)}")
            ops.append(op)
    return NB201Arch(tuple(ops))


@lru_cache(maxsize=1)
def _order() -> tuple[np.ndarray, np.ndarray]:
    """(official index -> base-5 code, base-5 code -> official index)."""
    with resources.files(__package__).joinpath("nb201_order.npy").open("rb") as f:
        codes = np.load(f, allow_pickle=False).astype(np.int64)
    inverse = np.full(NUM_ARCHS, -1, dtype=np.int64)
    inverse[codes] = np.arange(len(codes))
    return codes, inverse


class NB201Space(SearchSpace[NB201Arch]):
    """The NAS-Bench-201 cell search space (15,625 architectures).

    Example:
        >>> from gradsign_nas import search_spaces
        >>> space = search_spaces.get("nb201")
        >>> arch = space.from_index(6111)
        >>> space.index(space.parse(str(arch)))
        6111
    """

    name = "nb201"
    arch_type = NB201Arch
    ops = OPS

    def __init__(self, C: int = 16, N: int = 5, in_channels: int = 3) -> None:
        if C < 1 or N < 1 or in_channels < 1:
            raise InputError(f"NB201 needs C, N and in_channels >= 1, but got C={C}, N={N}, in_channels={in_channels}")
        self.C, self.N, self.in_channels = int(C), int(N), int(in_channels)
        self._decisions = tuple(Decision(name, OPS) for name in EDGE_NAMES)

    @property
    def decisions(self):
        return self._decisions

    def decode(self, config: Mapping[str, Any]) -> NB201Arch:
        missing = [n for n in EDGE_NAMES if n not in config]
        extra = [n for n in config if n not in EDGE_NAMES]
        if missing or extra:
            raise InputError(f"an NB201 config needs exactly the keys {EDGE_NAMES}, but got {sorted(config)}")
        return NB201Arch(tuple(str(config[n]) for n in EDGE_NAMES))

    def parse(self, text: str) -> NB201Arch:
        return parse_arch_string(text)

    def mutate(self, arch: NB201Arch, rng) -> NB201Arch:
        """NAS-Bench-201's mutation (D-X-Y/AutoDL-Projects, exps/algos/R_EA.py at commit 28e4b84,
        ``mutate_arch_func``, lines 90-100; the same in GradSign's autodl/R_EA.py): a node 1..3
        uniformly, then one of its incoming edges uniformly (so the edge into node 1 changes with
        p = 1/3, each edge into node 3 with p = 1/9), then a different op uniformly.
        ``SearchSpace.mutate`` (one of the six edges uniformly) is REA's ``mutation="uniform"``."""
        self.check(arch)
        node = int(rng.integers(3))  # nodes 1, 2, 3 have 1, 2, 3 incoming edges
        edge = (0, 1, 3)[node] + int(rng.integers(node + 1))
        others = [op for op in OPS if op != arch.ops[edge]]
        ops = list(arch.ops)
        ops[edge] = others[int(rng.integers(len(others)))]
        return NB201Arch(tuple(ops))

    def contains(self, arch: Any) -> bool:
        return isinstance(arch, NB201Arch)

    # -- the official index -----------------------------------------------------------------------
    def index(self, arch: NB201Arch) -> int:
        """The official NAS-Bench-201 index of ``arch``."""
        self.check(arch)
        return int(_order()[1][arch.code])

    def from_index(self, index: int) -> NB201Arch:
        """The architecture with official NAS-Bench-201 index ``index`` (0..15624)."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < NUM_ARCHS:
            raise InputError(f"an NB201 index is an integer in 0..{NUM_ARCHS - 1}, but got {index!r}")
        return NB201Arch.from_code(int(_order()[0][int(index)]))

    def all(self) -> list[NB201Arch]:
        """All 15,625 architectures in official index order."""
        return [NB201Arch.from_code(int(c)) for c in _order()[0]]

    # -- the network ----------------------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        return {"C": self.C, "N": self.N, "in_channels": self.in_channels}

    def build(self, arch: NB201Arch, num_classes: int = 10, **kwargs: Any):
        self.check(arch)
        from ._nb201_net import TinyNetwork

        C = int(kwargs.pop("C", self.C))
        N = int(kwargs.pop("N", self.N))
        in_channels = int(kwargs.pop("in_channels", self.in_channels))
        if kwargs:
            raise InputError(f"unknown build options for nb201: {sorted(kwargs)}; expected C, N, in_channels")
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise InputError(f"num_classes must be a positive integer, but got {num_classes!r}")
        if C < 1 or N < 1 or in_channels < 1:
            raise InputError(f"NB201 needs C, N and in_channels >= 1, but got C={C}, N={N}, in_channels={in_channels}")
        return TinyNetwork(arch.ops, C=C, N=N, num_classes=int(num_classes), in_channels=in_channels)

    def is_connected(self, arch: NB201Arch) -> bool:
        """Whether some path of non-``none`` edges leads from the cell's input to its output."""
        reach = {0}
        for (to, frm), op in zip(EDGES, arch.ops):
            if op != "none" and frm in reach:
                reach.add(to)
        return 3 in reach
