"""A live comparison's searches in local processes (``no_ray`` with ``workers``): each process pinned to
one device, searches handed out as they finish."""

from __future__ import annotations

import dataclasses
from typing import Any

_DEVICE: list = []  # the device of this search process (set once by _pin_device)


def search_devices(cfg: Any) -> list[str]:
    """With no_ray, the device of each local search process: ``workers`` processes (default one per
    GPU of the host on CUDA, else one, which runs in this process), GPUs taken round-robin."""
    from ..scoring import local_devices
    from ._checks import check_device

    device = check_device(cfg.device)
    return local_devices(device, cfg.workers or (None if device == "cuda" else 1))


def _pin_device(device: str) -> None:
    _DEVICE.append(device)


def _one_search(a: str, v: str, r: int, scfg: Any, comparison: dict) -> tuple[int, int]:
    """Search ``a``/``v`` of seed ``r`` in a search process, on its device; returns the number of
    trials replayed from its history and the proxy scores it computed."""
    from ._final import final_evaluation
    from ._search import backend_for, open_search, run_search

    scfg = dataclasses.replace(scfg, device=_DEVICE[0])
    alg, ev, run_dir, history = open_search(scfg, v, comparison)
    res = run_search(scfg, alg, ev, run_dir, f"seed {r} {a} {v}", history, False)
    if scfg.final_epochs is not None:
        final_evaluation(scfg, ev, run_dir, lambda fev: backend_for(scfg, fev, final=True))
    return res.n_replayed, getattr(alg, "proxy_scores", 0)


def run_in_processes(jobs: list, comparisons: list, devices: list[str], bar) -> list[tuple[int, int]]:
    """Every search of ``jobs`` (algorithm, variant, run, search config; recorded as part of the
    comparison ``comparisons[i]``) in ``len(devices)`` spawned processes, each pinned to one device;
    results in the order of ``jobs``."""
    from concurrent.futures import FIRST_EXCEPTION, wait

    from ..scoring import pinned_pool

    pool = pinned_pool(devices, _pin_device)
    try:
        futures = [pool.submit(_one_search, a, v, r, scfg, c) for (a, v, r, scfg), c in zip(jobs, comparisons)]
        for f in futures:
            f.add_done_callback(lambda _f: bar.update(1))
        wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            exc = f.exception() if f.done() else None
            if exc is not None:
                raise exc  # the first failure; the others are cancelled
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
