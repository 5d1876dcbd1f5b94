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

__all__ = ["COMPILE_BACKEND", "COSET", "coset_blocks", "draw_weights", "finish", "gradsign_nb201"]

_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
_EPS = 1e-5  # nn.BatchNorm2d's default


def _kaiming_bound(fan_in: int) -> float:
    """``nn.init.kaiming_uniform_(w, a=sqrt(5))``'s bound (Conv2d's and Linear's reset_parameters),
    computed in its order of operations."""
    std = nn.init.calculate_gain("leaky_relu", math.sqrt(5)) / math.sqrt(fan_in)
    return math.sqrt(3.0) * std


#: per (seed, device): the first values of ``torch.Generator().manual_seed(seed)``'s uniform stream
_STREAMS: dict = {}


def _uniform_stream(seed: int, n: int, device: "torch.device | None" = None) -> torch.Tensor:
    """The first ``n`` (at least) values ``uniform_(0, 1)`` draws from a generator seeded ``seed``,
    on ``device`` (default: the CPU); kept, as networks of one seed share them."""
    key = (int(seed), str(device or "cpu"))
    if key not in _STREAMS or _STREAMS[key].numel() < n:
        if len(_STREAMS) > 8:
            _STREAMS.clear()
        if device is None or device.type == "cpu":
            _STREAMS[key] = _draw_stream(seed, n)
        else:
            _STREAMS[key] = _to(_uniform_stream(seed, n), device)
    return _STREAMS[key]


def _draw_stream(seed: int, n: int) -> torch.Tensor:
    """The first ``n`` values ``uniform_(0, 1)`` draws from a generator seeded ``seed`` (not kept)."""
    return torch.empty(n).uniform_(0, 1, generator=torch.Generator().manual_seed(int(seed)))


