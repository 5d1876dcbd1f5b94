"""The compiled form of the stacked NB201 GradSign pass (``gradsign_nb201(impl="compiled")``): the
matmul pass in blocks (stem, reduction, cell, head, and the sign sums) compiled by ``torch.compile``
with static shapes, and ``coset_blocks``, which splits the space into stacks that share those shapes.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from gradsign_nas.search_spaces.nb201 import OPS as _OPS

from ._nb201_layers import (
    _abs_sign_sum,
    _cell,
    _head_abs_sign_sum,
    _instance_norm,
    _logits,
    _loss,
    _reduction,
    _stem_abs_sign_sum,
)
from ._nb201_stack import _Stack

__all__ = ["COSET", "coset_blocks", "coset_key"]

#: networks per block of ``coset_blocks``
COSET = 125

# a basis of a 3-dimensional subspace of Z_5^6 whose every coordinate takes every value equally often
_BASIS = ((1, 0, 0, 1, 1, 1), (0, 1, 0, 2, 3, 4), (0, 0, 1, 3, 1, 2))


def coset_key(ops: Sequence[str]) -> int:
    """Which block of ``coset_blocks`` an architecture (its six edge ops) falls in, 0..124."""
    v = [_OPS.index(o) for o in ops]
    rest = [(v[j] - sum(v[i] * _BASIS[i][j] for i in range(3))) % 5 for j in range(3, 6)]
    return rest[0] * 25 + rest[1] * 5 + rest[2]


def coset_blocks(archs: Sequence, ops=lambda a: a.ops) -> tuple[list[list], list]:
    """Split architectures into whole blocks of ``COSET`` and the rest.

    The 15,625 NB201 architectures (six edges, five ops each: Z_5^6) fall into 125 cosets of the
    subspace spanned by ``_BASIS``; in each, every op is on every edge of exactly 25 networks. So every
    stacked pass of a whole coset has the same tensor shapes (only weights and index tensors differ),
    and one static compile serves the whole space. Returns the whole cosets present (each in the order
    the architectures came) and the other architectures, in order."""
    by: dict[int, list] = {}
    for a in archs:
        by.setdefault(coset_key(ops(a)), []).append(a)
    whole = [b for b in by.values() if len(b) == COSET and len({tuple(ops(a)) for a in b}) == COSET]
    taken = {id(a) for b in whole for a in b}
    return whole, [a for a in archs if id(a) not in taken]


def _im2col(t: torch.Tensor, k: int, pad: int, stride: int) -> torch.Tensor:
    """``F.unfold``'s values (``[B, C*k*k, L]``) from padded, shifted slices: plain copies, which the
    compiler fuses with what comes before, and whose backward is a sum of shifted reads (no col2im)."""
    B, Cn, H, W = t.shape
    if k == 1 and pad == 0 and stride == 1:
        return t.reshape(B, Cn, H * W)
    Ho, Wo = (H + 2 * pad - k) // stride + 1, (W + 2 * pad - k) // stride + 1
    tp = F.pad(t, (pad, pad, pad, pad))
    shifts = [
        tp[:, :, i : i + stride * (Ho - 1) + 1 : stride, j : j + stride * (Wo - 1) + 1 : stride]
        for i in range(k)
        for j in range(k)
    ]
    return torch.stack(shifts, 2).reshape(B, Cn * k * k, Ho * Wo)


def _pool3_shifts(t: torch.Tensor) -> torch.Tensor:
    """``_pool3``'s values from shifted slices of the zero-padded input, added in the window's
    row-major order (the padding adds exact zeros) and divided by each position's count, as ATen's
    kernel does: plain reads, which the compiler fuses with what comes before and after (its
    ``avg_pool2d_backward`` lowering took ~10% of a compiled pass on an H200)."""
    B, Cn, H, W = t.shape
    tp = F.pad(t, (1, 1, 1, 1))
    total = tp[:, :, 0:H, 0:W]
    for i, j in [(i, j) for i in range(3) for j in range(3)][1:]:
        total = total + tp[:, :, i : i + H, j : j + W]

    def side(n: int) -> torch.Tensor:  # positions covered per row (column): 2 at an edge, else 3
        r = torch.arange(n, device=t.device)
        return 3 - (r == 0).to(t.dtype) - (r == n - 1).to(t.dtype)

    return total / (side(H)[:, None] * side(W)[None, :])


def _tap_conv(taps, cols_out: list):
    """A ``conv`` for ``_cell``/``_reduction`` inside a compiled block: its output plus the next "tap"
    (a zero leaf the caller made, so ``d loss / d tap`` is the output gradient, which autograd outside
    the compiled graph cannot reach otherwise), its columns appended to ``cols_out``."""
    it = iter(taps)

    def conv(inp, w, n, k, stride, pad, who):
        B, _, H, W = inp.shape
        Ho, Wo = (H + 2 * pad - k) // stride + 1, (W + 2 * pad - k) // stride + 1
        cols = _im2col(inp, k, pad, stride).view(B, n, -1, Ho * Wo)
        out = torch.matmul(w.reshape(n, w.shape[1], -1), cols) + next(it)
        cols_out.append(cols.detach())
        return out.view(B, -1, Ho, Wo)

    return conv


def _stem_block(x, w, tap):
    B, cin, H, W = x.shape
    cols = _im2col(x, 3, 1, 1)  # the stem's input is shared by all networks: one matrix product
    out = torch.matmul(w.reshape(-1, cin * 9), cols) + tap  # [B, M*C, L]
    return _instance_norm(out.view(B, -1, H, W)), cols


def _reduction_block(h, wa, wb, wd, taps):
    cols: list = []
    return _reduction(h, wa, wb, wd, wa.shape[0], _tap_conv(taps, cols), _instance_norm), cols


def _cell_block(h, slots, groups, c, M, taps):
    cols: list = []
    return _cell(h, slots, groups, c, M, _tap_conv(taps, cols), _instance_norm, _pool3_shifts), cols


def _head_block(h, fc_w, fc_b, y, tap):
    logits, feat = _logits(h, fc_w, fc_b)
    return _loss(logits + tap, y), feat.detach()


def _sign_scores(M, g_stem, stem_cols, g_logits, feat, gs, cols, whos):
    """The GradSign score per network from every output gradient and every conv's columns."""
    scores = _stem_abs_sign_sum(g_stem, stem_cols, M) + _head_abs_sign_sum(g_logits, feat)
    for g, c, who in zip(gs, cols, whos):
        per = _abs_sign_sum(g, c)
        scores = scores + per if who is None else scores.index_add(0, who, per)
    return scores


