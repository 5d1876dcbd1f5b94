"""Proxy scorers: where an ``Assistant`` gets its scores (``gradsign_nas.assist``).

- ``TableScorer``: a precomputed table (``{arch string: score}`` or an array in a space's index
  order), e.g. the packaged whole-space GradSign table of NAS-Bench-201 (``TableScorer.nb201()``).
- ``OnDemandScorer``: builds each architecture's network and computes the proxy on one real batch.
- ``TrainingBatchScorer``: an ``OnDemandScorer`` on a batch of a live evaluator's training data.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from abc import ABC, abstractmethod
from typing import Any, Hashable, Mapping, Optional, Sequence, Union

import numpy as np

from ..benchmarks.images import NUM_CLASSES
from ..errors import InputError

__all__ = ["NB201_TABLE", "OnDemandScorer", "ProxyScorer", "TableScorer", "TrainingBatchScorer"]

NB201_TABLE = "nb201_gradsign.npz"


def _key(arch: Any) -> str:
    return arch if isinstance(arch, str) else str(arch)


class ProxyScorer(ABC):
    """Scores architectures with a zero-cost proxy (higher predicts better trained accuracy)."""

    @abstractmethod
    def score(self, arch: Hashable) -> float:
        """The proxy score of ``arch``."""

    def cost_s(self, arch: Hashable) -> float:
        """Measured seconds it took to compute ``arch``'s score (0 if it was only looked up)."""
        return 0.0

    def score_many(self, archs: Sequence[Hashable]) -> list[float]:
        """The scores of ``archs`` (a scorer that computes scores does them together: on a GPU, NB201
        GradSign scores many networks in one pass)."""
        return [float(self.score(a)) for a in archs]


