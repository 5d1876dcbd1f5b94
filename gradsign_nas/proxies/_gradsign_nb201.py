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

The pieces live in private modules: ``_nb201_stack`` (the weights), ``_nb201_layers`` (the layers of
the pass) and ``_nb201_compiled`` (the compiled pass and ``coset_blocks``); this module holds the
entry point ``gradsign_nb201`` and re-exports the rest, so importers need only this one.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from gradsign_nas.errors import InputError
from gradsign_nas.search_spaces.nb201 import OPS as _OPS  # noqa: F401 (re-exported: tests import it from here)

from ._nb201_compiled import COSET as COSET
from ._nb201_compiled import _compiled_scores
from ._nb201_compiled import _head_block as _head_block
from ._nb201_compiled import _im2col as _im2col
from ._nb201_compiled import _pool3_shifts as _pool3_shifts
from ._nb201_compiled import _sign_scores as _sign_scores
from ._nb201_compiled import coset_blocks as coset_blocks
from ._nb201_compiled import coset_key as coset_key
from ._nb201_layers import (
    _abs_sign_sum,
    _cell,
    _head_abs_sign_sum,
    _instance_norm,
    _logits,
    _loss,
    _per_sample_signs,
    _reduction,
    _SameConv3x3,
    _stem_abs_sign_sum,
    _unfold,
)
from ._nb201_layers import _pool3 as _pool3
from ._nb201_stack import _Stack, _to, draw_weights

__all__ = ["COMPILE_BACKEND", "COSET", "coset_blocks", "draw_weights", "finish", "gradsign_nb201"]

#: torch.compile's backend for impl="compiled" (tests use "aot_eager": the same graphs, not compiled)
COMPILE_BACKEND = "inductor"


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
    compile_backend: "str | None" = None,
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
    conv on the CPU (its ``unfold`` is slow there); or ``"compiled"``: the matmul pass in blocks (stem,
    reduction, cell, head, and the sign sums) compiled by ``torch.compile`` (``compile_backend``,
    default ``COMPILE_BACKEND``) with static shapes. A compile is made for every new set of shapes, so
    it pays only where many stacks share them: ``coset_blocks`` splits the space into such stacks.
    """
    if reduction not in ("sum", "mean"):
        raise InputError(f"reduction must be one of ('sum', 'mean'), but got {reduction!r}")
    if impl not in ("auto", "conv", "matmul", "compiled"):
        raise InputError(f"impl must be 'auto', 'conv', 'matmul' or 'compiled', but got {impl!r}")
    M = len(ops_list)
    if M == 0:
        return torch.zeros(0, dtype=torch.float64)
    device = torch.device(device) if device is not None else inputs.device
    x = inputs.to(device=device, dtype=dtype)
    y = targets.to(device=device, dtype=torch.long)
    B, in_channels = x.shape[0], x.shape[1]
    st = weights if weights is not None else draw_weights(ops_list, seed, C, N, in_channels, num_classes, device)
    st.to(device, dtype)
    groups = []  # per edge: [(op, index tensor, or None where every network has it, count)]
    for e in range(6):
        groups.append(
            [
                (op, None if len(ms) == M else _to(torch.tensor(ms), device), len(ms))
                for op, ms in st.users[e].items()
                if ms and op != 0
            ]
        )

    if impl == "compiled":
        return _reduce(_compiled_scores(st, x, y, groups, compile_backend or COMPILE_BACKEND), st, reduction)
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
                h = _reduction(h, wa, wb, wd, M, conv, norm)
                red += 1
            for _ in range(N):
                h = _cell(h, st.cells[cell], groups, st.cell_width[cell], M, conv, norm)
                cell += 1
        logits, feat = _logits(h, st.fc_w, st.fc_b)
        if not logits.requires_grad:  # no network's output depends on its cells: zero gradients below
            logits.requires_grad_(True)
        loss = _loss(logits, y)
        records = [r for r in records if r[1].requires_grad]  # the others lie past an all-zero cell
        outs = [stem_out, logits] + [r[1] for r in records]
        grads = torch.autograd.grad(loss, outs, allow_unused=True)

    scores = torch.zeros(M, dtype=torch.float64, device=device)

    def add(signs: torch.Tensor, who) -> None:  # signs: [n, ...] sign sums per network
        add_per(signs.flatten(1).abs().sum(1, dtype=torch.float64), who)  # integers: exact in any order

    def add_per(per: torch.Tensor, who) -> None:  # per: [n] float64 per network
        if who is None:
            scores.add_(per)
        else:
            scores.index_add_(0, who, per)

    g_stem = grads[0]
    if g_stem is not None:  # per-sample: one group per sample, M*C output channels each
        if impl == "conv":
            add(_per_sample_signs(x, g_stem, 1, 3, 1, 1).view(M, -1), None)
        else:
            add_per(_stem_abs_sign_sum(g_stem, stem_cols, M), None)
    g_logits = grads[1]
    add_per(_head_abs_sign_sum(g_logits, feat.detach()), None)
    for (inp, _out, n, k, stride, pad, who), g in zip(records, grads[2:]):
        if g is None:  # the layer cannot reach the loss
            continue
        if impl == "conv":
            add(_per_sample_signs(inp, g, n, k, stride, pad), who)
        else:  # inp holds the columns [B, n, Cin*k*k, L]; g is [B, n, Cout, L]
            add_per(_abs_sign_sum(g, inp), who)
    return _reduce(scores, st, reduction)


def _reduce(scores: torch.Tensor, st: _Stack, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return scores / torch.tensor(st.numel, dtype=torch.float64, device=scores.device)
    return scores


def finish(scores: torch.Tensor) -> list[float]:
    """The scores as floats (waits for the device); a NaN marks a network with non-finite gradients."""
    return [v if math.isfinite(v) else float("nan") for v in scores.tolist()]
