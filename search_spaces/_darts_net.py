"""The DARTS evaluation network (``NetworkCIFAR``) for a genotype, at the size NAS-Bench-301 trained.

Written from the DARTS paper (Liu et al., ICLR 2019) and NAS-Bench-301's training configuration
(32 initial channels, 8 cells, reductions at cells 8 // 3 and 2 * 8 // 3, stem multiplier 3).
Cells: ``preprocess0`` (FactorizedReduce after a reduction cell, else ReLU-Conv1x1-BN) and
``preprocess1`` (ReLU-Conv1x1-BN) bring both inputs to C channels; each of the four intermediate
nodes adds two ops applied to earlier states; the cell concatenates nodes 2-5 (4C channels).
In a reduction cell the ops that read the two cell inputs have stride 2.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from gradsign_nas.errors import InputError

from ._nb201_net import ReLUConvBN


class DilConv(nn.Sequential):
    """ReLU, depthwise dilated conv, pointwise conv, BN."""

    def __init__(self, c: int, kernel: int, stride: int, padding: int, dilation: int, affine: bool = True) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride=stride, padding=padding, dilation=dilation, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked (ReLU, depthwise conv, pointwise conv, BN); only the first may stride."""

    def __init__(self, c: int, kernel: int, stride: int, padding: int, affine: bool = True) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride=stride, padding=padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride=1, padding=padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset stride-2 1x1 convs, concatenated, then BN."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        if c_out % 2:
            raise InputError(f"FactorizedReduce needs an even number of output channels, but got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def make_op(name: str, c: int, stride: int, affine: bool = True) -> nn.Module:
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine)
    if name == "sep_conv_3x3":
        return SepConv(c, 3, stride, 1, affine)
    if name == "sep_conv_5x5":
        return SepConv(c, 5, stride, 2, affine)
    if name == "dil_conv_3x3":
        return DilConv(c, 3, stride, 2, 2, affine)
    if name == "dil_conv_5x5":
        return DilConv(c, 5, stride, 4, 2, affine)
    raise InputError(f"unknown DARTS op {name!r}")


class Cell(nn.Module):
    def __init__(
        self, pairs: tuple, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool, op_affine: bool = True
    ) -> None:
        super().__init__()
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0)
        self.indices = tuple(i for i, _ in pairs)
        self.ops = nn.ModuleList(make_op(op, c, 2 if reduction and i < 2 else 1, op_affine) for i, op in pairs)
        self.multiplier = 4

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(len(self.ops) // 2):
            a, b = 2 * node, 2 * node + 1
            states.append(self.ops[a](states[self.indices[a]]) + self.ops[b](states[self.indices[b]]))
        return torch.cat(states[2:], dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS' CIFAR auxiliary head (8x8 input); trained with weight 0.4 in NAS-Bench-301."""

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class NetworkCIFAR(nn.Module):
    """DARTS' CIFAR evaluation network. ``forward`` returns the main logits only; with
    ``auxiliary=True`` the auxiliary head exists (for parameter counts and training code, which can
    call ``auxiliary_logits`` after a forward pass in training mode). ``op_affine=False`` gives the
    batch norms inside the cell ops no scale and shift (NASLib's network for NAS-Bench-Suite-Zero's
    NB301 proxies counts parameters that way; DARTS and NAS-Bench-301 train with affine ones)."""

    def __init__(
        self,
        normal: tuple,
        reduce: tuple,
        C: int = 32,
        layers: int = 8,
        num_classes: int = 10,
        auxiliary: bool = False,
        in_channels: int = 3,
        op_affine: bool = True,
    ) -> None:
        super().__init__()
        c_curr = 3 * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        self.reductions = (layers // 3, 2 * layers // 3)
        reduction_prev = False
        c_aux = None
        for i in range(layers):
            reduction = i in self.reductions
            if reduction:
                c_curr *= 2
            cell = Cell(reduce if reduction else normal, c_pp, c_p, c_curr, reduction, reduction_prev, op_affine)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.multiplier * c_curr
            if i == 2 * layers // 3:
                c_aux = c_p
        self.aux_index = 2 * layers // 3
        # c_aux is set by the loop whenever layers >= 1 (cast: no runtime check, as before)
        self.auxiliary_head = AuxiliaryHead(cast(int, c_aux), num_classes) if auxiliary else None
        self.auxiliary_logits = None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise InputError(f"expected images as a 4-d tensor [N, C, H, W], but got shape {tuple(x.shape)}")
        s0 = s1 = self.stem(x)
        self.auxiliary_logits = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.aux_index and self.auxiliary_head is not None and self.training:
                self.auxiliary_logits = self.auxiliary_head(s1)
        return self.classifier(self.global_pooling(s1).flatten(1))
