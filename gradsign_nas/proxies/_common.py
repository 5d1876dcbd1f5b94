"""Helpers shared by the proxies: input checks, the weights a proxy looks at, BatchNorm handling."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from gradsign_nas.errors import InputError


def check_batch(model: nn.Module, inputs, targets=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Validate a minibatch and move it to the model's device and dtype."""
    if not isinstance(inputs, torch.Tensor):
        raise InputError(f"inputs must be a torch.Tensor of images [B, C, H, W], but got {type(inputs).__name__}")
    if inputs.dim() != 4:
        raise InputError(f"inputs must be images of shape [B, C, H, W], but got shape {tuple(inputs.shape)}")
    if inputs.shape[0] == 0:
        raise InputError("the batch is empty: a proxy needs at least one sample, but got 0")
    first = next(iter(model.parameters()), None)
    if first is None:
        raise InputError("the model has no parameters to score")
    if inputs.is_meta or first.is_meta:
        raise InputError(
            "expected tensors that hold data, but got meta tensors (a model or batch on the 'meta' device)"
        )
    expected_c = _first_conv_in_channels(model)
    if expected_c is not None and inputs.shape[1] != expected_c:
        raise InputError(
            f"the model expects {expected_c}-channel images, but the batch has shape {tuple(inputs.shape)}"
        )
    x = inputs.to(device=first.device, dtype=first.dtype)
    if not torch.isfinite(x).all():
        raise InputError("inputs contain NaN or infinite values")
    y = None
    if targets is not None:
        if not isinstance(targets, torch.Tensor) or targets.dim() != 1 or targets.shape[0] != inputs.shape[0]:
            shape = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__
            raise InputError(f"targets must be a 1-d tensor of {inputs.shape[0]} class indices, but got {shape}")
        if targets.dtype.is_floating_point:
            raise InputError(f"targets must be integer class indices, but got dtype {targets.dtype}")
        y = targets.to(device=first.device, dtype=torch.long)
    classes = _probe_forward(model, x)
    if y is not None and classes is not None and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise InputError(
            f"expected class indices in 0..{classes - 1} for a network with {classes} outputs, "
            f"but the targets range over {int(y.min())}..{int(y.max())}"
        )
    return x, y


def _probe_forward(model: nn.Module, x: torch.Tensor) -> int | None:
    """Run the network on one sample (eval mode, no grad, nothing changed) so that images it cannot
    take fail with one sentence here rather than deep inside a proxy; returns its number of outputs."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            out = model(x[:1])
    except (RuntimeError, ValueError, IndexError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(
            f"expected images the network can take, but a forward pass on a batch of shape "
            f"{tuple(x.shape)} failed: {first_line[:200]}"
        ) from None
    finally:
        for m, training in modes:
            m.training = training
    if isinstance(out, torch.Tensor) and out.dim() == 2:
        return int(out.shape[1])
    return None


def _first_conv_in_channels(model: nn.Module) -> int | None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m.in_channels
    return None


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d | nn.Linear]]:
    """The Conv2d and Linear layers whose ``weight`` the proxies score, in module order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def weight_names(model: nn.Module) -> list[str]:
    return [f"{n}.weight" if n else "weight" for n, _ in weight_layers(model)]


@contextlib.contextmanager
def per_sample_batchnorm(model: nn.Module) -> Iterator[None]:
    """Make every BatchNorm normalise with batch statistics without touching running buffers, so a
    vmapped batch of one behaves as a forward pass on that sample alone; restores state after."""
    saved = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            saved.append((m, m.running_mean, m.running_var, m.num_batches_tracked, m.track_running_stats, m.training))
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
            m.track_running_stats = False
            m.train()
    try:
        yield
    finally:
        for m, rm, rv, nbt, trs, training in saved:
            m.running_mean, m.running_var, m.num_batches_tracked = rm, rv, nbt
            m.track_running_stats = trs
            m.train(training)
