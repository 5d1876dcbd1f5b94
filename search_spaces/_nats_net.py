"""NATS-Bench's size-search-space network (``DynamicShapeTinyNet``), written from the paper's
description and checked against the NAS-Bench-201 network it generalises (see ``nats_size.py``).

Five layers with free widths ``c0..c4``: cell(c0) - residual reduction(c1) - cell(c2) -
residual reduction(c3) - cell(c4), after a 3x3 conv stem with c0 channels + BN, and before BN-ReLU,
global average pooling and a linear classifier. Every cell has the same fixed topology; a cell whose
input width differs from its output width adapts it on the edges leaving its input node: convs map
``c_in -> c_out``, ``skip_connect`` becomes a 1x1 conv + BN, ``avg_pool_3x3`` gets a ReLU-1x1 conv-BN
first and ``none`` outputs zeros of the new width.
"""

from __future__ import annotations

import torch
from torch import nn

from gradsign_nas.errors import InputError

from ._nb201_net import InferCell, ReLUConvBN, ResNetBasicBlock, TinyNetwork, Zero


class ZeroResize(nn.Module):
    """``none`` on an edge that changes the width: zeros with ``c_out`` channels."""

    def __init__(self, c_out: int) -> None:
        super().__init__()
        self.c_out = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = list(x.shape)
        shape[1] = self.c_out
        return x.new_zeros(shape)


class Conv1x1BN(nn.Sequential):
    """``skip_connect`` between different widths (stride 1): 1x1 conv + BN, no activation."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


def make_edge(name: str, c_in: int, c_out: int) -> nn.Module:
    same = c_in == c_out
    if name == "none":
        return Zero() if same else ZeroResize(c_out)
    if name == "skip_connect":
        return nn.Identity() if same else Conv1x1BN(c_in, c_out)
    if name == "nor_conv_1x1":
        return ReLUConvBN(c_in, c_out, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c_in, c_out, 3, 1, 1)
    if name == "avg_pool_3x3":
        pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        return pool if same else nn.Sequential(ReLUConvBN(c_in, c_out, 1, 1, 0), pool)
    raise InputError(f"unknown NB201 op {name!r}")


class SizedCell(InferCell):
    """The NB201 4-node cell from ``c_in`` to ``c_out`` channels (edges from node 0 adapt the width);
    its forward pass is NB201's."""

    EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

    def __init__(self, ops: tuple, c_in: int, c_out: int) -> None:
        nn.Module.__init__(self)
        self.edges = nn.ModuleList(
            make_edge(op, c_in if frm == 0 else c_out, c_out) for op, (_, frm) in zip(ops, self.EDGES)
        )


class SizeNetwork(TinyNetwork):
    """The NATS-Bench size-space network for ``channels`` (5 widths) and a fixed cell ``ops``; its
    forward pass is NB201's."""

    def __init__(self, channels: tuple, ops: tuple, num_classes: int = 10, in_channels: int = 3) -> None:
        nn.Module.__init__(self)
        if len(channels) % 3 != 2:
            raise InputError(f"expected 3N+2 layer widths, but got {len(channels)}: {channels!r}")
        n = len(channels) // 3
        reductions = [False] * n + [True] + [False] * n + [True] + [False] * n
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 3, padding=1, bias=False), nn.BatchNorm2d(channels[0])
        )
        layers, c_prev = [], channels[0]
        for c, reduce in zip(channels, reductions):
            layers.append(ResNetBasicBlock(c_prev, c) if reduce else SizedCell(ops, c_prev, c))
            c_prev = c
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