_COMPILED: dict[str, tuple] = {}


def _compiled(backend: str) -> tuple:
    """The compiled blocks (made once per process and backend; each compiles on first use per shape)."""
    if backend not in _COMPILED:
        import torch._dynamo

        cfg = torch._dynamo.config  # a block compiles per stage, batch, dtype and class count
        cfg.recompile_limit = max(cfg.recompile_limit, 64)
        cfg.accumulated_recompile_limit = max(cfg.accumulated_recompile_limit, 512)
        _COMPILED[backend] = tuple(
            torch.compile(f, backend=backend, dynamic=False)
            for f in (_stem_block, _reduction_block, _cell_block, _head_block, _sign_scores)
        )
    return _COMPILED[backend]


def _compiled_scores(st: _Stack, x: torch.Tensor, y: torch.Tensor, groups: list, backend: str) -> torch.Tensor:
    stem_f, red_f, cell_f, head_f, signs_f = _compiled(backend)
    M, C = st.M, st.C
    B, _, H, W = x.shape
    zero = torch.zeros((), device=x.device, dtype=x.dtype)

    def taps(*shapes):
        return [zero.expand(s).requires_grad_(True) for s in shapes]

    convs = [(n, who) for e in range(6) for op, who, n in groups[e] if op in (2, 3)]  # a cell's, in order
    whos: list = []
    all_taps: list = []
    cols: list = []
    with torch.enable_grad():
        (t_stem,) = taps((B, M * C, H * W))
        h, stem_cols = stem_f(x, st.stem, t_stem)
        cell, c = 0, C
        for stage in range(3):
            if stage > 0:
                c, H, W = 2 * c, (H - 1) // 2 + 1, (W - 1) // 2 + 1
                t = taps(*[(B, M, c, H * W)] * 3)
                h, cc = red_f(h, *st.reductions[stage - 1], t)
                all_taps += t
                cols += cc
                whos += [None] * 3
            for _ in range(st.N):
                t = taps(*[(B, n, c, H * W) for n, _who in convs])
                h, cc = cell_f(h, st.cells[cell], groups, c, M, t)
                all_taps += t
                cols += cc
                whos += [who for _n, who in convs]
                cell += 1
        (t_head,) = taps((M, B, st.K))
        loss, feat = head_f(h, st.fc_w, st.fc_b, y, t_head)
        leaves = [t_stem, t_head, *all_taps]
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    gs = [torch.zeros_like(t) if g is None else g for g, t in zip(grads, leaves)]  # unreached: zero
    return signs_f(M, gs[0], stem_cols, gs[1], feat, gs[2:], cols, whos)