class _Stack:
    """Weight tensors of M networks: one ``[M, ...]`` tensor per layer every network has, and per
    cell edge and conv op one ``[users, ...]`` tensor for the networks with that op there; all views
    of one flat buffer.

    The weights are drawn as ``torch.manual_seed(seed); space.build(arch)`` draws them, without
    building the networks. The builder fills its layers in construction order, each with
    ``uniform_(-bound, bound)``, which takes one value of the generator's stream per element, in
    order: so a network's layer is a slice of the seed's stream ``u`` of ``uniform_(0, 1)`` values,
    mapped as ``uniform_`` maps them, ``float(u * (bound - (-bound)) + (-bound))`` computed in
    float64 (``tests/test_scoring_engine.py`` checks the result against the builds tensor by tensor).
    The stream is drawn once per seed (networks of one seed share it), and the slices are gathered
    and mapped on the device the weights go to (``to``), in a few kernels for all M networks.
    """

    def __init__(self, ops_list: Sequence[tuple], C: int, N: int, in_channels: int, num_classes: int) -> None:
        M = len(ops_list)
        self.M, self.C, self.N, self.K = M, C, N, num_classes
        self.ops = [tuple(_OPS.index(o) for o in ops) for ops in ops_list]
        # per edge and op: the networks that have it, in network order (rows of the slot tensors)
        self.users = [{op: [m for m, o in enumerate(self.ops) if o[e] == op] for op in range(5)} for e in range(6)]
        # the layout: (key, per-network shape, networks of the rows), in the flat buffer's order
        layout: list[tuple[tuple, tuple, list[int]]] = [(("stem",), (C, in_channels, 3, 3), list(range(M)))]
        self.cell_width: list[int] = []
        c_prev, cell = C, 0
        for stage, c in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                shapes = ((c, c_prev, 3, 3), (c, c, 3, 3), (c, c_prev, 1, 1))  # conv_a, conv_b, downsample
                layout += [(("red", stage - 1, j), shape, list(range(M))) for j, shape in enumerate(shapes)]
            for _ in range(N):
                for e in range(6):
                    for op, k in ((2, 1), (3, 3)):
                        if self.users[e][op]:
                            layout.append((("cell", cell, e, op), (c, c, k, k), self.users[e][op]))
                self.cell_width.append(c)
                cell += 1
            c_prev = c
        layout += [(("fc_w",), (num_classes, c_prev), list(range(M))), (("fc_b",), (num_classes,), list(range(M)))]
        self._layout = layout
        per = {key: math.prod(shape) for key, shape, _ in layout}
        # each network's layers in the order the builder draws them (stem, per stage the reduction
        # then the cells' conv edges in edge order, the classifier's weight and bias), as stream offsets
        self._offsets: list[dict[tuple, int]] = []
        for ops in self.ops:
            order: list[tuple] = [("stem",)]
            cell = 0
            for stage in range(3):
                if stage > 0:
                    order += [("red", stage - 1, j) for j in range(3)]
                for _ in range(N):
                    order += [("cell", cell, e, op) for e, op in enumerate(ops) if op in (2, 3)]
                    cell += 1
            order += [("fc_w",), ("fc_b",)]
            offsets, at = {}, 0
            for key in order:
                offsets[key], at = at, at + per[key]
            self._offsets.append(offsets)
        self.length = [sum(per[k] for k in o) for o in self._offsets]  # stream values per network
        self.numel = [n - num_classes for n in self.length]  # weights GradSign sums over (no bias)
        self.flat: "torch.Tensor | None" = None
        self._stream: "torch.Tensor | None" = None
        self._seed: "int | None" = None
        self._base: list[int] = []

    def draw(self, seeds: Sequence[int]) -> None:
        """The streams of ``seeds`` (one per network); networks of one seed share theirs."""
        distinct = sorted(set(seeds))
        need = {s: max(n for n, t in zip(self.length, seeds) if t == s) for s in distinct}
        self._seed = distinct[0] if len(distinct) == 1 else None
        if self._seed is not None:
            self._stream, start = _uniform_stream(self._seed, need[self._seed]), {self._seed: 0}
        else:  # one stream per seed, end to end
            parts, start, at = [], {}, 0
            for s in distinct:
                parts.append(_draw_stream(s, need[s]))
                start[s], at = at, at + need[s]
            self._stream = torch.cat(parts)
        self._base = [start[s] for s in seeds]

    def _plan(self) -> tuple[list[int], list[int], list[float]]:
        """Per row of every layer tensor, in the flat buffer's order: its length, where its values
        start in the stream minus where they start in the buffer, and its bound."""
        lens, shift, bounds = [], [], []
        at = 0
        for key, shape, rows in self._layout:
            n = math.prod(shape)
            if key == ("fc_b",):  # Linear's bias: 1 / sqrt(fan_in), fan_in its weight's input width
                bound = 1.0 / math.sqrt(self._layout[-2][1][1])
            else:  # fan_in: input channels times the kernel's size
                bound = _kaiming_bound(shape[1] * math.prod(shape[2:]))
            for m in rows:
                lens.append(n)
                shift.append(self._base[m] + self._offsets[m][key] - at)
                bounds.append(bound)
                at += n
        return lens, shift, bounds

    def _view(self, flat: torch.Tensor) -> None:
        self.flat = flat
        parts: dict[tuple, torch.Tensor] = {}
        at = 0
        for key, shape, rows in self._layout:
            n = len(rows) * math.prod(shape)
            parts[key] = flat[at : at + n].view(len(rows), *shape)
            at += n
        self.stem = parts[("stem",)]
        self.reductions = [tuple(parts[("red", r, j)] for j in range(3)) for r in range(2)]
        self.cells = [
            {(k[2], k[3]): t for k, t in parts.items() if k[0] == "cell" and k[1] == cell} for cell in range(3 * self.N)
        ]
        self.fc_w, self.fc_b = parts[("fc_w",)], parts[("fc_b",)]

    def to(self, device, dtype) -> "_Stack":
        """The weights on ``device`` in ``dtype``: drawn there from the streams (a copy of the
        stream and of the plan, then a gather and the map), or, once drawn, moved."""
        device = torch.device(device)
        if self.flat is not None:
            if self.flat.device != device or self.flat.dtype != dtype:
                self._view(_to(self.flat, device).to(dtype))
            return self
        assert self._stream is not None, "draw() first"
        self._view(self._make(device, gather=device.type != "cpu").to(dtype))
        return self

    def _make(self, device: torch.device, gather: bool) -> torch.Tensor:
        """The flat float32 buffer on ``device``: with ``gather``, a few kernels over all elements
        (for a GPU), else one slice per layer and network (fewer operations on a CPU)."""
        assert self._stream is not None
        lens, shift, bounds = self._plan()
        low = torch.tensor([-b for b in bounds], dtype=torch.float32).double()  # uniform_(from, to)
        span = (torch.tensor(bounds, dtype=torch.float32).double() - low).float().double()  # (to - from)
        if not gather:
            flat, at = torch.empty(sum(lens)), 0
            for n, d, lo, sp in zip(lens, shift, low.tolist(), span.tolist()):
                flat[at : at + n] = self._stream[at + d : at + d + n].double() * sp + lo
                at += n
            return flat
        plan = torch.stack(
            [torch.tensor(lens, dtype=torch.float64), torch.tensor(shift, dtype=torch.float64), low, span]
        )
        plan = _to(plan, device)  # integers below 2**53: exact in float64
        length = self._stream.numel()
        stream = _uniform_stream(self._seed, length, device) if self._seed is not None else _to(self._stream, device)
        seg = torch.repeat_interleave(torch.arange(len(lens), device=device), plan[0].long(), output_size=sum(lens))
        idx = torch.arange(seg.numel(), device=device) + plan[1].long()[seg]
        return (stream[idx].double() * plan[3][seg] + plan[2][seg]).float()  # as uniform_ maps its draws


