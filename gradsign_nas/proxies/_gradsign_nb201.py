"""GradSign of many NB201 networks at once, in one batched pass ("stacked"; ours).

One NB201 network at batch 64 is far too small to keep a GPU busy: scoring it one kernel launch at a
time is launch-bound (the GPU idles between launches). Here M networks share every launch:
activations of all M networks are packed side by side along the channel axis, ``[B, M*C, H, W]``,
and every layer of every network runs as one grouped convolution (``groups = number of networks``).
The networks differ only in the op on each cell edge, so, per edge, the networks with the same op are
gathered (``index_select``), run together and added back into their node (``index_add``): no work is
done for an op a network does not have.

It is the same computation as ``gradsign_hooks`` on each network alone:
- each network's weights are drawn exactly as ``torch.manual_seed(seed)`` followed by
  ``space.build(arch)`` draws them (the same generator stream, in the builder's construction order,
  with PyTorch's default initialisers; ``tests/test_scoring_engine.py`` compares them tensor by
  tensor), without building the ~100 ``nn.Module`` objects of a network (15 ms per network on the
  CPU, more than the scoring itself on a GPU);
- BatchNorm at initialisation (weight 1, bias 0) with each sample alone is ``F.instance_norm``;
- per-sample weight gradients come from each layer's input and output gradient (``unfold`` and a
  batched matrix product), their signs are summed over the batch, and
  ``sum over weights of |sign sum|`` is formed per network.

In float64 the scores equal the per-sample loop's (``gradsign_reference``) exactly; in float32 they
agree to the loop's own float32 noise (see the README's exactness table).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gradsign_nas.errors import InputError

__all__ = ["draw_weights", "finish", "gradsign_nb201"]

_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
_EPS = 1e-5  # nn.BatchNorm2d's default


def _kaiming(w: torch.Tensor, g: torch.Generator) -> None:
    nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=g)  # Conv2d / Linear reset_parameters


class _Stack:
    """Weight tensors of M networks: one ``[M, ...]`` tensor per layer every network has, and per
    cell edge and conv op one ``[users, ...]`` tensor for the networks with that op there."""

    def __init__(self, ops_list: Sequence[tuple], C: int, N: int, in_channels: int, num_classes: int) -> None:
        M = len(ops_list)
        self.M, self.C, self.N, self.K = M, C, N, num_classes
        self.ops = [tuple(_OPS.index(o) for o in ops) for ops in ops_list]
        # per edge and op: the networks that have it, in network order (rows of the slot tensors)
        self.users = [{op: [m for m, o in enumerate(self.ops) if o[e] == op] for op in range(5)} for e in range(6)]
        self.stem = torch.empty(M, C, in_channels, 3, 3)
        self.cells: list[dict[tuple[int, int], torch.Tensor]] = []  # per cell: {(edge, op): [users, c, c, k, k]}
        self.reductions: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.cell_width: list[int] = []
        c_prev = C
        for stage, c in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                self.reductions.append(
                    (torch.empty(M, c, c_prev, 3, 3), torch.empty(M, c, c, 3, 3), torch.empty(M, c, c_prev, 1, 1))
                )
            for _ in range(N):
                self.cells.append(
                    {
                        (e, op): torch.empty(len(self.users[e][op]), c, c, k, k)
                        for e in range(6)
                        for op, k in ((2, 1), (3, 3))
                        if self.users[e][op]
                    }
                )
                self.cell_width.append(c)
            c_prev = c
        self.fc_w = torch.empty(M, num_classes, c_prev)
        self.fc_b = torch.empty(M, num_classes)
        fixed = self.stem[0].numel() + sum(w[0].numel() for r in self.reductions for w in r) + self.fc_w[0].numel()
        self.numel = [  # weight elements GradSign sums over, per network (for reduction="mean")
            fixed + sum(c * c * (1 if o == 2 else 9) for c in self.cell_width for o in ops if o in (2, 3))
            for ops in self.ops
        ]

    def fill(self, m: int, seed: int) -> None:
        """Network ``m``'s weights, in the order ``TinyNetwork.__init__`` creates its layers."""
        g = torch.Generator().manual_seed(int(seed))
        ops = self.ops[m]
        rows = [self.users[e][op].index(m) if op in (2, 3) else -1 for e, op in enumerate(ops)]
        _kaiming(self.stem[m], g)
        cell = 0
        for stage in range(3):
            if stage > 0:
                for w in self.reductions[stage - 1]:  # conv_a, conv_b, downsample conv
                    _kaiming(w[m], g)
            for _ in range(self.N):
                slots = self.cells[cell]
                for e, op in enumerate(ops):
                    if op in (2, 3):
                        _kaiming(slots[(e, op)][rows[e]], g)
                cell += 1
        _kaiming(self.fc_w[m], g)
        bound = 1.0 / math.sqrt(self.fc_w.shape[2])
        nn.init.uniform_(self.fc_b[m], -bound, bound, generator=g)

    def to(self, device, dtype) -> "_Stack":
        conv = lambda t: t.to(device=device, dtype=dtype)  # noqa: E731
        self.stem = conv(self.stem)
        self.cells = [{k: conv(v) for k, v in slots.items()} for slots in self.cells]
        self.reductions = [tuple(conv(w) for w in r) for r in self.reductions]  # type: ignore[misc]
        self.fc_w, self.fc_b = conv(self.fc_w), conv(self.fc_b)
        return self


