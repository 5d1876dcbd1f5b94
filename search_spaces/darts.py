"""The DARTS search space (NAS-Bench-301): a normal and a reduction cell, each 8 (input, op) pairs.

Each cell has two inputs (nodes 0 and 1: the outputs of the two previous cells) and four
intermediate nodes 2..5; node ``n`` adds two ops applied to two *different* earlier nodes
``i < j < n``, and the cell concatenates nodes 2-5. Ops: max_pool_3x3, avg_pool_3x3, skip_connect,
sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5 (NAS-Bench-301's seven; their codes 0..6 in
its files follow this order).

Canonical string (the two pairs of a node sorted by input node)::

    normal:|sep_conv_3x3~0|sep_conv_3x3~1|+|skip_connect~0|sep_conv_3x3~1|+|...|+|...|;reduce:|...|+...

``parse`` also accepts the two pairs of a node in either order; ``str`` prints the canonical order
(a node's sum does not depend on the order, so both strings are the same network).

Decisions (for REINFORCE / BOHB): per cell and node ``n``, ``{cell}_inputs_{n}`` picks the input pair
``"i_j"`` and ``{cell}_op_{n}_a`` / ``{cell}_op_{n}_b`` the ops on inputs ``i`` / ``j``; every
combination is a valid genotype, so ``sample`` is a uniform draw per decision and ``mutate`` changes
one decision (one op, or one node's input pair), like NAS-Bench-301's mutation.

``build`` returns the DARTS evaluation network at the size NAS-Bench-301 trained: C=32 initial
channels, 8 cells, reductions at cells 2 and 5, no auxiliary head by default (NAS-Bench-301 trained
with one, weight 0.4; pass ``auxiliary=True`` to include it), no drop-path at scoring time.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, Mapping, Sequence

import numpy as np

from gradsign_nas.errors import InputError

from .base import Decision, SearchSpace

OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
CELLS = ("normal", "reduce")
NODES = (2, 3, 4, 5)
CONCAT = (2, 3, 4, 5)


def _input_pairs(node: int) -> tuple[str, ...]:
    return tuple(f"{i}_{j}" for i, j in combinations(range(node), 2))


def _check_cell(pairs: Any, which: str) -> tuple:
    """Validate and canonicalise one cell's 8 (input, op) pairs."""
    if not isinstance(pairs, (tuple, list)) or len(pairs) != 8:
        raise InputError(f"a DARTS {which} cell is 8 (input node, op) pairs, but got {pairs!r}")
    out = []
    for k, node in enumerate(NODES):
        two = []
        for pair in pairs[2 * k : 2 * k + 2]:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InputError(f"expected an (input node, op) pair in the DARTS {which} cell, but got {pair!r}")
            i, op = pair
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < node:
                raise InputError(f"node {node} of the DARTS {which} cell takes inputs 0..{node - 1}, but got {i!r}")
            if isinstance(op, (int, np.integer)) and not isinstance(op, bool):
                if not 0 <= int(op) < len(OPS):
                    raise InputError(f"a DARTS op code is 0..{len(OPS) - 1}, but got {op!r}")
                op = OPS[int(op)]
            if op not in OPS:
                raise InputError(f"unknown DARTS op {op!r}; expected one of {', '.join(OPS)}")
            two.append((int(i), str(op)))
        if two[0][0] == two[1][0]:
            raise InputError(
                f"node {node} of the DARTS {which} cell needs two different inputs, but both are {two[0][0]}"
            )
        out.extend(sorted(two))
    return tuple(out)


@dataclass(frozen=True)
class DartsArch:
    """A DARTS genotype: ``normal`` and ``reduce``, each 8 ``(input node, op)`` pairs (nodes 2..5,
    two pairs each). The constructor accepts op names or NAS-Bench-301 op codes 0..6 and sorts the
    two pairs of each node by input, so equal networks are equal objects."""

    normal: tuple
    reduce: tuple

    def __post_init__(self) -> None:
        object.__setattr__(self, "normal", _check_cell(self.normal, "normal"))
        object.__setattr__(self, "reduce", _check_cell(self.reduce, "reduce"))

    def __str__(self) -> str:
        def cell(pairs):
            return "+".join(
                f"|{pairs[2 * k][1]}~{pairs[2 * k][0]}|{pairs[2 * k + 1][1]}~{pairs[2 * k + 1][0]}|" for k in range(4)
            )

        return f"normal:{cell(self.normal)};reduce:{cell(self.reduce)}"

    def as_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for name, pairs in zip(CELLS, (self.normal, self.reduce)):
            for k, node in enumerate(NODES):
                (i, op_a), (j, op_b) = pairs[2 * k], pairs[2 * k + 1]
                config[f"{name}_inputs_{node}"] = f"{i}_{j}"
                config[f"{name}_op_{node}_a"] = op_a
                config[f"{name}_op_{node}_b"] = op_b
        return config

    def genotype(self) -> dict[str, Any]:
        """DARTS' ``Genotype`` fields: ``(op, input)`` pairs and the concatenated nodes."""
        return {
            "normal": [(op, i) for i, op in self.normal],
            "normal_concat": list(CONCAT),
            "reduce": [(op, i) for i, op in self.reduce],
            "reduce_concat": list(CONCAT),
        }


