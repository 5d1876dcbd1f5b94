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
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Hashable, Optional, Sequence, Union

import numpy as np

from gradsign_nas.errors import InputError

from .benchmarks._files import cache_dir

__all__ = [
    "STACK",
    "ScoreCache",
    "ScoringEngine",
    "default_cache_path",
    "local_devices",
    "pinned_pool",
    "num_classes_of",
    "score_archs",
]

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

#: networks per stacked pass (``gradsign_nb201``) on each kind of device: on a GPU many networks
#: share every kernel launch; on the CPU one at a time is fastest (measured, benchmarks/stacked_speed.py)
STACK = {"cuda": 64, "cpu": 1}


def stacked_applies(space_obj, proxy: str, build=None, init_seed=None) -> bool:
    """Whether the stacked NB201 GradSign kernel scores these networks: the built-in ``gradsign`` on
    the NB201 space's own seeded build, or on a build of the caller's own that is that build with a
    seed per network (``init_seed``, e.g. a live evaluator's); any other build takes the general path."""
    from . import proxies
    from .search_spaces.nb201 import NB201Space

    return (
        (build is None or init_seed is not None)
        and proxy == "gradsign"
        and proxies.get("gradsign") is proxies.gradsign
        and type(space_obj) is NB201Space
    )


@contextmanager
def _exact_float32():
    """TF32 off for cuDNN and matrix products while scoring (PyTorch turns it on for cuDNN by default;
    TF32 moved ranks in our measurement, see the README), restored afterwards."""
    import torch

    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _scorer_state(
    space_obj,
    proxy: str,
    batch: tuple,
    seed: int,
    num_classes: int,
    device,
    build=None,
    init_seed=None,
    compile: bool = False,
) -> dict:
    """What scoring one architecture needs: the space, the proxy, the batch (on the device), the seed
    (or ``init_seed(arch)``) and classes of a build, the device, a build of the caller's own (or
    ``None``), the stack size of the stacked kernel (0 where it does not apply), and whether whole
    cosets (``coset_blocks``) take its compiled pass."""
    import torch

    from . import proxies

    dev = torch.device(device)
    stacked = stacked_applies(space_obj, proxy, build, init_seed)
    return {
        "space": space_obj,
        "fn": proxies.get(proxy),
        "x": batch[0].to(dev),
        "y": batch[1].to(dev),
        "seed": int(seed),
        "init_seed": init_seed,
        "num_classes": num_classes,
        "device": dev,
        "build": build,
        "stack": STACK.get(dev.type, 1) if stacked else 0,
        "compile": bool(compile) and stacked,
    }


def _setup(ctx: tuple, device: Optional[str] = None, warm: Optional[Hashable] = None) -> dict[str, Any]:
    """Per-process state (space, proxy, the batch on its device), built once per setting.

    With ``warm``, the proxy runs once on that architecture and two images, so one-off start-up costs
    (torch.func's first call takes ~1.5 s) are not charged to the first architecture's seconds.
    """
    space_key = ctx[0] if isinstance(ctx[0], str) else ("object", ctx[0].name, repr(sorted(ctx[0].options().items())))
    token = (space_key, *ctx[1:], device)  # a space object by its settings: NB201 C=4 is not C=16
    if _STATE.get("token") == token:
        return _STATE
    import torch

    from . import search_spaces
    from .benchmarks import load_batch

    space, proxy, dataset, batch_size, seed, directory, compile, default_device = ctx
    dev = torch.device(device or default_device)
    x, y = load_batch(dataset, batch_size, seed, directory, device=dev)
    keep = {k: _STATE[k] for k in ("worker_device", "worker_label") if k in _STATE}  # the process's own
    _STATE.clear()
    _STATE.update(
        _scorer_state(
            search_spaces.get(space), proxy, (x, y), int(seed), num_classes_of(dataset), dev, compile=compile
        ),
        token=token,
        **keep,
    )
    if warm is not None:
        try:
            with _exact_float32():
                if _STATE["stack"]:
                    _score_stacked(_STATE, [warm])
                else:
                    _score_one(_STATE, warm)
        except Exception:  # noqa: BLE001 - a warm-up only; the real call reports any problem
            pass
    return _STATE


def _build(state: dict[str, Any], arch: Hashable):
    import torch

    if state["build"] is not None:
        model = state["build"](arch)
    else:
        torch.manual_seed(state["seed"])
        model = state["space"].build(arch, state["num_classes"])
    return model.to(state["device"])


def _score_one(state: dict[str, Any], arch: Hashable) -> tuple[float, float, Optional[str]]:
    """Build and score one network (the general path, for any space and proxy)."""
    import torch

    t0 = time.perf_counter()
    model = _build(state, arch)
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


