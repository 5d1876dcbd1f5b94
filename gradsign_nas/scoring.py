"""Score many architectures with a zero-cost proxy: in parallel, reproducibly, with a score cache.

Every architecture is built with ``torch.manual_seed(seed)`` immediately before
``space.build(arch, num_classes)`` and scored on the same real minibatch
(``load_batch(dataset, batch_size, seed)``), with one torch thread per scorer. A score therefore
depends only on (space, proxy, dataset, batch size, seed, architecture), never on how many workers
computed it or in which order.

Scores are appended, one JSON line each as they arrive, to a cache file keyed by exactly those six
things, so a second run is instant and an interrupted run keeps everything it finished.

A proxy that returns a non-finite value, or raises ``ValueError`` on one architecture (e.g. a
degenerate cell), gives ``NaN`` for that architecture (the message is kept in the cache line);
correlations exclude NaN scores and say how many (see ``gradsign_nas.correlation``).

Example:
    >>> from gradsign_nas import search_spaces
    >>> from gradsign_nas.scoring import score_archs
    >>> space = search_spaces.get("nb201")
    >>> archs = [space.from_index(i) for i in (0, 6111)]
    >>> scores, seconds = score_archs("nb201", archs, batch_size=8, workers=1,
    ...                               directory="../shared/data", cache=False, progress=False)
    >>> scores.shape
    (2,)
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Hashable, Optional, Sequence, Union

import numpy as np

from gradsign_nas.errors import InputError

from .benchmarks._files import cache_dir

__all__ = ["ScoreCache", "default_cache_path", "num_classes_of", "score_archs"]

from .benchmarks.images import IMAGE_DATASETS, NUM_CLASSES

_KEY_FIELDS = ("space", "proxy", "dataset", "batch_size", "seed")


def num_classes_of(dataset: str) -> int:
    """Classes of the network's output layer for ``dataset`` (images exist for these only)."""
    if dataset not in IMAGE_DATASETS:
        raise InputError(f"expected a dataset with images, one of {', '.join(IMAGE_DATASETS)}, but got {dataset!r}")
    return NUM_CLASSES[dataset]


