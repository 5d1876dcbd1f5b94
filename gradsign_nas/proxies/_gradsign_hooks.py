"""GradSign in one batched forward/backward per chunk, with hooks instead of ``torch.func``.

Each sample must pass through BatchNorm alone (train mode, a batch of one). A BatchNorm2d over a
batch of one normalises each channel with that sample's own spatial mean and biased variance, which
is exactly ``F.instance_norm`` with the BatchNorm's affine parameters; with every BatchNorm replaced
so, samples no longer interact, and one backward pass of the *summed* per-sample losses hands every
layer each sample's own output gradient. Per-sample weight gradients then come from the layer's
saved input: ``einsum`` for Linear, ``unfold`` + ``bmm`` for Conv2d (groups of 1; other convs fall
back to the ``vmap`` implementation). Float64 scores equal the per-sample loop's.

Measured against ``gradsign`` (vmap) by ``benchmarks/proxy_speed.py``; it is not the default.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from gradsign_nas.errors import InputError

from ._common import check_batch, weight_layers
from ._gradsign import REDUCTIONS, gradsign, reduce_sign_sums

__all__ = ["gradsign_hooks"]


@contextlib.contextmanager
def _instance_norm_batchnorm(model: nn.Module) -> Iterator[None]:
    """Every BatchNorm2d computes per-sample statistics (instance norm), running buffers untouched."""
    patched = []
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):

            def forward(x, m=m):
                return F.instance_norm(x, None, None, m.weight, m.bias, True, 0.0, m.eps)

            m.forward = forward  # type: ignore[method-assign]  # per-instance override, deleted again below
            patched.append(m)
    try:
        yield
    finally:
        for m in patched:
            del m.forward


def _per_sample_grad(layer: nn.Conv2d | nn.Linear, inp: torch.Tensor, gout: torch.Tensor) -> torch.Tensor:
    if isinstance(layer, nn.Linear):
        return torch.einsum("b...o,b...i->boi", gout, inp)
    # Conv2d.padding may also be a str ("same"/"valid"), which unfold refuses: not handled on this path yet
    cols = F.unfold(
        inp,
        layer.kernel_size,
        dilation=layer.dilation,
        padding=layer.padding,  # type: ignore[arg-type]
        stride=layer.stride,
    )
    g = torch.bmm(gout.flatten(2), cols.transpose(1, 2))  # [B, Cout, Cin*kh*kw]
    return g.view(gout.shape[0], *layer.weight.shape)


def gradsign_hooks(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, reduction: str = "sum", chunk_size: int | None = 32
) -> float:
    """GradSign (same definition and arguments as ``gradsign``) from hooks and one pass per chunk."""
    if reduction not in REDUCTIONS:
        raise InputError(f"reduction must be one of {REDUCTIONS}, but got {reduction!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise InputError(f"chunk_size must be a positive integer or None, but got {chunk_size!r}")
    layers = weight_layers(model)
    if not layers:
        raise InputError("the model has no Conv2d or Linear weights for GradSign to score")
    if any(isinstance(m, nn.Conv2d) and (m.groups != 1 or m.padding_mode != "zeros") for _, m in layers) or any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(m, nn.BatchNorm2d) for m in model.modules()
    ):
        return gradsign(model, inputs, targets, reduction=reduction, chunk_size=chunk_size, method="vmap")
    x, y = check_batch(model, inputs, targets)
    assert y is not None  # targets is required; check_batch returns None only without it
    totals = {id(m): torch.zeros_like(m.weight) for _, m in layers}

    def fwd_hook(m, args, out):
        if out.requires_grad:  # one hook per call, with that call's input (a layer may run twice)
            out.register_hook(lambda g, m=m, inp=args[0].detach(): _accumulate(m, inp, g))  # noqa: B008 (bound now)

    def _accumulate(m, inp, g):
        totals[id(m)] += torch.sign(_per_sample_grad(m, inp, g)).sum(0)

    handles = [m.register_forward_hook(fwd_hook) for _, m in layers]
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    was_training = model.training
    step = x.shape[0] if not chunk_size else int(chunk_size)
    try:
        model.train()
        for p in params:  # weight gradients come from the hooks; autograd needs only activation grads
            p.requires_grad_(False)
        with _instance_norm_batchnorm(model):
            for start in range(0, x.shape[0], step):
                xc = x[start : start + step].requires_grad_(True)
                loss = F.cross_entropy(model(xc), y[start : start + step], reduction="sum")
                if loss.requires_grad:
                    loss.backward()
    finally:
        for h in handles:
            h.remove()
        for p, f in zip(params, flags):
            p.requires_grad_(f)
        model.train(was_training)
    return reduce_sign_sums(totals.values(), reduction)
