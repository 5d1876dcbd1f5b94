"""The setting a scoring process works in (``ScoringContext``), and each process's scorer state for it.

A context is small and picklable: it travels to spawned worker processes and Ray tasks, and each
process builds its scorer state (the space, the proxy, the batch on its device) from it once per
setting (``setup``), and keeps it in the process-global ``_STATE``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Hashable, Optional

from gradsign_nas.benchmarks.images import IMAGE_DATASETS, NUM_CLASSES
from gradsign_nas.errors import InputError

from . import _kernels
from ._devices import exact_float32, gpu_alone

__all__ = ["ScoringContext", "num_classes_of", "ray_score_chunk", "setup", "worker_init", "worker_score"]


def num_classes_of(dataset: str) -> int:
    """Classes of the network's output layer for ``dataset`` (images exist for these only)."""
    if dataset not in IMAGE_DATASETS:
        raise InputError(f"expected a dataset with images, one of {', '.join(IMAGE_DATASETS)}, but got {dataset!r}")
    return NUM_CLASSES[dataset]


@dataclass(frozen=True)
class ScoringContext:
    """One scoring setting: a space (a name, or a picklable ``SearchSpace`` object), a proxy name, the
    batch (``load_batch(dataset, batch_size, seed, directory)``), whether whole blocks take the
    compiled pass, and the device a process scores on unless told another."""

    space: Any
    proxy: str
    dataset: str
    batch_size: int
    seed: int
    directory: Optional[str]
    compile: bool
    device: str

    def on(self, device: str) -> "ScoringContext":
        """The same setting with ``device`` as its default device."""
        return replace(self, device=device)

    def token(self, device: Optional[str]) -> tuple:
        """What a process's state is built from: a space object by its settings (NB201 C=4 is not C=16)."""
        s = self.space
        space_key = s if isinstance(s, str) else ("object", s.name, repr(sorted(s.options().items())))
        rest = (self.proxy, self.dataset, self.batch_size, self.seed, self.directory, self.compile, self.device)
        return (space_key, *rest, device)


# -- the scorer state of this process: the same code in-process, in pool workers and in Ray tasks -------
_STATE: dict[str, Any] = {}


def setup(ctx: ScoringContext, device: Optional[str] = None, warm: Optional[Hashable] = None) -> dict[str, Any]:
    """Per-process state (space, proxy, the batch on its device), built once per setting.

    With ``warm``, the proxy runs once on that architecture and two images, so one-off start-up costs
    (torch.func's first call takes ~1.5 s) are not charged to the first architecture's seconds.
    """
    token = ctx.token(device)
    if _STATE.get("token") == token:
        return _STATE
    import torch

    from gradsign_nas import search_spaces
    from gradsign_nas.benchmarks import load_batch

    dev = torch.device(device or ctx.device)
    x, y = load_batch(ctx.dataset, ctx.batch_size, ctx.seed, ctx.directory, device=dev)
    keep = {k: _STATE[k] for k in ("worker_device", "worker_label") if k in _STATE}  # the process's own
    _STATE.clear()
    _STATE.update(
        _kernels.scorer_state(
            search_spaces.get(ctx.space),
            ctx.proxy,
            (x, y),
            int(ctx.seed),
            num_classes_of(ctx.dataset),
            dev,
            compile=ctx.compile,
        ),
        token=token,
        **keep,
    )
    if warm is not None:
        try:
            with exact_float32():
                if _STATE["stack"]:
                    _kernels.score_stacked(_STATE, [warm])
                else:
                    _kernels.score_one(_STATE, warm)
        except Exception:  # noqa: BLE001 - a warm-up only; the real call reports any problem
            pass
    return _STATE


def worker_init(device: str, ctx: ScoringContext, warm: Optional[Hashable] = None) -> None:
    """Initializer of a local pool worker given ``device`` (``pinned_pool``)."""
    import torch

    torch.set_num_threads(1)
    _STATE["worker_label"] = device
    if device.startswith("cuda:"):  # the process sees its GPU alone, as cuda:0: the same compiled
        # graphs (and compile cache entries) on every GPU
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu_alone(device, os.environ.get("CUDA_VISIBLE_DEVICES"))
        device = "cuda:0"
    _STATE["worker_device"] = device
    setup(ctx, device, warm)


def worker_score(ctx: ScoringContext, archs: list) -> tuple[str, list[_kernels.Result]]:
    """A local pool worker's scores of ``archs``, with the worker's label."""
    state = setup(ctx, _STATE.get("worker_device"))
    return _STATE.get("worker_label") or str(state["device"]), _kernels.score_chunk(state, archs)


def ray_score_chunk(ctx: ScoringContext, archs: list) -> tuple[str, list[_kernels.Result]]:
    """A Ray task's scores of ``archs``, with its device."""
    import torch

    torch.set_num_threads(1)
    state = setup(ctx, warm=archs[0] if archs else None)
    return str(state["device"]), _kernels.score_chunk(state, archs)
