"""Baseline zero-cost proxies: ``PROXIES[name](model, inputs, targets) -> float``, higher = better.

Written from the papers and the semantics of their reference code (Abdelfattah et al., "Zero-Cost
Proxies for Lightweight NAS", ICLR 2021, for synflow / snip / grad_norm / fisher / grasp / jacob_cov /
plain / l2_norm; Mellor et al., "Neural Architecture Search without Training", ICML 2021, for
naswot), as NASLib's NAS-Bench-Suite-Zero computes them (``zen``, Lin et al., ICCV 2021, is written
from its paper; its docstring says where it departs from it):

- every proxy works on a deep copy of ``model`` (the caller's weights, gradients, BatchNorm buffers
  and train/eval mode are never touched), in train mode (BatchNorm uses batch statistics), with the
  cross-entropy loss averaged over the batch;
- per-weight scores are summed over the ``weight`` of every ``Conv2d`` and ``Linear`` layer.

Degenerate networks: a network whose output does not depend on its input (e.g. an NB201 cell with no
path of non-``none`` edges from input to output) gets ``-inf`` from every data-dependent proxy
(everything except ``params``, ``flops`` and ``l2_norm``; ``zen`` too), so it ranks below every real network. It
is detected by a no-grad forward pass whose logits come out identical for every sample (for a batch
of one, the sample and its negation). Any other score that comes out NaN is also returned as
``-inf``; ``+inf`` (overflow) is returned as is. Scores never raise for numeric reasons; bad input
(not a 4-d image tensor, empty batch, wrong channels, NaN pixels, bad targets) raises ``ValueError``.
"""

from __future__ import annotations

import copy
import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gradsign_nas.errors import InputError

from ._common import check_batch, weight_layers

__all__ = [
    "PROXIES",
    "fisher",
    "flops",
    "grad_norm",
    "grasp",
    "jacob_cov",
    "l2_norm",
    "naswot",
    "params",
    "plain",
    "snip",
    "synflow",
    "zen",
]

DEGENERATE = float("-inf")


def _copy(model: nn.Module) -> nn.Module:
    net = copy.deepcopy(model)
    net.zero_grad(set_to_none=True)
    return net.train()


def _is_degenerate(net: nn.Module, x: torch.Tensor) -> bool:
    """Whether the logits do not depend on the input (identical for every sample of the batch)."""
    probe = x if x.shape[0] > 1 else torch.cat([x, -x])
    state = {k: v.clone() for k, v in net.state_dict().items()}  # keep BN buffers as they were
    with torch.no_grad():
        out = net(probe)
    net.load_state_dict(state)
    out = out.reshape(out.shape[0], -1)
    return bool(torch.equal(out, out[:1].expand_as(out)))


def _finish(value: float) -> float:
    value = float(value)
    return DEGENERATE if math.isnan(value) else value


def _layer_weights(net: nn.Module) -> list[torch.Tensor]:
    return [m.weight for _, m in weight_layers(net)]


