"""The initial weights of many NB201 networks, stacked (``_Stack``, ``draw_weights``), for the stacked
GradSign pass of ``_gradsign_nb201``.

Each network's weights are drawn exactly as ``torch.manual_seed(seed)`` followed by
``space.build(arch)`` draws them (the same generator stream, in the builder's construction order,
with PyTorch's default initialisers; ``tests/test_scoring_engine.py`` compares them tensor by
tensor), without building the ~100 ``nn.Module`` objects of a network. Also ``_to``: a tensor to a
device, to a GPU on a copy stream of its own.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from gradsign_nas.errors import InputError
from gradsign_nas.search_spaces.nb201 import OPS as _OPS

__all__ = ["draw_weights"]


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
