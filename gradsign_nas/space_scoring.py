"""Score every NB201 architecture with GradSign (or other proxies) on fixed real batches and write the
score tables that assisted searches look up (``gradsign_nas/tables/nb201_gradsign.npz``).

Scoring goes through the one scoring engine (``gradsign_nas.scoring.ScoringEngine``): worker
processes pull chunks of architectures from one queue, one per entry of ``devices`` (every GPU of the
host, CPU cores, or a mix). On a GPU, NB201 GradSign runs 64 networks per pass
(``gradsign_nb201``), so one process per GPU keeps it busy without CUDA MPS. Every network is
initialised as ``torch.manual_seed(seed)`` followed by the space's build draws it, on the CPU's
generator, so CPU and GPU workers score identical weights.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from gradsign_nas.errors import InputError

from .benchmarks.images import IMAGE_DATASETS


def score_space(
    indices: Iterable[int],
    datasets: Sequence[str] = ("cifar10", "cifar100"),
    batch_size: int = 64,
    seed: int = 0,
    data_dir=None,
    gpu_procs: int = 0,
    cpu_procs: int = 1,
    progress: bool = True,
    proxies: Sequence[str] = ("gradsign",),
    address: Optional[str] = None,
    compile: bool = False,
) -> dict:
    """Score ``indices`` with each of ``proxies`` (default GradSign) on each dataset's batch.

    ``gpu_procs`` processes per visible GPU and ``cpu_procs`` single-threaded CPU processes score side
    by side (or Ray tasks on the cluster at ``address``, on its GPUs when ``gpu_procs`` > 0). Returns
    ``scores[proxy][dataset]`` and ``seconds[proxy][dataset]`` arrays, ``wall_s`` and per-worker
    counts (``by_worker``). ``compile``: GradSign in whole cosets with the compiled stacked pass
    (``ScoringEngine``'s ``compile``)."""
    from gradsign_nas.scoring import ScoringEngine
    from gradsign_nas.search_spaces import get

    indices = [int(i) for i in indices]
    for d in datasets:
        if d not in IMAGE_DATASETS:
            raise InputError(f"expected datasets among {', '.join(IMAGE_DATASETS)}, but got {d!r}")
    devices: list[str] = []
    if gpu_procs:
        import torch

        n_gpu = torch.cuda.device_count()
        if n_gpu == 0 and address is None:
            raise InputError(f"--gpu-procs {gpu_procs} asks for GPU workers, but no CUDA device is visible")
        devices += [f"cuda:{g}" for g in range(n_gpu) for _ in range(gpu_procs)]
    devices += ["cpu"] * cpu_procs
    if not devices and address is None:
        raise InputError("at least one worker is needed, but got 0 GPU and 0 CPU processes")
    space = get("nb201")
    archs = [space.from_index(i) for i in indices]
    scores: dict[str, dict[str, np.ndarray]] = {q: {} for q in proxies}
    seconds: dict[str, dict[str, np.ndarray]] = {q: {} for q in proxies}
    by_worker: dict[str, int] = {}
    t0 = time.perf_counter()
    for q in proxies:
        for d in datasets:
            engine = ScoringEngine(
                "nb201",
                q,
                d,
                batch_size,
                seed,
                data_dir,
                device="cuda" if gpu_procs else "cpu",
                devices=devices if address is None else None,
                cache=False,
                progress=progress,
                address=address,
                compile=compile,
            )
            scores[q][d], seconds[q][d] = engine.score(archs)
            for who, n in engine.by_worker.items():
                by_worker[who] = by_worker.get(who, 0) + n
    return {
        "indices": np.asarray(indices),
        "scores": scores,
        "seconds": seconds,
        "wall_s": time.perf_counter() - t0,
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
