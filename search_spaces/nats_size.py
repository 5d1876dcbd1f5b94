"""NATS-Bench's size search space: the width of each of 5 layers, each one of 8, 16, ..., 64.

NATS-Bench (Dong et al., TPAMI 2021) fixes the cell topology to the NAS-Bench-201 cell with the best
CIFAR-100 validation accuracy (index 9930,
``|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|``)
and searches the channel counts of the 5 layers of a one-cell-per-stage network:
cell - residual reduction - cell - residual reduction - cell, 8^5 = 32,768 architectures.
Architectures print and parse as NATS-Bench writes them: ``"8:16:24:32:64"``.

The network (``build``) is NATS-Bench's ``DynamicShapeTinyNet`` written from its description;
``tests/test_plugin_space.py`` checks that the widths ``C:2C:2C:4C:4C`` give exactly NAS-Bench-201's
network with ``N=1`` (same parameter count, same outputs from the same weights).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from gradsign_nas.errors import InputError

from .base import Decision, SearchSpace

CHANNELS = (8, 16, 24, 32, 40, 48, 56, 64)
NUM_LAYERS = 5
LAYER_NAMES = tuple(f"layer_{i}" for i in range(NUM_LAYERS))
BEST_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@dataclass(frozen=True)
class NATSSizeArch:
    """The channel count of each of the 5 layers."""

    channels: tuple

    def __post_init__(self) -> None:
        if not isinstance(self.channels, tuple) or len(self.channels) != NUM_LAYERS:
            raise InputError(f"a NATS size architecture has {NUM_LAYERS} layer widths, but got {self.channels!r}")
        for c in self.channels:
            if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or int(c) not in CHANNELS:
                raise InputError(f"a layer width is one of {CHANNELS}, but got {c!r}")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))

    def __str__(self) -> str:
        return ":".join(str(c) for c in self.channels)

    def as_dict(self) -> dict[str, int]:
        return dict(zip(LAYER_NAMES, self.channels))


class NATSSizeSpace(SearchSpace[NATSSizeArch]):
    """The NATS-Bench size search space (32,768 architectures).

    Args:
        cell: the fixed cell topology as an NB201 arch string (NATS-Bench's by default).

    Example:
        >>> from gradsign_nas import search_spaces
        >>> space = search_spaces.get("nats_size")
        >>> str(space.parse("8:16:24:32:64"))
        '8:16:24:32:64'
    """

    name = "nats_size"
    arch_type = NATSSizeArch
    channels = CHANNELS

    def __init__(self, cell: str = BEST_CELL) -> None:
        from .nb201 import parse_arch_string

        self.cell = parse_arch_string(cell)
        self._decisions = tuple(Decision(n, CHANNELS) for n in LAYER_NAMES)

    @property
    def decisions(self):
        return self._decisions

    def decode(self, config: Mapping[str, Any]) -> NATSSizeArch:
        if set(config) != set(LAYER_NAMES):
            raise InputError(f"a NATS size config needs exactly the keys {LAYER_NAMES}, but got {sorted(config)}")
        values = []
        for n in LAYER_NAMES:
            v = config[n]
            try:
                values.append(int(v))  # Ray / ConfigSpace may hand back strings or numpy scalars
            except (TypeError, ValueError):
                raise InputError(f"{n} must be one of {CHANNELS}, but got {v!r}") from None
        return NATSSizeArch(tuple(values))

    def parse(self, text: str) -> NATSSizeArch:
        if not isinstance(text, str):
            raise InputError(f"expected a NATS size arch string like '8:16:24:32:64', but got {type(text).__name__}")
        parts = text.strip().split(":")
        if len(parts) != NUM_LAYERS or not all(p.strip().isdigit() for p in parts):
            raise InputError(f"expected a NATS size arch string like '8:16:24:32:64', but got {text!r}")
        return NATSSizeArch(tuple(int(p) for p in parts))

    def contains(self, arch: Any) -> bool:
        return isinstance(arch, NATSSizeArch)

    def options(self) -> dict[str, Any]:
        return {"cell": str(self.cell)}

    def build(self, arch: NATSSizeArch, num_classes: int = 10, **kwargs: Any):
        """NATS-Bench's network for ``arch``; option ``in_channels`` (default 3) for the input images."""
        self.check(arch)
        from ._nats_net import SizeNetwork

        in_channels = kwargs.pop("in_channels", 3)
        if kwargs:
            raise InputError(f"unknown build options for nats_size: {sorted(kwargs)}; expected in_channels")
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise InputError(f"num_classes must be a positive integer, but got {num_classes!r}")
        if isinstance(in_channels, bool) or not isinstance(in_channels, (int, np.integer)) or in_channels < 1:
            raise InputError(f"in_channels must be a positive integer, but got {in_channels!r}")
        return SizeNetwork(arch.channels, self.cell.ops, num_classes=int(num_classes), in_channels=int(in_channels))