def _score_chunk(
    state: dict[str, Any], archs: Sequence[Hashable], on_pass: Optional[Callable] = None
) -> list[tuple[float, float, Optional[str]]]:
    """Scores of ``archs`` as ``(score, seconds, error)``: stacked passes of ``state["stack"]`` networks
    where the kernel applies (the next group's weights drawn by a thread while the device works; each
    architecture is charged its group's time over the group's size), else one network at a time.
    ``on_pass(archs, results)`` hears each stacked pass's (or network's) results as they come."""
    with _exact_float32():
        if state["stack"]:
            return _score_stacked(state, archs, on_pass)
        out = []
        for a in archs:
            out.append(_score_one(state, a))
            if on_pass is not None:
                on_pass([a], out[-1:])
        return out


def _score_stacked(
    state: dict[str, Any], archs: Sequence[Hashable], on_pass: Optional[Callable] = None
) -> list[tuple[float, float, Optional[str]]]:
    from concurrent.futures import ThreadPoolExecutor

    from .proxies._gradsign_nb201 import coset_blocks, draw_weights, finish, gradsign_nb201

    space, g = state["space"], state["stack"]
    passes: list[tuple[list[Any], str]] = []  # (networks, impl) per stacked pass
    rest: Sequence[Hashable] = archs
    if state["compile"]:  # whole cosets: the compiled pass, whose shapes they all share
        whole, rest = coset_blocks(archs)
        passes += [(b, "compiled") for b in whole]
    passes += [(list(rest[i : i + g]), "auto") for i in range(0, len(rest), g)]
    init_seed = state["init_seed"]

    def draw(group: list) -> Any:
        if init_seed is None:  # the space's own build: one seed, the space's input channels
            seed, channels = state["seed"], space.in_channels
        else:  # the caller's build: a seed per network, the batch's channels
            seed, channels = [int(init_seed(a)) for a in group], int(state["x"].shape[1])
        gpu = state["device"] if state["device"].type == "cuda" else None  # made there, from the streams
        ops = [a.ops for a in group]
        return draw_weights(ops, seed, space.C, space.N, channels, state["num_classes"], gpu)

    found: dict[int, tuple[float, float, Optional[str]]] = {}
    # the next pass's weights are drawn by a thread while the device works (on a GPU: the generators'
    # streams and the plan, the weights themselves are made there); a pass's scores are read after the
    # next pass is queued, so the GPU does not wait for the CPU between passes
    last = time.perf_counter()
    queued: Optional[tuple[list[Any], Any]] = None

    def settle() -> None:  # read the queued pass's scores; charge each network its share of the wait
        nonlocal last
        assert queued is not None
        group, pending = queued
        scores = finish(pending)
        now = time.perf_counter()
        for a, s in zip(group, scores):
            found[id(a)] = (s, (now - last) / len(group), None if math.isfinite(s) else "non-finite gradients")
        last = now
        if on_pass is not None:
            on_pass(group, [found[id(a)] for a in group])

    with ThreadPoolExecutor(1) as pool:
        ahead = pool.submit(draw, passes[0][0]) if passes else None
        for i, (group, impl) in enumerate(passes):
            assert ahead is not None  # one draw is always in flight for the pass at hand
            weights = ahead.result()
            ahead = pool.submit(draw, passes[i + 1][0]) if i + 1 < len(passes) else None
            pending = gradsign_nb201(
                [a.ops for a in group],
                state["x"],
                state["y"],
                seed=state["seed"],
                C=space.C,
                N=space.N,
                num_classes=state["num_classes"],
                device=state["device"],
                weights=weights,
                impl=impl,
            )
            if queued is not None:
                settle()
            queued = (group, pending)
        if queued is not None:
            settle()
    return [found[id(a)] for a in archs]


def gpu_alone(device: str, visible: Optional[str]) -> str:
    """``CUDA_VISIBLE_DEVICES`` for a process that is to see only ``device`` ("cuda:i", numbered as
    this process sees the GPUs under ``visible``, the current setting or ``None``)."""
    index = int(device.split(":")[1])
    ids = [v.strip() for v in visible.split(",")] if visible else [str(i) for i in range(index + 1)]
    if not 0 <= index < len(ids):
        raise InputError(f"expected a GPU among the {len(ids)} visible ({visible}), but got {device}")
    return ids[index]