class TableScorer(ProxyScorer):
    """Proxy scores looked up in a table keyed by canonical arch string.

    Args:
        scores: ``{arch string: score}``, or an array of scores in ``space``'s index order (then
            ``space`` must be given and have ``from_index``, like NB201's official index).
        seconds: optional seconds each score took to compute, same form as ``scores``.
        space: the search space whose ``all()`` / ``from_index`` order an array follows.
        meta: free-form description of how the table was made (proxy, batch, seed, ...).

    Raises:
        ValueError: on a score that is not a finite number, or arrays of the wrong length.
    """

    def __init__(
        self,
        scores: Union[Mapping[str, float], Sequence[float], np.ndarray],
        seconds: Union[Mapping[str, float], Sequence[float], np.ndarray, None] = None,
        space: Any = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.meta = dict(meta or {})
        self._scores = self._as_dict(scores, space, "scores")
        self._seconds = self._as_dict(seconds, space, "seconds") if seconds is not None else {}
        self._memo: dict[Hashable, tuple[float, float]] = {}  # arch object -> (score, seconds)
        # -inf is a defined score: the baselines give it to a network whose output ignores its input
        bad = [k for k, v in self._scores.items() if not (math.isfinite(v) or v == -math.inf)]
        if bad:
            raise InputError(f"expected finite proxy scores (or -inf), but got {self._scores[bad[0]]!r} for {bad[0]!r}")
        bad = [k for k, v in self._seconds.items() if not (math.isfinite(v) and v >= 0)]
        if bad:
            raise InputError(
                f"expected finite, non-negative scoring seconds, but got {self._seconds[bad[0]]!r} for {bad[0]!r}"
            )

    @staticmethod
    def _as_dict(values, space, what: str) -> dict[str, float]:
        if isinstance(values, Mapping):
            out = {}
            for k, v in values.items():
                if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                    raise InputError(f"expected numeric {what}, but {_key(k)!r} has {v!r}")
                out[_key(k)] = float(v)
            return out
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"expected numeric {what}, but got an array of {np.asarray(values).dtype}") from None
        if arr.ndim != 1:
            raise InputError(f"expected {what} as a mapping or a 1-D array, but got shape {arr.shape}")
        if space is None:
            raise InputError(f"expected a space whose index order the {what} array follows, but got space=None")
        from gradsign_nas.search_spaces import get as get_space

        space = get_space(space)
        archs = space.all() if hasattr(space, "all") else None
        if archs is None:
            raise InputError(
                f"expected a space that lists its architectures in index order (all()), but {space.name} does not"
            )
        if len(archs) != arr.size:
            raise InputError(f"expected {len(archs)} {what} for the {space.name} space, but got {arr.size}")
        return {str(a): float(v) for a, v in zip(archs, arr)}

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike], dataset: str = "cifar10", space: Any = "nb201") -> "TableScorer":
        """Load ``scores_<dataset>`` (and ``seconds_<dataset>`` if present) from an npz table.

        The arrays follow ``space``'s index order (NB201: the official index); ``meta`` is a JSON
        string array describing the table.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise InputError(f"expected a proxy score table at {path}, but the file does not exist")
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise InputError(f"expected an npz archive of arrays at {path}, but it holds a single array")
            with loaded as z:
                files = set(z.files)
                key = f"scores_{dataset}"
                if key not in files:
                    have = sorted(f[len("scores_") :] for f in files if f.startswith("scores_"))
                    raise InputError(
                        f"expected scores for dataset {dataset!r} in {path}, but it has only "
                        f"{', '.join(have) or 'none'}"
                    )
                scores = z[key]
                seconds = z[f"seconds_{dataset}"] if f"seconds_{dataset}" in files else None
                meta = {}
                if "meta" in files:
                    try:
                        meta = json.loads(str(z["meta"]))
                    except (ValueError, TypeError):
                        meta = {"meta": str(z["meta"])}
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(
                f"expected a readable npz proxy score table at {path}, but it is not one ({type(exc).__name__})"
            ) from None
        if not isinstance(meta, dict):
            meta = {"meta": meta}
        meta.setdefault("path", path)
        meta.setdefault("dataset", dataset)
        try:
            return cls(scores, seconds, space=space, meta=meta)
        except InputError as e:
            raise InputError(f"{e} (in {path})") from None

    @classmethod
    def nb201(cls, dataset: str = "cifar10", proxy: str = "gradsign") -> "TableScorer":
        """A packaged whole-space table of all 15,625 NAS-Bench-201 architectures: ``proxy`` is a
        proxy name (GradSign, the 11 baselines and zen, each on the CIFAR-10 and the CIFAR-100 batch)
        or an ensemble ``"a+b+..."`` of them, ranked by rank aggregation (see ``ensemble``)."""
        names = [n.strip() for n in str(proxy).split("+") if n.strip()]
        if len(names) > 1:
            return cls.ensemble([cls.nb201(dataset, n) for n in names], names)
        from importlib import resources

        name = NB201_TABLE.replace("gradsign", names[0] if names else str(proxy))
        ref = resources.files("gradsign_nas").joinpath("tables").joinpath(name)
        if not ref.is_file():
            have = sorted(
                p.name[len("nb201_") : -len(".npz")]
                for p in resources.files("gradsign_nas").joinpath("tables").iterdir()
                if p.name.startswith("nb201_")
            )
            raise InputError(
                f"expected a packaged whole-space table gradsign_nas/tables/{name} for proxy {proxy!r}, "
                f"but there is none; tables exist for {', '.join(have)} (`gradsign-nas score-space "
                f"--proxies` makes others) or use on-demand scores"
            )
        with resources.as_file(ref) as path:
            return cls.from_file(path, dataset, space="nb201")

    @classmethod
    def ensemble(cls, tables: Sequence["TableScorer"], names: Optional[Sequence[str]] = None) -> "TableScorer":
        """Rank aggregation of several tables over the same architectures: each architecture's score
        is the sum over tables of its rank within that table (1 = lowest; ties get their mean rank),
        as zero-cost ensembles vote by ranks. The seconds add up (every proxy had to be computed)."""
        if len(tables) < 2:
            raise InputError(f"expected at least two tables to ensemble, but got {len(tables)}")
        from scipy.stats import rankdata

        keys = list(tables[0]._scores)
        for t in tables[1:]:
            if set(t._scores) != set(keys):
                raise InputError("expected tables over the same architectures to ensemble, but they differ")
        total = np.zeros(len(keys))
        seconds = np.zeros(len(keys))
        for t in tables:
            total += rankdata([t._scores[k] for k in keys])
            seconds += np.asarray([t._seconds.get(k, 0.0) for k in keys])
        label = "+".join(names) if names else "ensemble"
        return cls(
            dict(zip(keys, total.tolist())),
            dict(zip(keys, seconds.tolist())),
            meta={"proxy": label, "ensemble": "sum of ranks"},
        )

    def __len__(self) -> int:
        return len(self._scores)

    def __contains__(self, arch: Any) -> bool:
        return _key(arch) in self._scores

    def _lookup(self, arch: Hashable) -> tuple[float, float]:
        hit = self._memo.get(arch)  # architecture objects hash fast; their strings cost microseconds
        if hit is None:
            key = _key(arch)
            if key not in self._scores:
                raise InputError(f"expected an architecture in the score table, but got {key!r}")
            hit = self._memo[arch] = (self._scores[key], self._seconds.get(key, 0.0))
        return hit

    def score(self, arch: Hashable) -> float:
        return self._lookup(arch)[0]

    def cost_s(self, arch: Hashable) -> float:
        return self._lookup(arch)[1]


class OnDemandScorer(ProxyScorer):
    """Computes a proxy on one real batch when asked, through the scoring engine
    (``gradsign_nas.scoring.ScoringEngine``, in this process), caching scores by canonical arch string.

    Args:
        space: the search space (name or object) whose ``build`` makes the network.
        proxy: a name in ``gradsign_nas.proxies`` (default ``"gradsign"``).
        dataset: the image dataset of the batch (``load_batch``), e.g. ``"cifar10"``.
        batch_size: images in the batch.
        seed: seeds the batch choice and ``torch.manual_seed`` before each build.
        directory: the data directory (``None``: the default one).
        num_classes: classes of the built network (default: from the dataset).
        device: torch device to score on (default CPU).
    """

    def __init__(
        self,
        space: Any = "nb201",
        proxy: str = "gradsign",
        dataset: str = "cifar10",
        batch_size: int = 64,
        seed: int = 0,
        directory: Union[str, os.PathLike, None] = None,
        num_classes: Optional[int] = None,
        device: Any = None,
    ) -> None:
        from gradsign_nas import proxies
        from gradsign_nas.search_spaces import get as get_space

        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InputError(f"expected a positive batch size, but got {batch_size!r}")
        self.space = get_space(space)
        self.proxy_name = proxy
        self.proxy = proxies.get(proxy)
        self.dataset, self.batch_size, self.seed = dataset, int(batch_size), int(seed)
        self.directory, self.device = directory, device
        self.num_classes = num_classes if num_classes is not None else NUM_CLASSES.get(dataset)
        if self.num_classes is None:
            raise InputError(f"expected num_classes for dataset {dataset!r}, but got None")
        self._engine: Any = None  # made on first use (the batch loads then)

    def _get_batch(self):
        from gradsign_nas.benchmarks import load_batch

        return load_batch(self.dataset, self.batch_size, self.seed, self.directory, device=self.device)

    def _builder(self):
        """A ``build(arch)`` of the caller's own, or ``None`` for the space's seeded build."""
        return None

    def _init_seed(self):
        """With a build of the caller's own that is the space's build seeded per network, the
        ``init_seed(arch)`` it seeds with (``ScoringEngine``'s ``init_seed``), else ``None``."""
        return None

    @property
    def engine(self):
        if self._engine is None:
            from gradsign_nas.scoring import ScoringEngine

            self._engine = ScoringEngine(
                self.space,
                self.proxy_name,
                self.dataset,
                self.batch_size,
                self.seed,
                device=str(self.device) if self.device is not None else "cpu",
                progress=False,
                batch=self._get_batch(),
                num_classes=self.num_classes,
                build=self._builder(),
                threads=None,
                init_seed=self._init_seed(),
            )
        return self._engine

    def _archs(self, archs: Sequence[Hashable]) -> list:
        return [self.space.parse(a) if isinstance(a, str) else a for a in archs]

    def score(self, arch: Hashable) -> float:
        return float(self.engine.score(self._archs([arch]))[0][0])

    def score_many(self, archs: Sequence[Hashable]) -> list[float]:
        return [float(v) for v in self.engine.score(self._archs(archs))[0]]

    def cost_s(self, arch: Hashable) -> float:
        return float(self.engine.score(self._archs([arch]))[1][0])


class TrainingBatchScorer(OnDemandScorer):
    """Scores an architecture with a proxy on one seeded, class-balanced batch of a live evaluator's
    own training split, on the evaluator's network (``evaluator.build``), caching by arch string.

    Args:
        evaluator: a ``LiveTrainingEvaluator`` (its data, classes and initialisation are used).
        proxy: a name in ``gradsign_nas.proxies`` (default ``"gradsign"``).
        batch_size: images in the batch (default 64).
        seed: seeds the batch choice.
    """

    def __init__(self, evaluator, proxy: str = "gradsign", batch_size: int = 64, seed: int = 0) -> None:
        super().__init__(
            evaluator.space,
            proxy,
            evaluator.dataset,
            batch_size=batch_size,
            seed=seed,
            num_classes=evaluator.num_classes,
        )
        self.evaluator = evaluator
        self.device = evaluator.device  # scored where the trials train (the GPU on a GPU machine)

    def _get_batch(self):
        from gradsign_nas.benchmarks.images import select_balanced

        d = self.evaluator.data
        y = d.y_train.numpy()
        idx = select_balanced(y, min(self.batch_size, len(y)), np.random.default_rng(self.seed))
        return d.x_train[idx], d.y_train[idx]

    def _builder(self):
        return self.evaluator.build

    def _init_seed(self):
        from gradsign_nas.benchmarks.live import LiveTrainingEvaluator

        ev = self.evaluator
        plain = type(ev).build is LiveTrainingEvaluator.build and not ev.build_options
        return ev.init_seed if plain else None


class EnsembleScorer(ProxyScorer):
    """Several proxies computed on demand, voting by ranks: a candidate's score is the sum over proxies
    of its rank among the candidates scored in the same call (1 = the lowest; ties get their mean rank;
    a NaN score ranks lowest), as ``TableScorer.ensemble`` does over a whole-space table. Ranks of
    different calls are not comparable, so it scores candidates together (``score_many``: best of K,
    warm-up), never one at a time (the adaptive rule compares scores across calls and refuses it).

    Example:
        >>> a = TableScorer({"x": 1.0, "y": 2.0, "z": 3.0})
        >>> b = TableScorer({"x": 3.0, "y": 2.0, "z": 1.5})
        >>> EnsembleScorer([a, b], ["a", "b"]).score_many(["x", "y", "z"])
        [4.0, 4.0, 4.0]
    """

    def __init__(self, scorers: Sequence[ProxyScorer], names: Sequence[str]) -> None:
        if len(scorers) < 2:
            raise InputError(f"expected at least two proxies to ensemble, but got {len(scorers)}")
        self.scorers = list(scorers)
        self.names = list(names)

    def score(self, arch: Hashable) -> float:
        raise InputError(
            f"an ensemble computed on demand ({'+'.join(self.names)}) ranks candidates scored together; "
            "it cannot score one architecture alone (the adaptive rule needs that)"
        )

    def score_many(self, archs: Sequence[Hashable]) -> list[float]:
        from scipy.stats import rankdata

        total = np.zeros(len(archs))
        for s in self.scorers:
            v = np.asarray(s.score_many(list(archs)), dtype=float)
            total += rankdata(np.where(np.isnan(v), -np.inf, v))
        return total.tolist()

    def cost_s(self, arch: Hashable) -> float:
        return float(sum(s.cost_s(arch) for s in self.scorers))
