"""Devices of scoring: one per local worker process, a GPU seen alone, and float32 arithmetic without TF32.

``local_devices`` and ``gpu_alone`` also serve other fan-outs (``compare --live`` pins its search
processes with them and ``pinned_pool``)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

from gradsign_nas.errors import InputError

__all__ = ["exact_float32", "gpu_alone", "local_devices"]


def local_devices(device: str, workers: Optional[int] = None, devices: Optional[Sequence] = None) -> list[str]:
    """One device per local worker process: ``devices``, else every GPU of the host for ``"cuda"``
    (round-robin when ``workers`` asks for more), else ``workers`` (default: the CPU cores; one
    process for a single ``cuda:i``) on ``device``."""
    if devices is not None:
        return [str(d) for d in devices]
    if device == "cuda":
        import torch

        gpus = max(1, torch.cuda.device_count())
        return [f"cuda:{i % gpus}" for i in range(workers or gpus)]
    default = 1 if device.startswith("cuda") else (os.cpu_count() or 1)
    return [device] * (workers or default)


def gpu_alone(device: str, visible: Optional[str]) -> str:
    """``CUDA_VISIBLE_DEVICES`` for a process that is to see only ``device`` ("cuda:i", numbered as
    this process sees the GPUs under ``visible``, the current setting or ``None``)."""
    index = int(device.split(":")[1])
    ids = [v.strip() for v in visible.split(",")] if visible else [str(i) for i in range(index + 1)]
    if not 0 <= index < len(ids):
        raise InputError(f"expected a GPU among the {len(ids)} visible ({visible}), but got {device}")
    return ids[index]


@contextmanager
def exact_float32() -> Iterator[None]:
    """TF32 off for cuDNN and matrix products while scoring (PyTorch turns it on for cuDNN by default;
    TF32 moved ranks in our measurement, see the README), restored afterwards."""
    import torch

    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
