"""The scoring engine: one cache, one progress bar, one way to fan out (``ScoringEngine``), and
``score_archs``, its one-call form."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Hashable, Optional, Sequence, Union

import numpy as np

from gradsign_nas.errors import InputError

from . import _kernels
from ._backends import score_map
from ._cache import ScoreCache, default_cache_path
from ._context import ScoringContext, num_classes_of
from ._devices import local_devices

__all__ = ["ScoringEngine", "score_archs"]


class ScoringEngine:
    """The one place architectures get scored: correlate, score-space, the assistant's on-demand
    scores and live searches all come here.

    One cache (in memory, and a JSONL file unless ``cache=False``), one progress bar, one way to fan
    out: in this process (``workers=1``), local processes (CPU cores, or every GPU of the host with
    ``device="cuda"``, or the explicit ``devices`` list, one process each), or Ray tasks on a cluster
    (``address``; with ``device="cuda"`` each task takes a GPU). On a GPU, NB201 GradSign runs many
    networks per pass (``gradsign_nb201``, a batched kernel of the ``register_batched`` registry);
    other spaces and proxies build and score one network at a time.

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
        from gradsign_nas import proxies, search_spaces

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
        self._state: Optional[dict] = None  # set for a batch of the caller's own
        if batch is not None:
            if num_classes is None:
                raise InputError("expected num_classes with a batch or build of your own, but got None")
            self._state = _kernels.scorer_state(
                self.space, proxy, batch, self.seed, num_classes, device, build, init_seed, self.compile
            )
        else:
            key = dict(space=self.space.name, proxy=proxy, dataset=dataset, batch_size=self.batch_size, seed=self.seed)
            if cache is not False:
                path = default_cache_path(**key) if cache is None or cache is True else Path(cache)
                self._store = ScoreCache(path, **key)

    def _ctx(self) -> ScoringContext:
        d = None if self.directory is None else str(self.directory)
        return ScoringContext(
            self._space_ref, self.proxy, self.dataset, self.batch_size, self.seed, d, self.compile, self.device
        )

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
                score_map(todo, record, state=self._state, threads=self.threads)
            else:
                from gradsign_nas.benchmarks import load_batch

                load_batch(self.dataset, self.batch_size, self.seed, self.directory)  # data problems: one error here
                score_map(
                    todo,
                    record,
                    ctx=self._ctx(),
                    devices=self._local_devices() if self.address is None else (self.device,),
                    address=self.address,
                    workers=self.workers,
                    threads=self.threads,
                )
        finally:
            bar.close()

    def _local_devices(self) -> list[str]:
        return local_devices(self.device, self.workers, self.devices)


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
