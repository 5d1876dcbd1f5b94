"""NAS-Bench-101: a 7-vertex DAG cell (input, 5 interior vertices, output) stacked into a fixed network.

The cell is an upper-triangular 7x7 adjacency matrix (``matrix[i][j] = 1``: an edge from vertex i to
vertex j) and one op per interior vertex: ``conv3x3-bn-relu``, ``conv1x1-bn-relu`` or ``maxpool3x3``.
As in NAS-Bench-101, a cell is valid when, after pruning the vertices that are not on a path from
the input to the output, the input still reaches the output and at most 9 edges remain.

Canonical form: :class:`NB101Arch` prunes on construction. A pruned vertex keeps its place but loses
all its edges, and its op is set to ``conv3x3-bn-relu``, so two matrices that differ only in dead
vertices are one architecture (one string, one hash). Graph isomorphism is *not* resolved: the same
network drawn with its interior vertices in another order is a different ``NB101Arch``.

Canonical string: the 7 matrix rows as bit strings joined by ``/``, a ``|``, then the 5 interior ops
joined by ``,``::

    0111100/0010000/0001000/0000100/0000010/0000001/0000000|conv3x3-bn-relu,conv1x1-bn-relu,...

``parse`` accepts any valid (also unpruned) matrix; ``str`` prints the pruned one.

Decisions: the 21 upper-triangular edges ``edge_i_j`` (choices 0, 1) and the interior ops
``op_1..op_5``. Not every combination is a valid cell: ``decode`` raises ``ValueError`` on an
invalid one; ``sample`` draws uniform bits and ops until valid (NAS-Bench-101's ``random_spec``),
``mutate`` changes one decision (flip one edge or change one op), chosen uniformly among the changes
that give a valid cell different from the parent (two changes for the one-edge cell, which no
single change can alter).

``build`` returns NAS-Bench-101's network: 3x3 conv stem with 128 channels, 3 stacks of 3 cells,
2x2 max-pool and doubled channels between stacks, global average pooling, linear classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from gradsign_nas.errors import InputError

from .base import Decision, SearchSpace

OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
NUM_VERTICES = 7
MAX_EDGES = 9
EDGES = tuple((i, j) for i in range(NUM_VERTICES) for j in range(i + 1, NUM_VERTICES))
EDGE_NAMES = tuple(f"edge_{i}_{j}" for i, j in EDGES)
OP_NAMES = tuple(f"op_{v}" for v in range(1, NUM_VERTICES - 1))
# NAS-Bench-Suite-Zero's op codes: 0 input, 1 output, 2 maxpool3x3, 3 conv1x1, 4 conv3x3.
FILE_OP_CODES = {2: "maxpool3x3", 3: "conv1x1-bn-relu", 4: "conv3x3-bn-relu"}
_MAX_TRIES = 10_000


def _live_vertices(m: np.ndarray) -> list[int]:
    """Vertices on some path from the input (0) to the output (last)."""
    n = len(m)
    forward = {0}
    for v in range(n):
        if v in forward:
            forward.update(int(w) for w in np.flatnonzero(m[v]))
    backward = {n - 1}
    for v in range(n - 1, -1, -1):
        if v in backward:
            backward.update(int(u) for u in np.flatnonzero(m[:, v]))
    return sorted(forward & backward)


@dataclass(frozen=True)
class NB101Arch:
    """An NB101 cell: a 7x7 upper-triangular 0/1 ``matrix`` (tuple of row tuples) and the 5 interior
    ``ops``. Construction validates, prunes (see the module docstring) and raises ``ValueError`` on
    an invalid cell."""

    matrix: tuple
    ops: tuple

    def __post_init__(self) -> None:
        try:
            m = np.array(self.matrix, dtype=np.int64)
        except (TypeError, ValueError):
            raise InputError(f"an NB101 matrix is 7 rows of 7 zeros and ones, but got {self.matrix!r}") from None
        if m.shape != (NUM_VERTICES, NUM_VERTICES) or not np.isin(m, (0, 1)).all():
            raise InputError(f"an NB101 matrix is 7 rows of 7 zeros and ones, but got {self.matrix!r}")
        if np.tril(m).any():
            raise InputError(
                f"an NB101 matrix must be strictly upper-triangular (edges go forward), but got {self.matrix!r}"
            )
        ops = tuple(self.ops) if isinstance(self.ops, (tuple, list)) else self.ops
        if not isinstance(ops, tuple) or len(ops) != NUM_VERTICES - 2 or any(op not in OPS for op in ops):
            raise InputError(f"an NB101 cell has 5 interior ops from {', '.join(OPS)}, but got {self.ops!r}")
        live = _live_vertices(m)
        if 0 not in live or NUM_VERTICES - 1 not in live:
            raise InputError(f"an NB101 cell needs a path from input to output, but {_rows(m)} has none")
        dead = [v for v in range(NUM_VERTICES) if v not in live]
        m[dead, :] = 0
        m[:, dead] = 0
        if m.sum() > MAX_EDGES:
            raise InputError(
                f"an NB101 cell has at most {MAX_EDGES} edges after pruning, but {_rows(m)} has {int(m.sum())}"
            )
        ops = tuple(OPS[0] if v in dead else ops[v - 1] for v in range(1, NUM_VERTICES - 1))
        object.__setattr__(self, "matrix", tuple(tuple(int(b) for b in row) for row in m))
        object.__setattr__(self, "ops", ops)

    def __str__(self) -> str:
        return f"{_rows(np.array(self.matrix))}|{','.join(self.ops)}"

    def as_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {name: self.matrix[i][j] for name, (i, j) in zip(EDGE_NAMES, EDGES)}
        config.update(zip(OP_NAMES, self.ops))
        return config

    @property
    def num_edges(self) -> int:
        return int(sum(map(sum, self.matrix)))

    def pruned(self) -> tuple[tuple, tuple]:
        """``(matrix, ops)`` with the dead vertices removed (what NAS-Bench-101 builds and stores);
        ``ops`` here lists the interior vertices that remain."""
        m = np.array(self.matrix)
        keep = _live_vertices(m)
        sub = m[np.ix_(keep, keep)]
        return tuple(tuple(int(b) for b in row) for row in sub), tuple(self.ops[v - 1] for v in keep[1:-1])


def _rows(m: np.ndarray) -> str:
    return "/".join("".join(str(int(b)) for b in row) for row in m)


def parse_cell_string(text: str) -> NB101Arch:
    """Parse ``rows|ops`` (see the module docstring); raises ``ValueError`` naming what is wrong."""
    if not isinstance(text, str):
        raise InputError(f"expected an NB101 cell string, but got {type(text).__name__}")
    example = "'0111100/0010000/0001000/0000100/0000010/0000001/0000000|conv3x3-bn-relu,...'"
    rows, sep, ops = text.strip().partition("|")
    row_list = rows.split("/")
    if not sep or len(row_list) != NUM_VERTICES or any(len(r) != NUM_VERTICES or set(r) - {"0", "1"} for r in row_list):
        raise InputError(
            f"expected an NB101 cell string of 7 rows of 7 bits and 5 ops like {example}, but got {text!r}"
        )
    matrix = tuple(tuple(int(b) for b in r) for r in row_list)
    op_list = tuple(o.strip() for o in ops.split(","))
    for op in op_list:
        if op not in OPS:
            raise InputError(f"unknown NB101 op {op!r} in {text!r}; expected one of {', '.join(OPS)}")
    return NB101Arch(matrix, op_list)


class NB101Space(SearchSpace[NB101Arch]):
    """The NAS-Bench-101 cell search space.

    Example:
        >>> import numpy as np
        >>> from gradsign_nas import search_spaces
        >>> space = search_spaces.get("nb101")
        >>> arch = space.sample(np.random.default_rng(0))
        >>> space.parse(str(arch)) == arch
        True
    """

    name = "nb101"
    arch_type = NB101Arch
    ops = OPS

    def __init__(self, stem_channels: int = 128, stacks: int = 3, cells_per_stack: int = 3) -> None:
        if stem_channels < 1 or stacks < 1 or cells_per_stack < 1:
            raise InputError(
                f"NB101 needs positive sizes, but got stem_channels={stem_channels}, "
                f"stacks={stacks}, cells_per_stack={cells_per_stack}"
            )
        self.stem_channels, self.stacks, self.cells_per_stack = int(stem_channels), int(stacks), int(cells_per_stack)
        self._decisions = tuple([Decision(n, (0, 1)) for n in EDGE_NAMES] + [Decision(n, OPS) for n in OP_NAMES])

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def decode(self, config: Mapping[str, Any]) -> NB101Arch:
        names = set(EDGE_NAMES) | set(OP_NAMES)
        if set(config) != names:
            raise InputError(
                f"an NB101 config needs exactly the keys edge_i_j and op_1..op_5, but got {sorted(config)}"
            )
        m = np.zeros((NUM_VERTICES, NUM_VERTICES), dtype=np.int64)
        for name, (i, j) in zip(EDGE_NAMES, EDGES):
            bit = config[name]
            if bit not in (0, 1) or isinstance(bit, float):
                raise InputError(f"{name} must be 0 or 1, but got {bit!r}")
            m[i, j] = int(bit)
        return NB101Arch(tuple(map(tuple, m)), tuple(str(config[n]) for n in OP_NAMES))

    def parse(self, text: str) -> NB101Arch:
        return parse_cell_string(text)

    def from_matrix(self, matrix: Any, ops: Sequence) -> NB101Arch:
        """The architecture for a 7x7 matrix and either the 5 interior op names or NAS-Bench-Suite-Zero's
        7 op codes (0 input, 1 output, 2 maxpool3x3, 3 conv1x1-bn-relu, 4 conv3x3-bn-relu)."""
        ops = list(ops)
        if len(ops) == NUM_VERTICES:
            if ops[0] != 0 or ops[-1] != 1 or any(o not in FILE_OP_CODES for o in ops[1:-1]):
                raise InputError(f"expected 7 NB101 op codes [0, 2..4 x5, 1], but got {ops!r}")
            ops = [FILE_OP_CODES[o] for o in ops[1:-1]]
        m = np.asarray(matrix)
        if m.size == NUM_VERTICES**2:
            m = m.reshape(NUM_VERTICES, NUM_VERTICES)
        return NB101Arch(tuple(tuple(int(b) for b in row) for row in np.atleast_2d(m)), tuple(ops))

    def contains(self, arch: Any) -> bool:
        return isinstance(arch, NB101Arch)

    def sample(self, rng: np.random.Generator) -> NB101Arch:
        """Uniform edge bits and ops, redrawn until the cell is valid."""
        for _ in range(_MAX_TRIES):
            try:
                return super().sample(rng)
            except ValueError:
                continue
        raise RuntimeError("could not draw a valid NB101 cell")  # pragma: no cover

    def mutate(self, arch: NB101Arch, rng: np.random.Generator) -> NB101Arch:
        """Flip one edge or change one op: a uniformly random one among the single changes that give
        a valid cell different from ``arch``. Where no single change does (the one-edge cell
        input->output: every new edge there is pruned away), two changes are made instead."""
        self.check(arch)
        config = self.encode(arch)
        moves = [(d.name, c) for d in self._decisions for c in d.choices if c != config[d.name]]

        def child(changes):
            try:
                return self.decode({**config, **dict(changes)})
            except ValueError:
                return None

        for k in rng.permutation(len(moves)):
            new = child([moves[k]])
            if new is not None and new != arch:
                return new
        for _ in range(_MAX_TRIES):
            i, j = rng.choice(len(moves), size=2, replace=False)
            if moves[i][0] != moves[j][0]:
                new = child([moves[i], moves[j]])
                if new is not None and new != arch:
                    return new
        raise RuntimeError(f"could not mutate {arch} into a different valid cell")  # pragma: no cover

    def options(self) -> dict[str, Any]:
        return {"stem_channels": self.stem_channels, "stacks": self.stacks, "cells_per_stack": self.cells_per_stack}

    def build(self, arch: NB101Arch, num_classes: int = 10, **kwargs: Any):
        """NAS-Bench-101's network for ``arch`` (pruned), freshly initialised (PyTorch defaults)."""
        self.check(arch)
        from ._nb101_net import NB101Network

        stem = kwargs.pop("stem_channels", self.stem_channels)
        stacks = kwargs.pop("stacks", self.stacks)
        cells = kwargs.pop("cells_per_stack", self.cells_per_stack)
        if kwargs:
            raise InputError(f"unknown build options for nb101: {sorted(kwargs)}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise InputError(f"num_classes must be a positive integer, but got {num_classes!r}")
        matrix, ops = arch.pruned()
        return NB101Network(
            matrix,
            ops,
            stem_channels=int(stem),
            stacks=int(stacks),
            cells_per_stack=int(cells),
            num_classes=int(num_classes),
        )
