"""Score every NB201 architecture with GradSign on a fixed real batch and write the score table that
assisted searches look up (``gradsign_nas/tables/nb201_gradsign.npz``).

Work is split into small chunks of official indices pulled from one queue by a mix of workers:
``gpu_procs`` processes per visible GPU and ``cpu_procs`` single-threaded CPU processes, so the
machine's cores work beside the GPU. One scorer process per GPU is launch-bound (small networks keep
the GPU mostly idle); several processes only run concurrently on one GPU under CUDA MPS, which
``--mps`` starts when the control daemon is available (otherwise they time-slice). Every
architecture is built after ``torch.manual_seed(seed)`` on the CPU and then moved, so CPU and GPU
workers score identical weights.
"""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from gradsign_nas.errors import InputError

from .benchmarks.images import IMAGE_DATASETS, NUM_CLASSES


def _worker(
    kind: str,
    device_index: int,
    tasks,
    results,
    datasets: Sequence[str],
    batch_size: int,
    seed: int,
    data_dir: str,
    chunk_size,
    proxy_names: Sequence[str] = ("gradsign",),
) -> None:
    import torch

    torch.set_num_threads(1)
    from gradsign_nas import proxies
    from gradsign_nas.benchmarks import load_batch
    from gradsign_nas.search_spaces import get

    device = torch.device(f"cuda:{device_index}" if kind == "gpu" else "cpu")
    space = get("nb201")
    batches = {d: load_batch(d, batch_size, seed, data_dir, device=device) for d in datasets}
    while True:
        chunk = tasks.get()
        if chunk is None:
            break
        out = []
        for index in chunk:
            arch = space.from_index(index)
            for name in proxy_names:
                fn = proxies.get(name)
                kw = {"chunk_size": chunk_size} if name == "gradsign" else {}
                for d in datasets:
                    torch.manual_seed(seed)
                    net = space.build(arch, num_classes=NUM_CLASSES[d]).to(device)
                    x, y = batches[d]
                    t0 = time.perf_counter()
                    s = float(fn(net, x, y, **kw))
                    if kind == "gpu":
                        torch.cuda.synchronize(device)
                    out.append((name, d, index, s, time.perf_counter() - t0))
        results.put((f"{kind}{device_index}", out))


def score_space(
    indices: Iterable[int],
    datasets: Sequence[str] = ("cifar10", "cifar100"),
    batch_size: int = 64,
    seed: int = 0,
    data_dir=None,
    gpu_procs: int = 0,
    cpu_procs: int = 1,
    chunk: int = 8,
    chunk_size=None,
    progress: bool = True,
    proxies: Sequence[str] = ("gradsign",),
) -> dict:
    """Score ``indices`` with each of ``proxies`` (default GradSign) on each dataset's batch; returns
    ``scores[proxy][dataset]`` and ``seconds[proxy][dataset]`` arrays and per-worker counts."""
    import multiprocessing as mp

    from gradsign_nas.benchmarks import data_dir as resolve

    indices = [int(i) for i in indices]
    for d in datasets:
        if d not in IMAGE_DATASETS:
            raise InputError(f"expected datasets among {', '.join(IMAGE_DATASETS)}, but got {d!r}")
    n_gpu = 0
    if gpu_procs:
        import torch

        n_gpu = torch.cuda.device_count()
        if n_gpu == 0:
            raise InputError(f"--gpu-procs {gpu_procs} asks for GPU workers, but no CUDA device is visible")
    if gpu_procs * n_gpu + cpu_procs < 1:
        raise InputError("at least one worker is needed, but got 0 GPU and 0 CPU processes")
    ctx = mp.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    chunks = [indices[i : i + chunk] for i in range(0, len(indices), chunk)]
    for c in chunks:
        tasks.put(c)
    procs = []
    dd = str(resolve(data_dir))
    for g in range(n_gpu):
        for _ in range(gpu_procs):
            procs.append(
                ctx.Process(
                    target=_worker,
                    args=("gpu", g, tasks, results, list(datasets), batch_size, seed, dd, chunk_size, list(proxies)),
                )
            )
    for i in range(cpu_procs):
        procs.append(
            ctx.Process(
                target=_worker,
                args=("cpu", i, tasks, results, list(datasets), batch_size, seed, dd, chunk_size, list(proxies)),
            )
        )
    for _ in procs:
        tasks.put(None)
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    pos = {i: k for k, i in enumerate(indices)}
    scores = {q: {d: np.full(len(indices), np.nan) for d in datasets} for q in proxies}
    seconds = {q: {d: np.full(len(indices), np.nan) for d in datasets} for q in proxies}
    per_arch = len(datasets) * len(proxies)
    by_worker: dict[str, int] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(indices), desc="scoring NB201", unit="arch")
    done = 0
    try:
        while done < len(chunks):
            try:
                who, out = results.get(timeout=5)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    raise RuntimeError("all scoring workers exited before the work was done") from None
                continue
            for q, d, index, s, dt in out:
                scores[q][d][pos[index]] = s
                seconds[q][d][pos[index]] = dt
            by_worker[who] = by_worker.get(who, 0) + len(out) // per_arch
            done += 1
            if bar is not None:
                bar.update(len(out) // per_arch)
    finally:
        if bar is not None:
            bar.close()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    wall = time.perf_counter() - t0
    return {
        "indices": np.asarray(indices),
        "scores": scores,
        "seconds": seconds,
        "wall_s": wall,
        "by_worker": by_worker,
    }


def write_table(
    path, result: dict, datasets: Sequence[str], batch_size: int, seed: int, extra_meta=None, proxy: str = "gradsign"
) -> Path:
    """Write the score table (npz, no pickle): ``scores_<dataset>``, ``seconds_<dataset>`` in official
    index order, and ``meta`` (a JSON string recording batch, seed and how it was made)."""
    path = Path(path)
    n = 15625
    if len(result["indices"]) != n or not np.array_equal(np.sort(result["indices"]), np.arange(n)):
        raise InputError(f"a score table needs all {n} NB201 architectures, but got {len(result['indices'])}")
    order = np.argsort(result["indices"])
    arrays = {}
    for d in datasets:
        arrays[f"scores_{d}"] = result["scores"][proxy][d][order]
        arrays[f"seconds_{d}"] = result["seconds"][proxy][d][order].astype(np.float32)
    meta = {
        "proxy": proxy,
        **({"reduction": "sum"} if proxy == "gradsign" else {}),
        "batch_size": batch_size,
        "batch_seed": seed,
        "init": f"torch.manual_seed({seed}) before each build",
        "datasets": list(datasets),
        "index": "NB201 official index",
        "wall_s": round(result["wall_s"], 1),
        **(extra_meta or {}),
    }
    arrays["meta"] = np.asarray(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    from ._io import atomic_path

    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    return path