def _worker_init(device: str, ctx: tuple, warm: Optional[Hashable] = None) -> None:
    import torch

    torch.set_num_threads(1)
    _STATE["worker_label"] = device
    if device.startswith("cuda:"):  # the process sees its GPU alone, as cuda:0: the same compiled
        # graphs (and compile cache entries) on every GPU
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu_alone(device, os.environ.get("CUDA_VISIBLE_DEVICES"))
        device = "cuda:0"
    _STATE["worker_device"] = device
    _setup(ctx, device, warm)


def _worker_score(ctx: tuple, archs: list) -> tuple[str, list[tuple[float, float, Optional[str]]]]:
    state = _setup(ctx, _STATE.get("worker_device"))
    return _STATE.get("worker_label") or str(state["device"]), _score_chunk(state, archs)


def _ray_score_chunk(ctx: tuple, archs: list) -> tuple[str, list[tuple[float, float, Optional[str]]]]:
    import torch

    torch.set_num_threads(1)
    state = _setup(ctx, warm=archs[0] if archs else None)
    return str(state["device"]), _score_chunk(state, archs)


# -- the engine ---------------------------------------------------------------------------------------
class ScoringEngine:
    """The one place architectures get scored: correlate, score-space, the assistant's on-demand
    scores and live searches all come here.

    One cache (in memory, and a JSONL file unless ``cache=False``), one progress bar, one way to fan
    out: in this process (``workers=1``), local processes (CPU cores, or every GPU of the host with
    ``device="cuda"``, or the explicit ``devices`` list, one process each), or Ray tasks on a cluster
    (``address``; with ``device="cuda"`` each task takes a GPU). On a GPU, NB201 GradSign runs many
    networks per pass (``gradsign_nb201``); other spaces and proxies build and score one network at a
    time.

    Args:
        space: a search-space name or a picklable ``SearchSpace`` object.
        proxy: a proxy name from ``gradsign_nas.proxies.available()``.
        dataset: ``"cifar10"`` or ``"cifar100"`` (the batch, and 10 or 100 output classes).
        batch_size, seed: the one minibatch (``load_batch``), and ``torch.manual_seed(seed)`` before
            each build.
        directory: the data directory (default ``$GRADSIGN_NAS_DATA``).
        device: ``"cpu"``, ``"cuda"`` (every visible GPU) or ``"cuda:N"``.
        workers: scoring processes (default: CPU cores, or one per GPU); 1 scores in this process.
        devices: one worker process per entry (e.g. ``["cuda:0", "cuda:1", "cpu"]``); overrides
            ``device`` and ``workers`` for local processes.
        cache: ``None`` for the default file under ``cache_dir()/scores``, a path, or ``False``.
        progress: a tqdm bar on stderr while scoring.
        address: score as Ray tasks on this Ray cluster (``"local"`` starts a local one).
        batch, num_classes, build: a batch ``(x, y)`` and a ``build(arch) -> nn.Module`` of the
            caller's own (a live evaluator's training batch and network); then scoring is in-process
            and the cache in memory only.
        init_seed: with ``build``, says that ``build(arch)`` is ``torch.manual_seed(init_seed(arch));
            space.build(arch, num_classes, in_channels=<the batch's channels>)``, so NB201 GradSign can
            draw the same weights for its stacked kernel (a live evaluator's ``init_seed``).
        threads: torch threads while scoring in this process (default 1, the arithmetic of a pool
            worker, so scores do not depend on where they were computed; ``None`` leaves torch's).
        compile: NB201 GradSign scores whole cosets of the space (``coset_blocks``: 125 blocks of 125
            architectures with the same shapes) with the stacked pass compiled by ``torch.compile``;
            the first block per process compiles (minutes; cached by PyTorch across runs), so it pays
            on thousands of architectures, not on a few. Other architectures take the usual pass.
    """

    def __init__(
        self,
        space,
        proxy: str = "gradsign",
        dataset: str = "cifar10",
        batch_size: int = 64,
        seed: int = 0,
        directory: Union[str, os.PathLike, None] = None,
        device: str = "cpu",
        workers: Optional[int] = None,
        devices: Optional[Sequence[str]] = None,
        cache: Union[str, os.PathLike, bool, None] = None,
        progress: bool = True,
        address: Optional[str] = None,
        batch: Optional[tuple] = None,
        num_classes: Optional[int] = None,
        build=None,
        threads: Optional[int] = 1,
        init_seed=None,
        compile: bool = False,
    ) -> None:
        from . import proxies, search_spaces

        self.space = search_spaces.get(space)
        self._space_ref = space if isinstance(space, str) else self.space
        if not isinstance(proxy, str):
            raise InputError(f"expected a proxy name, but got {type(proxy).__name__}")
        proxies.get(proxy)  # unknown proxy: one sentence before any work
        if build is not None and batch is None:
            raise InputError("expected a batch (x, y) with a build of your own, but got build without batch")
        if init_seed is not None and build is None:
            raise InputError("expected init_seed with a build of your own, but got init_seed without build")
        custom = batch is not None
        if not custom:
            num_classes_of(dataset)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InputError(f"expected a positive integer batch size, but got {batch_size!r}")
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1
        ):
            raise InputError(f"expected a positive number of workers, but got {workers!r}")
        for d in [device, *(devices or [])]:
            if str(d).split(":")[0] not in ("cpu", "cuda"):
                raise InputError(f"expected device 'cpu' or 'cuda', but got {d!r}")
        if devices is not None and len(devices) == 0:
            raise InputError("expected at least one device in devices, but got none")
        if custom and (workers not in (None, 1) or devices or address):
            raise InputError(
                "a batch or build of your own is scored in this process, but got workers, devices or address"
            )
        self.proxy, self.dataset, self.batch_size, self.seed = proxy, dataset, int(batch_size), int(seed)
        self.directory, self.device, self.workers, self.devices = directory, str(device), workers, devices
        self.progress, self.address, self.threads, self.compile = progress, address, threads, bool(compile)
        self.by_worker: dict[str, int] = {}
        self._memory: dict[str, tuple[float, float]] = {}
        self._store: Optional[ScoreCache] = None
        self._state: Optional[dict[str, Any]] = None  # set for a batch of the caller's own
        if batch is not None:
            if num_classes is None:
                raise InputError("expected num_classes with a batch or build of your own, but got None")
            self._state = _scorer_state(
                self.space, proxy, batch, self.seed, num_classes, device, build, init_seed, self.compile
            )
        else:
            key = dict(space=self.space.name, proxy=proxy, dataset=dataset, batch_size=self.batch_size, seed=self.seed)
            if cache is not False:
                path = default_cache_path(**key) if cache is None or cache is True else Path(cache)
                self._store = ScoreCache(path, **key)

    def _ctx(self) -> tuple:
        d = None if self.directory is None else str(self.directory)
        return (self._space_ref, self.proxy, self.dataset, self.batch_size, self.seed, d, self.compile, self.device)

    def _hit(self, s: str) -> Optional[tuple[float, float]]:
        hit = self._memory.get(s)
        if hit is None and self._store is not None:
            hit = self._store.get(s)
        return hit

    def score(self, archs: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, seconds)`` aligned with ``archs`` (duplicates and cached ones scored once).

        ``seconds`` is the build+score time each architecture took when it was computed; on a stacked
        pass, the pass's time over its networks. Scores are NaN where the proxy gave no finite value.
        """
        archs = list(archs)
        strings = []
        for a in archs:
            self.space.check(a)
            strings.append(str(a))
        todo: dict[str, Hashable] = {}
        for s, a in zip(strings, archs):
            if self._hit(s) is None and s not in todo:
                todo[s] = a
        if todo:
            self._compute(todo)
        found = [self._hit(s) for s in strings]
        scores = np.array([f[0] for f in found], dtype=np.float64)  # type: ignore[index]
        seconds = np.array([f[1] for f in found], dtype=np.float64)  # type: ignore[index]
        return scores, seconds

    def _compute(self, todo: dict[str, Hashable]) -> None:
        bar = _progress_bar(len(todo), f"{self.proxy} on {self.space.name}/{self.dataset}", self.progress)

        def record(who: str, pairs: list[tuple[str, tuple]]) -> None:
            for s, (score, secs, error) in pairs:
                self._memory[s] = (float(score), float(secs))
                if self._store is not None:
                    self._store.add(s, score, secs, error)
            self.by_worker[who] = self.by_worker.get(who, 0) + len(pairs)
            bar.update(len(pairs))

        try:
            if self._state is not None:
                self._run_inline(self._state, todo, record)
            else:
                from .benchmarks import load_batch

                load_batch(self.dataset, self.batch_size, self.seed, self.directory)  # data problems: one error here
                ctx = self._ctx()
                if self.address is not None:
                    _run_ray(ctx, todo, record, self.address, self.workers, self.device)
                else:
                    devices = self._local_devices()
                    if len(devices) == 1 or len(todo) == 1:
                        self._run_inline(_setup(ctx, devices[0], warm=next(iter(todo.values()))), todo, record)
                    else:
                        _run_pool(ctx, todo, record, devices[: max(1, len(todo))])
        finally:
            bar.close()

    def _local_devices(self) -> list[str]:
        return local_devices(self.device, self.workers, self.devices)

    def _run_inline(self, state: dict[str, Any], todo: dict[str, Hashable], record) -> None:
        import torch

        saved = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            items = list(todo.items())  # the stacked passes group whole cosets themselves
            name = {id(a): s for s, a in items}
            # one call, so the next stacked pass is always drawn and queued; results recorded per pass
            _score_chunk(
                state,
                [a for _, a in items],
                lambda group, res: record(str(state["device"]), [(name[id(a)], r) for a, r in zip(group, res)]),
            )
        finally:
            torch.set_num_threads(saved)


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
    """Proxy scores of ``archs``, computed in parallel and cached: ``ScoringEngine(...).score(archs)``.

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
    engine = ScoringEngine(
        space,
        proxy,
        dataset,
        batch_size,
        seed,
        directory,
        device=device,
        workers=workers,
        cache=cache,
        progress=progress,
        address=address,
    )
    return engine.score(archs)


