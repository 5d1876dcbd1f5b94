"""The layers of the stacked NB201 GradSign pass (``_gradsign_nb201``), shared by its eager and
compiled forms: M networks side by side along the channel axis, ``[B, M*C, H, W]``; BatchNorm at
initialisation as ``F.instance_norm``; cells, reduction blocks and the head of all M networks; and the
per-network sums ``sum over weights of |sum over samples of sign(per-sample weight gradient)|``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._gradsign_hooks import per_sample_conv_grad

_EPS = 1e-5  # nn.BatchNorm2d's default


def _instance_norm(t: torch.Tensor) -> torch.Tensor:
    """BatchNorm at initialisation (weight 1, bias 0) on each sample alone."""
    return F.instance_norm(t, eps=_EPS)


def _unfold(t: torch.Tensor, k: int, pad: int, stride: int) -> torch.Tensor:
    """``F.unfold(t)`` as ``[B, C*k*k, L]``, computed with the batch folded into the channels: the same
    values, in one kernel instead of one per sample (CUDA's ``im2col`` loops over the batch)."""
    B, Cn, H, W = t.shape
    return F.unfold(t.reshape(1, B * Cn, H, W), k, padding=pad, stride=stride).view(B, Cn * k * k, -1)


class _SameConv3x3(torch.autograd.Function):
    """A 3x3, stride 1, padding 1 convolution of n networks as ``unfold`` + matrix product, returning
    the columns too (the per-sample gradients need them). Its input gradient is the convolution of the
    output gradient with the flipped, transposed kernel, again as ``unfold`` + matrix product: CUDA's
    ``col2im`` (``unfold``'s own backward) was the slowest kernel of a stacked pass. (In the
    ``setup_context`` form, so torch.func and torch.compile can trace it too.)"""

    @staticmethod
    def forward(inp: torch.Tensor, w: torch.Tensor):  # type: ignore[override]
        B, _, H, W = inp.shape
        n = w.shape[0]
        cols = _unfold(inp, 3, 1, 1).view(B, n, -1, H * W)
        return torch.matmul(w.reshape(n, w.shape[1], -1), cols), cols  # [B, n, Cout, L], the columns

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        inp, w = inputs
        ctx.save_for_backward(w)
        ctx.hw = (inp.shape[2], inp.shape[3])
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    def backward(ctx, g: torch.Tensor, _unused: torch.Tensor):  # type: ignore[override]
        (w,) = ctx.saved_tensors
        H, W = ctx.hw
        B, n, cout, _ = g.shape
        gcols = _unfold(g.reshape(B, n * cout, H, W), 3, 1, 1).view(B, n, cout * 9, H * W)
        wt = w.transpose(1, 2).flip(3, 4).reshape(n, w.shape[2], cout * 9)
        return torch.matmul(wt, gcols).view(B, -1, H, W), None


def _per_sample_signs(
    inp: torch.Tensor, gout: torch.Tensor, groups: int, k: int, stride: int, pad: int
) -> torch.Tensor:
    """``sum over samples of sign(per-sample weight gradient)`` of a conv with ``groups`` groups, as
    ``[groups, Cout, Cin*k*k]`` (the per-sample gradients: ``per_sample_conv_grad``, one convolution
    backward with one group per (sample, group))."""
    B = inp.shape[0]
    cin, cout = inp.shape[1] // groups, gout.shape[1] // groups
    gw = per_sample_conv_grad(inp, gout, (groups * cout, cin, k, k), groups, (stride, stride), (pad, pad))
    return torch.sign(gw.view(B, groups, cout, -1)).sum(0)


def _pool3(t: torch.Tensor) -> torch.Tensor:
    """NB201's avg_pool_3x3: 3x3 window, stride 1, padding 1, padding not counted."""
    return F.avg_pool2d(t, 3, stride=1, padding=1, count_include_pad=False)


def _cell(h, slots, groups, c, M, conv, norm, pool=_pool3):
    """One NB201 cell of all M networks: node j = sum over i < j of op_(i->j)(node i), in edge order."""
    B, _, H, W = h.shape
    nodes = [h]
    e = 0
    for node in range(1, 4):
        total = None
        for j in range(node):
            src = nodes[j]
            for op, who, n in groups[e]:
                inp = src if who is None else src.view(B, M, c, H, W).index_select(1, who).view(B, n * c, H, W)
                if op == 1:
                    out = inp
                elif op == 4:
                    out = pool(inp)
                else:
                    k = 1 if op == 2 else 3
                    out = norm(conv(F.relu(inp), slots[(e, op)], n, k, 1, k // 2, who))
                if total is None:
                    total = h.new_zeros(B, M, c, H, W)
                if who is None:
                    total = total + out.view(B, M, c, H, W)
                else:
                    total = total.index_add(1, who, out.view(B, n, c, H, W))
            e += 1
        nodes.append(total.view(B, M * c, H, W) if total is not None else h.new_zeros(B, M * c, H, W))
    return nodes[-1]


def _reduction(h, wa, wb, wd, M, conv, norm):
    """An NB201 reduction block (ResNet basic block, stride 2) of all M networks."""
    a = norm(conv(F.relu(h), wa, M, 3, 2, 1, None))
    b = norm(conv(F.relu(a), wb, M, 3, 1, 1, None))
    return conv(F.avg_pool2d(h, 2, 2), wd, M, 1, 1, 0, None) + b


def _logits(h, fc_w, fc_b):
    """The head of all M networks: BN, ReLU, global average pool, linear; ``([M, B, K], [M, B, c])``."""
    B, M = h.shape[0], fc_w.shape[0]
    h = F.relu(_instance_norm(h))
    feat = F.adaptive_avg_pool2d(h, 1).flatten(1).view(B, M, -1).transpose(0, 1)  # [M, B, c]
    return torch.baddbmm(fc_b.unsqueeze(1), feat, fc_w.transpose(1, 2)), feat


def _loss(logits, y):
    M, B = logits.shape[:2]
    return F.cross_entropy(logits.reshape(M * B, -1), y.repeat(M), reduction="sum")


def _stem_abs_sign_sum(g_stem: torch.Tensor, stem_cols: torch.Tensor, M: int) -> torch.Tensor:
    """``_abs_sign_sum`` of the stem, whose columns ``[B, in*9, L]`` all M networks share (its output
    gradient: ``[B, M*C, L]``)."""
    signs = torch.sign(torch.matmul(g_stem, stem_cols.transpose(1, 2))).sum(0).view(M, -1)
    return signs.abs().sum(1, dtype=torch.float64)


def _head_abs_sign_sum(g_logits: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
    """``_abs_sign_sum`` of the linear layer from the logits' gradient ``[M, B, K]`` and its input
    ``[M, B, c]`` (per-sample gradients: outer products)."""
    signs = torch.sign(g_logits.unsqueeze(-1) * feat.unsqueeze(-2)).sum(1)  # [M, K, c]
    return signs.flatten(1).abs().sum(1, dtype=torch.float64)


def _abs_sign_sum(g: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Per network, ``sum over weights of |sum over samples of sign(per-sample weight gradient)|`` of a
    conv from its output gradient ``[B, n, Cout, L]`` and input columns ``[B, n, Cin*k*k, L]``."""
    signs = torch.sign(torch.matmul(g, cols.transpose(-1, -2))).sum(0)
    return signs.flatten(1).abs().sum(1, dtype=torch.float64)  # integers: exact in any order