def default_cache_path(space: str, proxy: str, dataset: str, batch_size: int, seed: int) -> Path:
    """``<cache_dir>/scores/<space>-<proxy>-<dataset>-b<batch>-s<seed>.jsonl``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{space}-{proxy}-{dataset}")
    return cache_dir() / "scores" / f"{safe}-b{int(batch_size)}-s{int(seed)}.jsonl"


class ScoreCache:
    """Scores of one (space, proxy, dataset, batch size, seed) setting in an append-only JSONL file.

    Each line is ``{"space", "proxy", "dataset", "batch_size", "seed", "arch", "score", "seconds"}``
    (plus ``"error"`` where the proxy failed; ``"score": null`` stands for NaN). Lines of other
    settings, and a torn last line left by an interrupted run, are ignored when reading, so one file
    may hold several settings.
    """

    def __init__(self, path: Union[str, os.PathLike], **key: Any) -> None:
        missing = [k for k in _KEY_FIELDS if k not in key]
        if missing or len(key) != len(_KEY_FIELDS):
            raise InputError(f"a score cache is keyed by {', '.join(_KEY_FIELDS)}, but got {sorted(key)}")
        self.path = Path(path)
        self.key = {k: key[k] for k in _KEY_FIELDS}
        self._entries: dict[str, tuple[float, float]] = {}
        self._read()

    def _read(self) -> None:
        if not self.path.is_file():
            return
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # torn line of an interrupted run
                if not isinstance(rec, dict) or any(rec.get(k) != v for k, v in self.key.items()):
                    continue
                score = rec.get("score")
                self._entries[str(rec.get("arch"))] = (
                    float("nan") if score is None else float(score),
                    float(rec.get("seconds", float("nan"))),
                )

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, arch: str) -> bool:
        return arch in self._entries

    def get(self, arch: str) -> Optional[tuple[float, float]]:
        """``(score, seconds)`` of the canonical arch string ``arch``, or ``None``."""
        return self._entries.get(arch)

    def add(self, arch: str, score: float, seconds: float, error: Optional[str] = None) -> None:
        """Record one result and append it to the file at once (one ``write`` per line)."""
        self._entries[arch] = (float(score), float(seconds))
        rec = dict(self.key, arch=arch, score=(float(score) if math.isfinite(score) else None), seconds=float(seconds))
        if error:
            rec["error"] = error
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(rec) + "\n"
        with open(self.path, "a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:  # a torn last line from a killed run must not swallow this one
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode("utf-8"))


# -- one scorer: the same code in-process, in pool workers and in Ray tasks ---------------------------
_STATE: dict[str, Any] = {}


def _setup(ctx: tuple, device: Optional[str] = None, warm: Optional[Hashable] = None) -> dict[str, Any]:
    """Per-process state (space, proxy, the batch on its device), built once per setting.

    With ``warm``, the proxy runs once on that architecture and two images, so one-off start-up costs
    (torch.func's first call takes ~1.5 s) are not charged to the first architecture's seconds.
    """
    token = (ctx[0] if isinstance(ctx[0], str) else ("object", ctx[0].name), *ctx[1:], device)
    if _STATE.get("token") == token:
        return _STATE
    import torch

    from . import proxies, search_spaces
    from .benchmarks import load_batch

    space, proxy, dataset, batch_size, seed, directory, default_device = ctx
    dev = torch.device(device or default_device)
    x, y = load_batch(dataset, batch_size, seed, directory, device=dev)
    keep = _STATE.get("worker_device")
    _STATE.clear()
    _STATE.update(
        token=token,
        worker_device=keep,
        space=search_spaces.get(space),
        fn=proxies.get(proxy),
        x=x,
        y=y,
        seed=int(seed),
        num_classes=num_classes_of(dataset),
        device=dev,
    )
    if warm is not None:
        try:
            model = _STATE["space"].build(warm, _STATE["num_classes"]).to(dev)
            _STATE["fn"](model, x[:2], y[:2])
        except Exception:  # noqa: BLE001 - a warm-up only; the real call reports any problem
            pass
    return _STATE


def _score_one(state: dict[str, Any], arch: Hashable) -> tuple[float, float, Optional[str]]:
    import torch

    t0 = time.perf_counter()
    torch.manual_seed(state["seed"])
    model = state["space"].build(arch, state["num_classes"]).to(state["device"])
    error = None
    try:
        score = float(state["fn"](model, state["x"], state["y"]))
    except ValueError as e:  # documented per-architecture failure (e.g. non-finite gradients)
        score, error = float("nan"), str(e)
    if not math.isfinite(score):
        score = float("nan")
    if state["device"].type == "cuda":
        torch.cuda.synchronize(state["device"])
    return score, time.perf_counter() - t0, error


def _worker_init(ctx: tuple, devices, warm: Optional[Hashable] = None) -> None:
    import torch

    torch.set_num_threads(1)
    device = devices.get() if devices is not None else None
    _STATE["worker_device"] = device
    _setup(ctx, device, warm)


def _worker_score(ctx: tuple, arch: Hashable) -> tuple[float, float, Optional[str]]:
    return _score_one(_setup(ctx, _STATE.get("worker_device")), arch)


def _ray_score_chunk(ctx: tuple, archs: list) -> list[tuple[float, float, Optional[str]]]:
    import torch

    torch.set_num_threads(1)
    state = _setup(ctx, warm=archs[0] if archs else None)
    return [_score_one(state, a) for a in archs]


# -- the public function ----------------------------------------------------------------------------------
def score_archs(
    space,
    archs: Sequence[Hashable],
    proxy: str = "gradsign",
    dataset: str = "cifar10",
    batch_size: int = 64,
    seed: int = 0,
    directory: Union[str, os.PathLike, None] = None,
    workers: Optional[int] = None,
    device: str = "cpu",
    cache: Union[str, os.PathLike, bool, None] = None,
    progress: bool = True,
    address: Optional[str] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Proxy scores of ``archs``, computed in parallel and cached.

    Args:
        space: a search-space name (``"nb201"``, ...) or a picklable ``SearchSpace`` object.
        archs: architectures of that space (duplicates are scored once).
        proxy: a proxy name from ``gradsign_nas.proxies.available()``.
        dataset: ``"cifar10"`` or ``"cifar100"`` (the batch, and 10 or 100 output classes).
        batch_size: images in the one minibatch every architecture is scored on.
        seed: seeds both the batch choice and ``torch.manual_seed`` before each build.
        directory: the data directory (default ``$GRADSIGN_NAS_DATA``).
        workers: scoring processes (default ``os.cpu_count()``; on CUDA the number of GPUs). With 1,
            scoring runs in this process.
        device: ``"cpu"`` or ``"cuda"``; with several GPUs, workers take them round-robin.
        cache: ``None`` for the default file under ``cache_dir()/scores``, a path for another file,
            ``False`` for no cache.
        progress: show a tqdm progress bar on stderr.
        address: score as Ray tasks on this Ray cluster (``"local"`` starts a local one).

    Returns:
        ``(scores, seconds)``: float arrays aligned with ``archs``; ``seconds`` is the build+score
        time each architecture took when it was computed (also for cached ones). Scores are NaN
        where the proxy gave no finite value.
    """
    from . import proxies, search_spaces

    space_obj = search_spaces.get(space)
    space_ref = space if isinstance(space, str) else space_obj
    proxies.get(proxy)  # unknown proxy: ValueError before any work
    if not isinstance(proxy, str):
        raise InputError(f"expected a proxy name, but got {type(proxy).__name__}")
    num_classes_of(dataset)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InputError(f"expected a positive integer batch size, but got {batch_size!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1):
        raise InputError(f"expected a positive number of workers, but got {workers!r}")
    if str(device).split(":")[0] not in ("cpu", "cuda"):
        raise InputError(f"expected device 'cpu' or 'cuda', but got {device!r}")
    archs = list(archs)
    strings = []
    for a in archs:
        space_obj.check(a)
        strings.append(str(a))

    key = dict(space=space_obj.name, proxy=proxy, dataset=dataset, batch_size=int(batch_size), seed=int(seed))
    if cache is False:
        store = None
    else:
        path = default_cache_path(**key) if cache is None or cache is True else Path(cache)
        store = ScoreCache(path, **key)

    results: dict[str, tuple[float, float]] = {}
    todo: dict[str, Hashable] = {}
    for s, a in zip(strings, archs):
        hit = store.get(s) if store is not None else None
        if hit is not None:
            results[s] = hit
        elif s not in todo:
            todo[s] = a

    if todo:
        ctx = (
            space_ref,
            proxy,
            dataset,
            int(batch_size),
            int(seed),
            None if directory is None else str(directory),
            str(device),
        )
        from .benchmarks import load_batch

        load_batch(dataset, int(batch_size), int(seed), directory)  # data problems: one clear error here
        bar = _progress_bar(len(todo), f"{proxy} on {space_obj.name}/{dataset}", progress)

        def record(s: str, res: tuple[float, float, Optional[str]]) -> None:
            score, secs, error = res
            results[s] = (score, secs)
            if store is not None:
                store.add(s, score, secs, error)
            bar.update(1)

        try:
            if address is not None:
                _run_ray(ctx, todo, record, address, workers)
            else:
                n = workers or _default_workers(device)
                if n == 1 or len(todo) == 1:
                    _run_inline(ctx, todo, record)
                else:
                    _run_pool(ctx, todo, record, min(n, len(todo)), device)
        finally:
            bar.close()

    scores = np.array([results[s][0] for s in strings], dtype=np.float64)
    seconds = np.array([results[s][1] for s in strings], dtype=np.float64)
    return scores, seconds


def _default_workers(device: str) -> int:
    if str(device).startswith("cuda"):
        import torch

        return max(1, torch.cuda.device_count()) if str(device) == "cuda" else 1
    return os.cpu_count() or 1


def _progress_bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="arch", disable=not enabled, file=sys.stderr, dynamic_ncols=True)


def _run_inline(ctx: tuple, todo: dict, record) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic as a pool worker: identical scores
    try:
        state = _setup(ctx, warm=next(iter(todo.values())))
        for s, a in todo.items():
            record(s, _score_one(state, a))
    finally:
        torch.set_num_threads(threads)


def _run_pool(ctx: tuple, todo: dict, record, n: int, device: str) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    mpc = mp.get_context("spawn")
    devices = None
    if str(device) == "cuda":
        import torch

        gpus = max(1, torch.cuda.device_count())
        devices = mpc.Queue()
        for i in range(n):
            devices.put(f"cuda:{i % gpus}")
    pool = ProcessPoolExecutor(
        max_workers=n, mp_context=mpc, initializer=_worker_init, initargs=(ctx, devices, next(iter(todo.values())))
    )
    try:
        pending = {pool.submit(_worker_score, ctx, a): s for s, a in todo.items()}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                s = pending.pop(fut)
                record(s, fut.result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_ray(ctx: tuple, todo: dict, record, address: str, workers: Optional[int]) -> None:
    try:
        import ray
    except ImportError:
        raise InputError("scoring with --address needs Ray, but it is not installed; pip install 'ray[tune]'") from None
    from .execution.ray_env import init_ray

    started = init_ray(workers if address == "local" else None, address)
    try:
        _ray_chunks(ctx, todo, record)
    finally:
        if started:
            ray.shutdown()


def _ray_chunks(ctx: tuple, todo: dict, record) -> None:
    import ray

    n_cpus = int(ray.cluster_resources().get("CPU", 1))
    items = list(todo.items())
    per = max(1, min(16, len(items) // (4 * max(1, n_cpus))))  # a few archs per task: the batch loads once per task
    remote = ray.remote(num_cpus=1)(_ray_score_chunk)
    refs = {}
    for i in range(0, len(items), per):
        chunk = items[i : i + per]
        refs[remote.remote(ctx, [a for _, a in chunk])] = [s for s, _ in chunk]
    while refs:
        done, _ = ray.wait(list(refs), num_returns=1)
        for ref in done:
            for s, res in zip(refs.pop(ref), ray.get(ref)):
                record(s, tuple(res))
