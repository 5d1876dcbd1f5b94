"""GradSign's ``vmap`` method and the pieces every GradSign method shares (``REDUCTIONS``,
``reduce_sign_sums``): all per-sample gradients of a chunk come from one batched
``torch.func.vmap(grad(...))`` pass; the sign sums are accumulated chunk by chunk so memory stays
bounded by ``chunk_size``.

Both ``_gradsign`` (``gradsign``) and ``_gradsign_hooks`` (whose fallback this is) import from here;
this module imports neither.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from gradsign_nas.errors import InputError

from ._common import check_batch, per_sample_batchnorm, weight_names

REDUCTIONS = ("sum", "mean")


def _sign_sums(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk_size: int | None) -> dict[str, torch.Tensor]:
    names = weight_names(model)
    if not names:
        raise InputError("the model has no Conv2d or Linear weights for GradSign to score")
    all_params = dict(model.named_parameters())
    scored = {n: all_params[n].detach() for n in names}
    fixed = {n: p.detach() for n, p in all_params.items() if n not in scored}
    buffers = {n: b for n, b in model.named_buffers()}

    def loss(weights, xi, yi):
        out = functional_call(model, ({**fixed, **weights}, buffers), (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))
    totals = {n: torch.zeros_like(w) for n, w in scored.items()}
    step = x.shape[0] if not chunk_size else int(chunk_size)
    for start in range(0, x.shape[0], step):
        grads = per_sample(scored, x[start : start + step], y[start : start + step])
        for n, g in grads.items():
            totals[n] += torch.sign(g).sum(0)
    return totals


def gradsign_vmap(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, reduction: str, chunk_size: int | None
) -> float:
    """GradSign (``gradsign(..., method="vmap")``; its caller has checked ``reduction`` and
    ``chunk_size``)."""
    x, y = check_batch(model, inputs, targets)
    assert y is not None  # targets is required; check_batch returns None only without it
    with per_sample_batchnorm(model):
        totals = _sign_sums(model, x, y, chunk_size)
    return reduce_sign_sums(totals.values(), reduction)


def reduce_sign_sums(totals, reduction: str) -> float:
    """sum_k |sum_i sign(g_ik)| over the per-layer sign sums (``"mean"``: per weight element)."""
    totals = list(totals)
    score = sum(t.abs().sum().item() for t in totals)
    if reduction == "mean":
        score /= sum(t.numel() for t in totals)
    if not math.isfinite(score):
        raise InputError("GradSign produced a non-finite score; the network's gradients are not finite")
    return float(score)