def parse_genotype_string(text: str) -> DartsArch:
    """Parse ``normal:|op~i|op~j|+...;reduce:|...`` (see the module docstring)."""
    if not isinstance(text, str):
        raise InputError(f"expected a DARTS genotype string, but got {type(text).__name__}")
    parts = text.strip().split(";")
    example = "'normal:|sep_conv_3x3~0|skip_connect~1|+|...|+|...|+|...|;reduce:|...|'"
    if len(parts) != 2 or not parts[0].startswith("normal:") or not parts[1].startswith("reduce:"):
        raise InputError(f"expected a DARTS genotype string like {example}, but got {text!r}")
    cells = []
    for part in parts:
        body = part.split(":", 1)[1]
        nodes = body.split("+")
        if len(nodes) != 4:
            raise InputError(f"a DARTS cell string has 4 nodes separated by '+', but got {len(nodes)} in {text!r}")
        pairs = []
        for node in nodes:
            if not (node.startswith("|") and node.endswith("|")):
                raise InputError(f"each node of a DARTS cell string is wrapped in '|', but got {node!r}")
            edges = node[1:-1].split("|")
            if len(edges) != 2:
                raise InputError(f"each DARTS node has 2 inputs, but got {node!r}")
            for edge in edges:
                op, sep, src = edge.rpartition("~")
                if not sep or not src.isdigit():
                    raise InputError(f"a DARTS edge reads 'op~input', but got {edge!r} in {text!r}")
                pairs.append((int(src), op))
        cells.append(pairs)
    return DartsArch(tuple(cells[0]), tuple(cells[1]))


class DartsSpace(SearchSpace[DartsArch]):
    """The DARTS / NAS-Bench-301 cell search space.

    Example:
        >>> import numpy as np
        >>> from gradsign_nas import search_spaces
        >>> space = search_spaces.get("darts")
        >>> arch = space.sample(np.random.default_rng(0))
        >>> space.parse(str(arch)) == arch
        True
    """

    name = "darts"
    arch_type = DartsArch
    ops = OPS

    def __init__(self, C: int = 32, layers: int = 8, auxiliary: bool = False) -> None:
        if C < 2 or C % 2 or layers < 3:
            raise InputError(f"DARTS needs an even C >= 2 and layers >= 3, but got C={C}, layers={layers}")
        self.C, self.layers, self.auxiliary = int(C), int(layers), bool(auxiliary)
        decisions = []
        for cell in CELLS:
            for node in NODES:
                decisions.append(Decision(f"{cell}_inputs_{node}", _input_pairs(node)))
                decisions.append(Decision(f"{cell}_op_{node}_a", OPS))
                decisions.append(Decision(f"{cell}_op_{node}_b", OPS))
        self._decisions = tuple(decisions)
        self._names = tuple(d.name for d in decisions)

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def decode(self, config: Mapping[str, Any]) -> DartsArch:
        if set(config) != set(self._names):
            missing = sorted(set(self._names) - set(config))
            extra = sorted(set(config) - set(self._names))
            raise InputError(
                f"a DARTS config needs exactly the {len(self._names)} decision keys, "
                f"but got missing={missing} extra={extra}"
            )
        cells = []
        for cell in CELLS:
            pairs = []
            for node in NODES:
                choice = str(config[f"{cell}_inputs_{node}"])
                if choice not in _input_pairs(node):
                    raise InputError(f"{cell}_inputs_{node} must be one of {_input_pairs(node)}, but got {choice!r}")
                i, j = (int(v) for v in choice.split("_"))
                pairs += [(i, str(config[f"{cell}_op_{node}_a"])), (j, str(config[f"{cell}_op_{node}_b"]))]
            cells.append(tuple(pairs))
        return DartsArch(*cells)

    def parse(self, text: str) -> DartsArch:
        return parse_genotype_string(text)

    def from_nb301(self, normal: Sequence, reduce: Sequence) -> DartsArch:
        """The architecture for NAS-Bench-301's two lists of ``(input node, op code 0..6)`` pairs."""
        return DartsArch(tuple(tuple(p) for p in normal), tuple(tuple(p) for p in reduce))

    def contains(self, arch: Any) -> bool:
        return isinstance(arch, DartsArch)

    def options(self) -> dict[str, Any]:
        return {"C": self.C, "layers": self.layers, "auxiliary": self.auxiliary}

    def build(self, arch: DartsArch, num_classes: int = 10, **kwargs: Any):
        """The DARTS evaluation network (C=32, 8 cells, no auxiliary head unless asked).

        Options: ``C``, ``layers``, ``auxiliary`` (add DARTS' auxiliary head), ``op_affine`` (default
        True; False drops the scale/shift of the batch norms inside cell ops, which reproduces the
        parameter counts in NAS-Bench-Suite-Zero's NB301 file)."""
        self.check(arch)
        from ._darts_net import NetworkCIFAR

        C = kwargs.pop("C", self.C)
        layers = kwargs.pop("layers", self.layers)
        auxiliary = kwargs.pop("auxiliary", self.auxiliary)
        op_affine = kwargs.pop("op_affine", True)
        if kwargs:
            raise InputError(f"unknown build options for darts: {sorted(kwargs)}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise InputError(f"num_classes must be a positive integer, but got {num_classes!r}")
        return NetworkCIFAR(
            arch.normal,
            arch.reduce,
            C=int(C),
            layers=int(layers),
            num_classes=int(num_classes),
            auxiliary=bool(auxiliary),
            op_affine=bool(op_affine),
        )