def draw_weights(
    ops_list: Sequence[tuple],
    seed: "int | Sequence[int]",
    C: int = 16,
    N: int = 5,
    in_channels: int = 3,
    num_classes: int = 10,
    device=None,
):
    """The initial weights of NB201 networks with these edge ops (``_Stack``), each network's drawn
    as ``torch.manual_seed(seed); NB201Space(C, N, in_channels).build(arch, num_classes)`` draws them;
    ``seed`` is one seed for all or one per network. With ``device=None`` they are made here, on
    the CPU; with a ``device``, only the generators' streams are drawn here, and the weights are made
    on that device by ``to`` (which ``gradsign_nb201`` calls)."""
    stack = _Stack(ops_list, C, N, in_channels, num_classes)
    seeds = [seed] * stack.M if isinstance(seed, int) else [int(s) for s in seed]
    if len(seeds) != stack.M:
        raise InputError(f"expected one seed or {stack.M} seeds, one per network, but got {len(seeds)}")
    stack.draw(seeds)
    if device is None:
        stack.to("cpu", torch.float32)
    return stack


_COPY_STREAMS: dict = {}


def _copy_stream(device: torch.device):
    """One copy stream per GPU, made on first use."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index not in _COPY_STREAMS:
        _COPY_STREAMS[index] = torch.cuda.Stream(index)
    return _COPY_STREAMS[index]


def _to(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device``. To a GPU through pinned memory, on a copy stream of its own: the copy runs
    while the GPU still works on what was queued before (on the compute stream it would wait for that
    work, then hold the next up), and the work queued after waits for it."""
    if device.type != "cuda" or t.device.type != "cpu":
        return t.to(device)
    side, main = _copy_stream(device), torch.cuda.current_stream(device)
    src = t if t.is_pinned() else t.pin_memory()
    with torch.cuda.stream(side):
        out = src.to(device, non_blocking=True)
    main.wait_stream(side)
    out.record_stream(main)  # made on the copy stream, used on the compute stream: freed after that use
    return out


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


# -- the compiled pass ---------------------------------------------------------------------------------
#: torch.compile's backend for impl="compiled" (tests use "aot_eager": the same graphs, not compiled)
COMPILE_BACKEND = "inductor"

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