def draw_weights(
    ops_list: Sequence[tuple],
    seed: "int | Sequence[int]",
    C: int = 16,
    N: int = 5,
    in_channels: int = 3,
    num_classes: int = 10,
):
    """The initial weights of NB201 networks with these edge ops (``_Stack``), each network's drawn
    as ``torch.manual_seed(seed); NB201Space(C, N, in_channels).build(arch, num_classes)`` draws them;
    ``seed`` is one seed for all or one per network."""
    stack = _Stack(ops_list, C, N, in_channels, num_classes)
    seeds = [seed] * stack.M if isinstance(seed, int) else list(seed)
    if len(seeds) != stack.M:
        raise InputError(f"expected one seed or {stack.M} seeds, one per network, but got {len(seeds)}")
    for m in range(stack.M):
        stack.fill(m, seeds[m])
    return stack


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
    ``col2im`` (``unfold``'s own backward) was the slowest kernel of a stacked pass."""

    @staticmethod
    def forward(ctx, inp: torch.Tensor, w: torch.Tensor):  # type: ignore[override]
        B, _, H, W = inp.shape
        n = w.shape[0]
        cols = _unfold(inp, 3, 1, 1).view(B, n, -1, H * W)
        out = torch.matmul(w.reshape(n, w.shape[1], -1), cols)  # [B, n, Cout, L]
        ctx.save_for_backward(w)
        ctx.hw = (H, W)
        ctx.mark_non_differentiable(cols)
        return out, cols

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
    from ._gradsign_hooks import per_sample_conv_grad

    B = inp.shape[0]
    cin, cout = inp.shape[1] // groups, gout.shape[1] // groups
    gw = per_sample_conv_grad(inp, gout, (groups * cout, cin, k, k), groups, (stride, stride), (pad, pad))
    return torch.sign(gw.view(B, groups, cout, -1)).sum(0)


def gradsign_nb201(
    ops_list: Sequence[tuple],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    seed: int = 0,
    C: int = 16,
    N: int = 5,
    num_classes: int = 10,
    reduction: str = "sum",
    device=None,
    dtype: torch.dtype = torch.float32,
    weights: "_Stack | None" = None,
    impl: str = "auto",
) -> torch.Tensor:
    """GradSign scores of NB201 networks (edge ops per network), each freshly initialised as
    ``torch.manual_seed(seed); space.build(arch, num_classes)`` does, on one batch.

    Equal to ``gradsign(model, inputs, targets, reduction)`` of each network built so (exactly in
    float64). ``weights`` passes weights drawn beforehand by ``draw_weights``; they are moved to
    ``device`` and ``dtype``. Returns the ``[M]`` float64 scores on the device without waiting for
    it (``finish`` reads them), so the next networks' weights can be drawn meanwhile.

    ``impl`` is how the convolutions run: ``"conv"`` (grouped convolutions; per-sample weight
    gradients from a convolution backward with one group per sample and network), ``"matmul"``
    (``unfold`` and batched matrix products, whose columns also give the per-sample gradients), or
    ``"auto"``: matmul on CUDA (cuDNN's grouped convolutions with many small groups are slow there),
    conv on the CPU (its ``unfold`` is slow there).
    """
    if reduction not in ("sum", "mean"):
        raise InputError(f"reduction must be one of ('sum', 'mean'), but got {reduction!r}")
    if impl not in ("auto", "conv", "matmul"):
        raise InputError(f"impl must be 'auto', 'conv' or 'matmul', but got {impl!r}")
    M = len(ops_list)
    if M == 0:
        return torch.zeros(0, dtype=torch.float64)
    device = torch.device(device) if device is not None else inputs.device
    x = inputs.to(device=device, dtype=dtype)
    y = targets.to(device=device, dtype=torch.long)
    B, in_channels = x.shape[0], x.shape[1]
    st = weights if weights is not None else draw_weights(ops_list, seed, C, N, in_channels, num_classes)
    st.to(device, dtype)
    groups = []  # per edge: [(op, index tensor, or None where every network has it, count)]
    for e in range(6):
        groups.append(
            [
                (op, None if len(ms) == M else torch.tensor(ms, device=device), len(ms))
                for op, ms in st.users[e].items()
                if ms and op != 0
            ]
        )

    if impl == "auto":
        impl = "matmul" if device.type == "cuda" else "conv"
    records: list[tuple] = []  # (conv input or its columns, conv output, groups, k, stride, pad, networks)

    def conv(inp, w, n, k, stride, pad, who):
        if impl == "conv":
            out = F.conv2d(inp, w.reshape(-1, *w.shape[2:]), stride=stride, padding=pad, groups=n)
            records.append((inp.detach(), out, n, k, stride, pad, who))
            return out
        B, _, H, W = inp.shape
        Ho, Wo = (H + 2 * pad - k) // stride + 1, (W + 2 * pad - k) // stride + 1
        if k == 1 and stride == 1:
            cols = inp.reshape(B, n, -1, H * W)
            out = torch.matmul(w.reshape(n, w.shape[1], -1), cols)  # [B, n, Cout, L]
        elif k == 3 and stride == 1 and pad == 1:
            out, cols = _SameConv3x3.apply(inp, w)
        else:
            cols = _unfold(inp, k, pad, stride).view(B, n, -1, Ho * Wo)
            out = torch.matmul(w.reshape(n, w.shape[1], -1), cols)
        records.append((cols.detach(), out, n, k, stride, pad, who))
        return out.view(B, -1, Ho, Wo)

    norm = _instance_norm

    with torch.enable_grad():
        if impl == "conv":
            stem_out = F.conv2d(x, st.stem.reshape(-1, in_channels, 3, 3), padding=1).requires_grad_(True)
            h = stem_out
        else:  # the stem's input is shared by all networks: one matrix product for all of them
            stem_cols = _unfold(x, 3, 1, 1)  # [B, in*9, L]
            stem_out = torch.matmul(st.stem.reshape(M * C, -1), stem_cols).requires_grad_(True)
            h = stem_out.view(B, M * C, *x.shape[2:])
        h = norm(h)
        cell, red = 0, 0
        for stage in range(3):
            if stage > 0:
                wa, wb, wd = st.reductions[red]
                red += 1
                a = norm(conv(F.relu(h), wa, M, 3, 2, 1, None))
                b = norm(conv(F.relu(a), wb, M, 3, 1, 1, None))
                d = conv(F.avg_pool2d(h, 2, 2), wd, M, 1, 1, 0, None)
                h = d + b
            for _ in range(N):
                h = _cell(h, st.cells[cell], groups, st.cell_width[cell], M, conv, norm)
                cell += 1
        h = F.relu(norm(h))
        feat = F.adaptive_avg_pool2d(h, 1).flatten(1).view(B, M, -1).transpose(0, 1)  # [M, B, c]
        logits = torch.baddbmm(st.fc_b.unsqueeze(1), feat, st.fc_w.transpose(1, 2))  # [M, B, K]
        if not logits.requires_grad:  # no network's output depends on its cells: zero gradients below
            logits.requires_grad_(True)
        loss = F.cross_entropy(logits.reshape(M * B, -1), y.repeat(M), reduction="sum")
        records = [r for r in records if r[1].requires_grad]  # the others lie past an all-zero cell
        outs = [stem_out, logits] + [r[1] for r in records]
        grads = torch.autograd.grad(loss, outs, allow_unused=True)

    scores = torch.zeros(M, dtype=torch.float64, device=device)

    def add(signs: torch.Tensor, who) -> None:  # signs: [n, ...] sign sums per network
        per = signs.flatten(1).abs().sum(1, dtype=torch.float64)  # integers: exact in any order
        if who is None:
            scores.add_(per)
        else:
            scores.index_add_(0, who, per)

    g_stem = grads[0]
    if g_stem is not None:  # per-sample: one group per sample, M*C output channels each
        if impl == "conv":
            add(_per_sample_signs(x, g_stem, 1, 3, 1, 1).view(M, -1), None)
        else:
            add(torch.sign(torch.matmul(g_stem, stem_cols.transpose(1, 2))).sum(0).view(M, -1), None)
    g_logits = grads[1]
    fc = torch.sign(g_logits.unsqueeze(-1) * feat.detach().unsqueeze(-2)).sum(1)  # [M, K, c]
    add(fc, None)
    for (inp, _out, n, k, stride, pad, who), g in zip(records, grads[2:]):
        if g is None:  # the layer cannot reach the loss
            continue
        if impl == "conv":
            add(_per_sample_signs(inp, g, n, k, stride, pad), who)
        else:  # inp holds the columns [B, n, Cin*k*k, L]; g is [B, n, Cout, L]
            add(torch.sign(torch.matmul(g, inp.transpose(-1, -2))).sum(0), who)
    if reduction == "mean":
        scores = scores / torch.tensor(st.numel, dtype=torch.float64, device=device)
    return scores


def finish(scores: torch.Tensor) -> list[float]:
    """The scores as floats (waits for the device); a NaN marks a network with non-finite gradients."""
    return [v if math.isfinite(v) else float("nan") for v in scores.tolist()]


def _cell(h, slots, groups, c, M, conv, norm):
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
                    out = F.avg_pool2d(inp, 3, stride=1, padding=1, count_include_pad=False)
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
