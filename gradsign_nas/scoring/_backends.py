"""Where architectures get scored, behind one function (``score_map``): in this process, in spawned
local processes (one per device, ``pinned_pool``), or as Ray tasks on a cluster. Each hands its
results to ``record(who, [(arch string, (score, seconds, error)), ...])`` as they come."""

from __future__ import annotations

import logging
from typing import Any, Callable, Hashable, Optional, Sequence

from gradsign_nas._ray import ray_session
from gradsign_nas.errors import InputError

from . import _context, _kernels
from ._context import ScoringContext

__all__ = ["Record", "pinned_pool", "score_map"]

_log = logging.getLogger(__name__)

#: hears ``(who, [(arch string, (score, seconds, error)), ...])`` as results come
Record = Callable[[str, list], Any]

#: architectures per work item when whole blocks are compiled: 8 blocks of 125 (NB201's cosets)
COSET_CHUNK = 1000


def score_map(
    todo: dict[str, Hashable],
    record: Record,
    *,
    state: Optional[dict[str, Any]] = None,
    ctx: Optional[ScoringContext] = None,
    devices: Sequence[str] = ("cpu",),
    address: Optional[str] = None,
    workers: Optional[int] = None,
    threads: Optional[int] = 1,
) -> None:
    """Score every architecture of ``todo`` (arch string -> architecture), handing each result to
    ``record``: with a scorer ``state`` (a batch of the caller's own), in this process; else in the
    setting ``ctx``, as Ray tasks on the cluster at ``address`` (``workers``: CPUs of a local one), in
    this process where there is one device or one architecture (``threads``: its torch threads,
    ``None`` leaves torch's), else in local processes, one per entry of ``devices``, this process
    taking the first."""
    if state is not None:
        _run_inline(state, todo, record, threads)
        return
    if ctx is None:
        raise InputError("expected a scorer state or a scoring context, but got neither")
    if address is not None:
        _run_ray(ctx, todo, record, address, workers)
    elif len(devices) == 1 or len(todo) == 1:
        _run_inline(_context.setup(ctx, devices[0], warm=next(iter(todo.values()))), todo, record, threads)
    else:
        _run_pool(ctx, todo, record, devices[: max(1, len(todo))])


def _run_inline(state: dict[str, Any], todo: dict[str, Hashable], record: Record, threads: Optional[int]) -> None:
    import torch

    saved = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        items = list(todo.items())  # the stacked passes group whole cosets themselves
        name = {id(a): s for s, a in items}
        # one call, so the next stacked pass is always drawn and queued; results recorded per pass
        _kernels.score_chunk(
            state,
            [a for _, a in items],
            lambda group, res: record(str(state["device"]), [(name[id(a)], r) for a, r in zip(group, res)]),
        )
    finally:
        torch.set_num_threads(saved)


def _pinned_init(queue, init: Callable, initargs: tuple) -> None:
    init(queue.get(), *initargs)


def pinned_pool(devices: Sequence[str], init: Callable, *initargs: Any):
    """A pool of ``len(devices)`` spawned processes, each given one device of ``devices``: its
    initializer runs ``init(device, *initargs)`` (``init`` must be importable: a module-level function)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    mpc = mp.get_context("spawn")
    queue = mpc.Queue()
    for d in devices:
        queue.put(str(d))
    return ProcessPoolExecutor(len(devices), mp_context=mpc, initializer=_pinned_init, initargs=(queue, init, initargs))


def _chunks(
    ctx: ScoringContext, todo: dict, devices: Sequence[str], n_workers: int
) -> list[list[tuple[str, Hashable]]]:
    """Work items: a few stacked passes on a GPU, a few networks on a CPU, and enough items that every
    worker stays busy to the end."""
    from gradsign_nas import search_spaces

    kernel = _kernels.batched_scorer(search_spaces.get(ctx.space), ctx.proxy)
    items = list(todo.items())
    if kernel is not None and kernel.blocks is not None and ctx.compile:  # chunks of whole blocks, others last
        whole, rest = kernel.blocks(items, _arch_of)
        items = [item for block in whole for item in block] + rest
        return [items[i : i + COSET_CHUNK] for i in range(0, len(items), COSET_CHUNK)]
    gpu = any(str(d).startswith("cuda") for d in devices)
    size = (_kernels.STACK["cuda"] * 4 if kernel is not None else 8) if gpu else 4
    size = max(1, min(size, len(todo) // (2 * max(1, n_workers)) or 1))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _arch_of(item: tuple[str, Hashable]) -> Hashable:
    return item[1]


def _run_pool(ctx: ScoringContext, todo: dict, record: Record, devices: Sequence[str]) -> None:
    """Score on every device of ``devices``: this process takes the first itself (it starts at once,
    while the spawned workers for the others import torch and set up) and hands chunks to the workers
    from the same list as it goes, keeping two in flight per worker."""
    from concurrent.futures import FIRST_COMPLETED, wait

    import torch

    warm = next(iter(todo.values()))
    pool = pinned_pool(devices[1:], _context.worker_init, ctx, warm)
    chunks = iter(_chunks(ctx, todo, devices, len(devices)))
    pending: dict = {}

    def top_up() -> None:
        while len(pending) < 2 * (len(devices) - 1):
            chunk = next(chunks, None)
            if chunk is None:
                return
            pending[pool.submit(_context.worker_score, ctx, [a for _, a in chunk])] = [s for s, _ in chunk]

    def harvest(block: bool) -> None:
        done, _ = wait(pending, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for fut in done:
            strings = pending.pop(fut)
            who, res = fut.result()
            record(who, list(zip(strings, res)))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the arithmetic of a pool worker: identical scores wherever computed
    try:
        top_up()
        state = _context.setup(ctx, devices[0], warm=warm)
        while True:
            harvest(block=False)
            top_up()
            chunk = next(chunks, None)
            if chunk is None:
                break
            res = _kernels.score_chunk(state, [a for _, a in chunk])
            record(str(state["device"]), list(zip([s for s, _ in chunk], res)))
        while pending:
            harvest(block=True)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        torch.set_num_threads(threads)
    pool.shutdown(wait=True)


def _run_ray(ctx: ScoringContext, todo: dict, record: Record, address: str, workers: Optional[int]) -> None:
    try:
        import ray
    except ImportError:
        raise InputError("scoring with --address needs Ray, but it is not installed; pip install 'ray[tune]'") from None

    with ray_session(workers if address == "local" else None, address):
        device = ctx.device
        gpu = str(device).startswith("cuda")
        n = int(ray.cluster_resources().get("GPU" if gpu else "CPU", 1))
        # each task on a GPU sees only the GPU Ray gave it, as cuda:0
        remote = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0)(_context.ray_score_chunk)
        ctx = ctx.on("cuda:0" if gpu else ctx.device)
        refs = {}
        for chunk in _chunks(ctx, todo, [device], max(1, n)):
            refs[remote.remote(ctx, [a for _, a in chunk])] = [s for s, _ in chunk]
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                who, res = ray.get(ref)
                record(f"ray:{who}", list(zip(refs.pop(ref), [tuple(r) for r in res])))
