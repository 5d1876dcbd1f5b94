"""GradSign (Zhang & Jia, ICLR 2022):

    GradSign(net) = sum over weight elements k of | sum over samples i of sign(d loss_i / d theta_k) |

over the weights of every Conv2d and Linear layer, the network in train mode with each sample passing
through BatchNorm alone, cross-entropy loss. All per-sample gradients of a chunk come from one
batched ``torch.func.vmap(grad(...))`` pass; the sign sums are accumulated chunk by chunk so memory
stays bounded by ``chunk_size``.

The methods live in ``_gradsign_vmap`` (with what all methods share) and ``_gradsign_hooks``; both
are imported here, and neither imports this module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gradsign_nas.errors import InputError

from ._common import check_batch, weight_names
from ._gradsign_hooks import gradsign_hooks
from ._gradsign_vmap import REDUCTIONS, gradsign_vmap, reduce_sign_sums
from ._gradsign_vmap import _sign_sums as _sign_sums

METHODS = ("auto", "vmap", "hooks")


def gradsign(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    reduction: str = "sum",
    chunk_size: int | None = 32,
    method: str = "auto",
) -> float:
    """The GradSign score of ``model`` on one minibatch (higher predicts better trained accuracy).

    Args:
        model: a freshly initialised network (its parameters are not changed).
        inputs: images ``[B, C, H, W]`` on any device; moved to the model's device and dtype.
        targets: class indices ``[B]``.
        reduction: ``"sum"`` over weight elements (the paper's score) or ``"mean"`` per element.
        chunk_size: samples per vmapped chunk (bounds memory); ``None`` does the batch at once.
        method: ``"vmap"`` (``torch.func.vmap(grad(...))``), ``"hooks"`` (one batched pass with
            BatchNorm as instance norm and per-sample weight gradients from hooks), or ``"auto"``:
            hooks (faster on CUDA and, since its conv gradients come from one grouped convolution
            backward, on the CPU too: 1.30x a plain pass against vmap's 1.45x on NB201 networks).
            Both equal the per-sample loop exactly in float64.

    Returns:
        The score as a float. A network whose output does not depend on the scored weights (e.g. an
        NB201 cell with no path from input to output) scores exactly 0.0.

    Example:
        >>> import torch
        >>> from gradsign_nas import proxies, search_spaces
        >>> space = search_spaces.get("nb201")
        >>> net = space.build(space.from_index(0))
        >>> x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
        >>> proxies.gradsign(net, x, y) > 0
        True
    """
    if reduction not in REDUCTIONS:
        raise InputError(f"reduction must be one of {REDUCTIONS}, but got {reduction!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise InputError(f"chunk_size must be a positive integer or None, but got {chunk_size!r}")
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, but got {method!r}")
    if method in ("hooks", "auto"):
        return gradsign_hooks(model, inputs, targets, reduction=reduction, chunk_size=chunk_size)
    return gradsign_vmap(model, inputs, targets, reduction, chunk_size)


def gradsign_reference(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, reduction: str = "sum") -> float:
    """The specification, slowly: one forward/backward per sample in train mode (for tests and the
    speed benchmark; do not use it for scoring)."""
    if reduction not in REDUCTIONS:
        raise InputError(f"reduction must be one of {REDUCTIONS}, but got {reduction!r}")
    x, y = check_batch(model, inputs, targets)
    assert y is not None  # targets is required; check_batch returns None only without it
    names = set(weight_names(model))
    params = {n: p for n, p in model.named_parameters() if n in names}
    totals = {n: torch.zeros_like(p) for n, p in params.items()}
    was_training = model.training
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    try:
        for i in range(x.shape[0]):
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
            for n, p in params.items():
                if p.grad is not None:
                    totals[n] += torch.sign(p.grad)
    finally:
        model.zero_grad(set_to_none=True)
        model.load_state_dict(saved)  # running BN statistics back as they were
        model.train(was_training)
    return reduce_sign_sums(totals.values(), reduction)
