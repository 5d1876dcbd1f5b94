"""NAS-Bench-101's network for a (pruned) cell, written from the benchmark's paper and model builder.

Stem: 3x3 conv-BN-ReLU with 128 channels; 3 stacks of 3 cells; 2x2 max-pool with stride 2 and
doubled channels before stacks 2 and 3; global average pooling; a linear classifier.

Inside a cell (the NB101 rules): vertex outputs flowing to the output vertex are concatenated,
everything else is summed. The output's channels are split evenly over the vertices feeding it
(the first ``C mod k`` of them get one extra channel); every other interior vertex gets the largest
channel count among the interior vertices it feeds. Tensors from the input vertex pass a 1x1
conv-BN-ReLU projection to the receiving vertex's channels; tensors between interior vertices are
truncated to the receiver's channels (they differ by at most one). If the input feeds the output
directly, its projection is added to the concatenation.
"""

from __future__ import annotations

import torch
from torch import nn

from gradsign_nas.errors import InputError

# NB101 trains with TensorFlow's batch norm: decay 0.997 (torch momentum 0.003), epsilon 1e-5.
BN_MOMENTUM = 0.003
BN_EPS = 1e-5


class ConvBNReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=False),
        )


def make_op(name: str, c: int) -> nn.Module:
    if name == "conv3x3-bn-relu":
        return ConvBNReLU(c, c, 3)
    if name == "conv1x1-bn-relu":
        return ConvBNReLU(c, c, 1)
    if name == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise InputError(f"unknown NB101 op {name!r}")


def vertex_channels(c_in: int, c_out: int, matrix: tuple) -> list[int]:
    """Channels of every vertex of a pruned cell (NB101's splitting rule)."""
    n = len(matrix)
    ch = [0] * n
    ch[0], ch[n - 1] = c_in, c_out
    if n == 2:
        return ch
    into_output = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    base, extra = divmod(c_out, len(into_output))
    for k, v in enumerate(into_output):
        ch[v] = base + (1 if k < extra else 0)
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            for dst in range(v + 1, n - 1):
                if matrix[v][dst]:
                    ch[v] = max(ch[v], ch[dst])
    if any(c <= 0 for c in ch):
        raise InputError(f"cell {matrix!r} leaves a vertex without channels; it must be pruned first")
    return ch


class Cell(nn.Module):
    def __init__(self, matrix: tuple, ops: tuple, c_in: int, c_out: int) -> None:
        super().__init__()
        self.matrix = matrix
        self.n = n = len(matrix)
        self.channels = vertex_channels(c_in, c_out, matrix)
        self.vertex_ops = nn.ModuleList(
            [nn.Identity()] + [make_op(ops[t - 1], self.channels[t]) for t in range(1, n - 1)]
        )
        self.projections = nn.ModuleDict(
            {str(t): ConvBNReLU(c_in, self.channels[t], 1) for t in range(1, n) if matrix[0][t]}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m = self.n, self.matrix
        states = [x]
        concat = []
        for t in range(1, n - 1):
            c = self.channels[t]
            fan_in = [states[s][:, :c] for s in range(1, t) if m[s][t]]
            if m[0][t]:
                fan_in.append(self.projections[str(t)](x))
            total = fan_in[0]
            for extra in fan_in[1:]:
                total = total + extra
            states.append(self.vertex_ops[t](total))
            if m[t][n - 1]:
                concat.append(states[t])
        if not concat:
            return self.projections[str(n - 1)](x)
        out = concat[0] if len(concat) == 1 else torch.cat(concat, dim=1)
        if m[0][n - 1]:
            out = out + self.projections[str(n - 1)](x)
        return out


class NB101Network(nn.Module):
    def __init__(
        self,
        matrix: tuple,
        ops: tuple,
        stem_channels: int = 128,
        stacks: int = 3,
        cells_per_stack: int = 3,
        num_classes: int = 10,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        self.stem = ConvBNReLU(in_channels, stem_channels, 3)
        layers: list[nn.Module] = []
        c_in = c_out = stem_channels
        for stack in range(stacks):
            if stack > 0:
                layers.append(nn.MaxPool2d(2, stride=2))
                c_out *= 2
            for _ in range(cells_per_stack):
                layers.append(Cell(matrix, ops, c_in, c_out))
                c_in = c_out
        self.cells = nn.Sequential(*layers)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_out, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise InputError(f"expected images as a 4-d tensor [N, C, H, W], but got shape {tuple(x.shape)}")
        return self.classifier(self.global_pooling(self.cells(self.stem(x))).flatten(1))