def _progress_bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="arch", disable=not enabled, file=sys.stderr, dynamic_ncols=True)


def _chunks(ctx: tuple, todo: dict, devices: Sequence[str], n_workers: int) -> list[list[tuple[str, Hashable]]]:
    """Work items: a few stacked passes on a GPU, a few networks on a CPU, and enough items that every
    worker stays busy to the end."""
    from . import search_spaces

    stacked = stacked_applies(search_spaces.get(ctx[0]), ctx[1])
    items = list(todo.items())
    if stacked and ctx[6]:  # compile: chunks of whole cosets (any others at the end)
        items = _by_coset(items)
        return [items[i : i + COSET_CHUNK] for i in range(0, len(items), COSET_CHUNK)]
    gpu = any(str(d).startswith("cuda") for d in devices)
    size = (STACK["cuda"] * 4 if stacked else 8) if gpu else 4
    size = max(1, min(size, len(todo) // (2 * max(1, n_workers)) or 1))
    return [items[i : i + size] for i in range(0, len(items), size)]


#: architectures per work item when whole cosets are compiled: 8 blocks of 125
COSET_CHUNK = 1000


def _by_coset(items: list) -> list:
    """``(string, arch)`` items with the whole cosets first, each coset's together (``coset_blocks``)."""
    from .proxies._gradsign_nb201 import coset_blocks

    whole, rest = coset_blocks(items, ops=lambda item: item[1].ops)
    return [item for block in whole for item in block] + rest


def _run_pool(ctx: tuple, todo: dict, record, devices: Sequence[str]) -> None:
    """Score on every device of ``devices``: this process takes the first itself (it starts at once,
    while the spawned workers for the others import torch and set up) and hands chunks to the workers
    from the same list as it goes, keeping two in flight per worker."""
    from concurrent.futures import FIRST_COMPLETED, wait

    import torch

    warm = next(iter(todo.values()))
    pool = pinned_pool(devices[1:], _worker_init, ctx, warm)
    chunks = iter(_chunks(ctx, todo, devices, len(devices)))
    pending: dict = {}

    def top_up() -> None:
        while len(pending) < 2 * (len(devices) - 1):
            chunk = next(chunks, None)
            if chunk is None:
                return
            pending[pool.submit(_worker_score, ctx, [a for _, a in chunk])] = [s for s, _ in chunk]

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
        state = _setup(ctx, devices[0], warm=warm)
        while True:
            harvest(block=False)
            top_up()
            chunk = next(chunks, None)
            if chunk is None:
                break
            res = _score_chunk(state, [a for _, a in chunk])
            record(str(state["device"]), list(zip([s for s, _ in chunk], res)))
        while pending:
            harvest(block=True)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        torch.set_num_threads(threads)
    pool.shutdown(wait=True)


def _run_ray(ctx: tuple, todo: dict, record, address: str, workers: Optional[int], device: str) -> None:
    try:
        import ray
    except ImportError:
        raise InputError("scoring with --address needs Ray, but it is not installed; pip install 'ray[tune]'") from None
    from .execution.ray_env import init_ray

    started = init_ray(workers if address == "local" else None, address)
    try:
        gpu = str(device).startswith("cuda")
        n = int(ray.cluster_resources().get("GPU" if gpu else "CPU", 1))
        # each task on a GPU sees only the GPU Ray gave it, as cuda:0
        remote = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0)(_ray_score_chunk)
        ctx = (*ctx[:-1], "cuda:0" if gpu else ctx[-1])
        refs = {}
        for chunk in _chunks(ctx, todo, [device], max(1, n)):
            refs[remote.remote(ctx, [a for _, a in chunk])] = [s for s, _ in chunk]
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                who, res = ray.get(ref)
                record(f"ray:{who}", list(zip(refs.pop(ref), [tuple(r) for r in res])))
    finally:
        if started:
            ray.shutdown()