def _loss_backward(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    net.zero_grad(set_to_none=True)
    F.cross_entropy(net(x), y).backward()


def _data_proxy(fn: Callable) -> Callable:
    """Wrap ``fn(net_copy, x, y) -> float`` with input checks, copying and the degenerate rule."""

    def proxy(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        x, y = check_batch(model, inputs, targets)
        if y is None:
            raise InputError(f"the {fn.__name__} proxy needs targets (class indices), but got None")
        net = _copy(model)
        if _is_degenerate(net, x):
            return DEGENERATE
        return _finish(fn(net, x, y))

    proxy.__name__ = fn.__name__
    proxy.__qualname__ = fn.__name__
    proxy.__doc__ = fn.__doc__
    return proxy


@_data_proxy
def grad_norm(net, x, y) -> float:
    """Sum over Conv2d/Linear layers of the L2 norm of the loss gradient of the layer's weight."""
    _loss_backward(net, x, y)
    return sum(float(w.grad.norm()) for w in _layer_weights(net) if w.grad is not None)


@_data_proxy
def snip(net, x, y) -> float:
    """SNIP saliency: sum of ``|w * dL/dw|`` over all Conv2d/Linear weights."""
    _loss_backward(net, x, y)
    return sum(float((w.detach() * w.grad).abs().sum()) for w in _layer_weights(net) if w.grad is not None)


@_data_proxy
def plain(net, x, y) -> float:
    """Sum of ``w * dL/dw`` (signed) over all Conv2d/Linear weights."""
    _loss_backward(net, x, y)
    return sum(float((w.detach() * w.grad).sum()) for w in _layer_weights(net) if w.grad is not None)


@_data_proxy
def grasp(net, x, y) -> float:
    """GraSP: sum of ``-w * (H g)`` over Conv2d/Linear weights, ``g`` the loss gradient and ``H`` the
    Hessian of the loss (a Hessian-vector product through a second backward pass)."""
    weights = _layer_weights(net)
    first = torch.autograd.grad(F.cross_entropy(net(x), y), weights, allow_unused=True)
    g = [None if gi is None else gi.detach() for gi in first]
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True, allow_unused=True)
    z = sum((gi * fi).sum() for gi, fi in zip(g, grads) if gi is not None and fi is not None)
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return 0.0
    hg = torch.autograd.grad(z, weights, allow_unused=True)
    return sum(float((-w.detach() * h).sum()) for w, h in zip(weights, hg) if h is not None)


@_data_proxy
def fisher(net, x, y) -> float:
    """Fisher (Theis et al. as in Abdelfattah et al.): for the output activation ``a`` of every
    Conv2d/Linear layer, ``0.5 * mean_n (sum_spatial a * dL/da)^2`` per channel, summed."""
    acts: list[torch.Tensor] = []
    hooks = []

    def keep(_module, _inp, out):
        out.retain_grad()
        acts.append(out)

    for _, m in weight_layers(net):
        hooks.append(m.register_forward_hook(keep))
    try:
        net.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
    finally:
        for h in hooks:
            h.remove()
    total = 0.0
    for a in acts:
        if a.grad is None:
            continue
        g = a.detach() * a.grad
        if g.dim() == 4:
            g = g.sum(dim=(2, 3))
        total += float(g.pow(2).mean(0).mul(0.5).sum())
    return total


@_data_proxy
def jacob_cov(net, x, y) -> float:
    """Jacobian covariance (Mellor et al., first version): with ``J`` the per-sample gradient of the
    summed logits w.r.t. the input and ``v`` the eigenvalues of ``corrcoef(J)``,
    ``-sum(log(v + 1e-5) + 1 / (v + 1e-5))``. Needs at least two samples. Eigenvalues are computed
    for the symmetric matrix (``eigvalsh``) and tiny negative round-off is clipped to 0."""
    if x.shape[0] < 2:
        raise InputError(f"jacob_cov needs a batch of at least 2 samples, but got {x.shape[0]}")
    x = x.detach().clone().requires_grad_(True)
    out = net(x)
    out.backward(torch.ones_like(out))
    jac = x.grad.detach().reshape(x.shape[0], -1).double().cpu().numpy()
    with np.errstate(all="ignore"):
        corr = np.corrcoef(jac)
    if not np.isfinite(corr).all():
        return float("nan")
    v = np.clip(np.linalg.eigvalsh(corr), 0.0, None)
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


@_data_proxy
def naswot(net, x, y) -> float:
    """NASWOT (Mellor et al., ICML 2021): the log-determinant of ``K = sum over ReLU layers of
    c c^T + (1 - c)(1 - c)^T``, ``c`` the binary codes (input > 0) of each sample at that layer.
    ``-inf`` when ``K`` is singular. Raises ``ValueError`` if the model has no ``nn.ReLU`` modules."""
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise InputError("naswot needs a network with nn.ReLU modules, but found none")
    n = x.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def count(_module, inp, _out):
        c = (inp[0].detach().reshape(n, -1) > 0).to(torch.float32)
        kernel.add_((c @ c.t() + (1 - c) @ (1 - c).t()).double().cpu())

    hooks = [m.register_forward_hook(count) for m in relus]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in hooks:
            h.remove()
    sign, logdet = np.linalg.slogdet(kernel.numpy())
    return float(logdet) if sign != 0 else DEGENERATE


@_data_proxy
def synflow(net, x, y) -> float:
    """SynFlow (Tanaka et al., 2020, as in Abdelfattah et al.): BatchNorm removed, all parameters
    replaced by their absolute values, float64, one all-ones input; sum of ``|w * dR/dw|`` over
    Conv2d/Linear weights with ``R`` the sum of the logits."""
    for _name, module in list(net.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, child_name, nn.Identity())
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    out = net(torch.ones((1,) + tuple(x.shape[1:]), dtype=torch.float64, device=x.device))
    out.sum().backward()
    return sum(float((w.detach() * w.grad).abs().sum()) for w in _layer_weights(net) if w.grad is not None)


def l2_norm(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> float:
    """Sum over Conv2d/Linear layers of the L2 norm of the layer's weight (data-independent; the
    batch is still checked)."""
    check_batch(model, inputs, targets)
    return sum(float(m.weight.detach().norm()) for _, m in weight_layers(model))


def params(model: nn.Module, inputs: torch.Tensor | None = None, targets: torch.Tensor | None = None) -> float:
    """Number of trainable parameters, in millions (the batch, if given, is checked and unused)."""
    if inputs is not None:
        check_batch(model, inputs, targets)
    return sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6


def flops(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> float:
    """Forward multiply-adds of all Conv2d and Linear layers for one input of the batch's size, in
    millions (biases, BatchNorm, pooling and additions not counted)."""
    x, _ = check_batch(model, inputs, targets)
    net = copy.deepcopy(model).eval()
    total = [0]

    def count(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
            total[0] += out[0].numel() * k
        else:
            total[0] += out[0].numel() * m.in_features

    hooks = [m.register_forward_hook(count) for _, m in weight_layers(net)]
    try:
        with torch.no_grad():
            net(x[:1])
    finally:
        for h in hooks:
            h.remove()
    return total[0] / 1e6


def _pre_gap_module(net: nn.Module) -> nn.Module:
    """The global average pooling whose input is the feature map before the classifier: the
    module's ``global_pooling`` attribute (NB201, NB101, DARTS and NATS networks of this project),
    else its last ``nn.AdaptiveAvgPool2d``."""
    pool = getattr(net, "global_pooling", None)
    if isinstance(pool, nn.Module):
        return pool
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    if not pools:
        raise InputError(
            "zen needs the feature map before global average pooling, but the model has neither a "
            "global_pooling module nor any nn.AdaptiveAvgPool2d"
        )
    return pools[-1]


def _gaussian_init(net: nn.Module, generator: torch.Generator) -> None:
    """Zen-NAS's initialisation: Conv2d and Linear weights ~ N(0, 1), their biases 0, BatchNorm scale 1
    and shift 0. Drawn on the CPU from ``generator`` in module order, so every device gets the same
    weights."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator, dtype=m.weight.dtype))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()


def zen(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None = None,
    *,
    alpha: float = 0.01,
    seed: int = 0,
    gaussian_init: bool = True,
) -> float:
    """Zen-score (Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition",
    ICCV 2021), higher = more expressive network:

        log( E_n ||f(z_n) - f(z_n + alpha * eps_n)||_F / alpha ) + sum over BatchNorm layers i of log(sigma_i),
        sigma_i = sqrt(mean over channels of the BN layer's variance),

    with ``f`` the feature map before global average pooling (for NB201's ``TinyNetwork`` the output
    of ``lastact``, BN + ReLU, taken with a forward pre-hook on ``global_pooling``), ``z`` and ``eps``
    standard Gaussian images of the batch's shape, and the network in train mode.

    As in the paper: Gaussian inputs (the real batch only gives the shape ``[B, C, H, W]`` and is
    checked like every proxy's; ``targets`` are unused and may be ``None``); Conv2d/Linear weights
    re-drawn from N(0, 1) with BatchNorm scale 1 and shift 0 (``gaussian_init=False`` keeps the
    model's own initialisation); alpha = 0.01; the Frobenius norm of each sample's feature
    difference, averaged over the batch; the BN term in train mode; one repeat.

    Ours: (1) all randomness (weights, ``z``, ``eps``) comes from a CPU ``torch.Generator`` seeded
    with ``seed`` (default 0), independent of the global RNG and identical on every device; (2) the
    BN variances are the unbiased per-channel batch variances of the forward pass on ``z`` alone
    (read from ``running_var`` with the momentum set to 1 on the copy), where the reference code reads
    ``running_var`` after both passes at the default momentum 0.1, which mixes in the initial value
    1 and the perturbed pass; (3) BN layers without running statistics, and BN layers whose batch
    variance is exactly 0, are left out of the sum: the latter sit on a dead branch (e.g. an NB201
    conv edge leaving a node that only ``none`` edges feed, whose input is all zeros), add nothing
    to ``f``, and would make the paper's sum ``-inf`` (the reference code's momentum-0.1 read keeps
    them near log(0.9) instead); (4) a network whose output ignores its input gets ``-inf`` (the
    module's degenerate rule), as does one whose perturbation does not reach the features; NaN gives
    ``-inf``. The reference code
    uses the mean absolute (L1) feature difference without dividing by alpha; the ``/ alpha`` only
    adds the constant ``log(100)``.
    """
    alpha = float(alpha)
    if not (math.isfinite(alpha) and alpha > 0):
        raise InputError(f"zen needs a positive finite alpha, but got {alpha!r}")
    x, _ = check_batch(model, inputs, targets)
    net = _copy(model)
    if _is_degenerate(net, x):
        return DEGENERATE
    pool = _pre_gap_module(net)
    g = torch.Generator().manual_seed(int(seed))
    if gaussian_init:
        _gaussian_init(net, g)
    z = torch.randn(tuple(x.shape), generator=g, dtype=x.dtype).to(x.device)
    eps = torch.randn(tuple(x.shape), generator=g, dtype=x.dtype).to(x.device)
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is not None]
    for m in bns:
        m.momentum = 1.0
    feats: list[torch.Tensor] = []
    hook = pool.register_forward_pre_hook(lambda _m, inp: feats.append(inp[0].detach()))
    try:
        with torch.no_grad():
            net(z)
            variances = [float(m.running_var.double().mean()) for m in bns if m.running_var is not None]
            log_sigma = sum(0.5 * math.log(v) for v in variances if v > 0)
            net(z + alpha * eps)
    finally:
        hook.remove()
    if len(feats) != 2:
        raise InputError(f"zen expected one pass through the pre-pooling feature map per forward, but saw {len(feats)}")
    diff = (feats[0] - feats[1]).double().reshape(x.shape[0], -1).norm(dim=1).mean()
    delta = float(diff) / alpha
    return _finish((math.log(delta) if delta > 0 else float("-inf")) + log_sigma)


PROXIES: dict[str, Callable[..., float]] = {
    "synflow": synflow,
    "snip": snip,
    "grad_norm": grad_norm,
    "fisher": fisher,
    "grasp": grasp,
    "jacob_cov": jacob_cov,
    "naswot": naswot,
    "plain": plain,
    "l2_norm": l2_norm,
    "params": params,
    "flops": flops,
    "zen": zen,
}
