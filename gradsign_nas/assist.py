"""GradSign assistance: turn K candidates from an algorithm's own proposal distribution into one.

The rule (GradSign paper, Zhang & Jia 2022): where a search algorithm would propose one architecture,
draw K candidates from the same proposal distribution, score each with a zero-cost proxy, and
evaluate the one with the highest score. The algorithms in ``gradsign_nas.algorithms`` apply it when
given ``assistant=Assistant(scorer, k)``; what "their own proposal distribution" is, per algorithm,
is written in each algorithm's module docstring.

How an algorithm is assisted is one ``AssistancePolicy`` that the ``Assistant`` carries and the
algorithm reads: K and the rule (best of K, or ours: adaptive K) and the zero-cost warm-up (M scored
samples before the first evaluation). ``build_assistance(variant, algorithm, scorer, k)`` builds the
assistant of a variant ("vanilla", "assisted" or a strategy of ``gradsign_nas.strategies``); every
executor and command builds it there.

Scores come from a ``ProxyScorer``:

- ``TableScorer``: a precomputed table (``{arch string: score}`` or an array in a space's index
  order), e.g. the packaged whole-space GradSign table of NAS-Bench-201 (``TableScorer.nb201()``).
  Looking a score up costs nothing, but the table may record the seconds it took to compute each
  score (``cost_s``) so that a search can be charged for it.
- ``OnDemandScorer``: builds each architecture's network and computes the proxy on one real batch,
  caching scores by canonical arch string and recording the measured seconds.

Example:
    >>> from gradsign_nas.assist import Assistant, TableScorer
    >>> scorer = TableScorer({"a": 1.0, "b": 3.0, "c": 2.0})
    >>> Assistant(scorer, k=3).pick(["a", "b", "c"])
    ('b', 3.0)
"""

from __future__ import annotations

import bisect
import json
import math
import os
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields, replace
from typing import Any, Hashable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from .benchmarks.images import NUM_CLASSES
from .errors import InputError

__all__ = [
    "RULES",
    "AssistancePolicy",
    "Assistant",
    "OnDemandScorer",
    "ProxyScorer",
    "TableScorer",
    "TrainingBatchScorer",
    "build_assistance",
]

#: the rules an assistant picks by: best of K (the GradSign paper's) or adaptive K (ours)
RULES = ("best", "adaptive")

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


@dataclass(frozen=True)
class AssistancePolicy:
    """How an assisted algorithm uses the proxy: what the ``Assistant`` carries and the algorithm reads.

    Args:
        k: candidates per proposal (K >= 1; K = 1 is vanilla with the proxy merely recorded).
        rule: ``"best"`` (default: best of K, the GradSign paper's rule) or ``"adaptive"`` (ours: the
            algorithm scores its candidates one at a time, at most ``adaptive_draws * K``, and takes
            the first whose score reaches the top ``1/K`` of every score this search has seen, else the
            best it scored; about ``0.86 K`` scores per proposal on average at the default: fewer where
            candidates are good, more where they are poor).
        adaptive_draws: the adaptive rule's limit, in multiples of K (2).
        warmup: the zero-cost warm-up (ours): M uniform samples scored before the first evaluation,
            whose best the algorithm starts from (see each algorithm; 0: none). An algorithm's own
            ``warmup=`` argument, when given, takes precedence.
        warmup_top: REINFORCE: the share of the M its policy is fitted to (``None``: its default 0.1).
        warmup_learning_rate: REINFORCE: its learning rate after a warm-up (``None``: its own).

    Raises:
        ValueError: for a setting out of its range (one sentence naming it).

    Example:
        >>> AssistancePolicy(k=10, rule="adaptive").draws
        20
    """

    k: int = 10
    rule: str = "best"
    adaptive_draws: int = 2
    warmup: int = 0
    warmup_top: Optional[float] = None
    warmup_learning_rate: Optional[float] = None

    def __post_init__(self) -> None:
        from ._checks import positive_int

        k = self.k
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"expected K (candidates per proposal) >= 1, but got {k!r}")
        object.__setattr__(self, "k", int(k))
        if self.rule not in RULES:
            raise InputError(f"expected rule {' or '.join(map(repr, RULES))}, but got {self.rule!r}")
        positive_int("adaptive_draws", self.adaptive_draws)
        positive_int("warmup", self.warmup, 0)
        top = self.warmup_top
        if top is not None and (isinstance(top, bool) or not isinstance(top, (int, float)) or not 0 < top <= 1):
            raise InputError(f"expected warmup_top in (0, 1], but got {top!r}")
        lr = self.warmup_learning_rate
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf):
            raise InputError(f"expected warmup_learning_rate to be a positive finite number, but got {lr!r}")

    @property
    def draws(self) -> int:
        """Candidates an algorithm draws per proposal: K, or ``adaptive_draws * K`` for the adaptive rule."""
        return self.k if self.rule == "best" else self.adaptive_draws * self.k


class Assistant:
    """Picks, of the candidates an algorithm draws, the one its ``AssistancePolicy`` chooses.

    Args:
        scorer: where scores come from.
        k: K, candidates per proposal (default: the policy's, 10).
        rule: ``"best"`` or ``"adaptive"`` (default: the policy's, ``"best"``; see ``AssistancePolicy``).
        policy: the whole policy (default ``AssistancePolicy()``); ``k`` and ``rule``, when given, replace
            its values.

    Raises:
        ValueError: if ``k`` is not a positive integer, ``rule`` is unknown or ``scorer`` is not a
            ``ProxyScorer``.
    """

    RULES = RULES

    def __init__(
        self,
        scorer: ProxyScorer,
        k: Optional[int] = None,
        rule: Optional[str] = None,
        *,
        policy: Optional[AssistancePolicy] = None,
    ) -> None:
        if not isinstance(scorer, ProxyScorer):
            raise InputError(f"expected a ProxyScorer, but got {type(scorer).__name__}")
        if policy is None:
            policy = AssistancePolicy()
        elif not isinstance(policy, AssistancePolicy):
            raise InputError(f"expected an AssistancePolicy, but got {type(policy).__name__}")
        if k is not None:
            policy = replace(policy, k=k)
        if rule is not None:
            policy = replace(policy, rule=rule)
        self.scorer = scorer
        self.policy = policy

    @property
    def k(self) -> int:
        """K, candidates per proposal."""
        return self.policy.k

    @property
    def rule(self) -> str:
        """The policy's rule: ``"best"`` or ``"adaptive"``."""
        return self.policy.rule

    @property
    def draws(self) -> int:
        """Candidates an algorithm draws per proposal (``AssistancePolicy.draws``)."""
        return self.policy.draws

    def pick(self, candidates: Sequence[Hashable]) -> tuple[Hashable, float]:
        """``(arch, score)`` of the highest-scoring candidate; ties go to the earliest."""
        if len(candidates) == 0:
            raise InputError("expected at least one candidate to pick from, but got none")
        best, best_score = None, -math.inf
        for arch, s in zip(candidates, self.scorer.score_many(list(candidates))):
            if math.isnan(s):
                s = -math.inf
            if best is None or s > best_score:
                best, best_score = arch, s
        return best, best_score

    def choose(self, candidates: Iterable[Hashable], seen: list) -> tuple[Hashable, float, list]:
        """``(arch, score, examined)``: the policy's pick of ``candidates`` (consumed lazily) and the
        candidates it scored. Best of K scores them all (``pick``); the adaptive rule scores them one at
        a time, adds each score to ``seen`` (the sorted scores of the search so far, updated in place)
        and stops at the first that reaches its top ``1/K``."""
        if self.policy.rule == "best":
            examined = list(candidates)
            arch, score = self.pick(examined)
            return arch, score, examined
        k = self.policy.k
        bar = seen[int(len(seen) * (1 - 1 / k))] if len(seen) >= k else math.inf
        examined, best, best_score = [], None, -math.inf
        for c in candidates:
            s = float(self.scorer.score(c))
            s = -math.inf if math.isnan(s) else s
            examined.append(c)
            bisect.insort(seen, s)
            if best is None or s > best_score:
                best, best_score = c, s
            if s >= bar:
                best, best_score = c, s
                break
        if best is None:
            raise InputError("expected at least one candidate to pick from, but got none")
        return best, best_score, examined

    def __repr__(self) -> str:
        default = AssistancePolicy()
        extra = "".join(
            f", {f.name}={getattr(self.policy, f.name)!r}"
            for f in fields(AssistancePolicy)
            if f.name != "k" and getattr(self.policy, f.name) != getattr(default, f.name)
        )
        return f"Assistant({type(self.scorer).__name__}, k={self.k}{extra})"


#: the settings of a strategy that are ``AssistancePolicy`` fields (the others are algorithm options)
_POLICY_SETTINGS = frozenset(f.name for f in fields(AssistancePolicy)) - {"k", "rule"}


def build_assistance(variant: str, algorithm: str, scorer: Any, k: int) -> tuple[Optional[Assistant], dict[str, Any]]:
    """The ``Assistant`` of ``variant`` for ``algorithm`` over ``scorer`` at K = ``k``, and the options
    the algorithm takes for it: ``(None, {})`` for ``"vanilla"``; best of ``k`` for ``"assisted"``;
    else the strategy ``variant`` of ``gradsign_nas.strategies`` (its K, rule and warm-up in the
    policy, any other setting of it as an algorithm option).

    Example:
        >>> a, options = build_assistance("warmup", "rea", TableScorer({"a": 1.0}), 10)
        >>> a.policy.k, a.policy.warmup, options
        (5, 300, {})
    """
    if variant == "vanilla":
        return None, {}
    if variant == "assisted":
        return Assistant(scorer, policy=AssistancePolicy(k=k)), {}
    from gradsign_nas.algorithms import EXECUTOR_KEYWORDS

    from . import strategies

    kk, rule, settings = strategies.settings(variant, algorithm, k)
    bad = sorted(set(settings) & ({"k", "rule"} | set(EXECUTOR_KEYWORDS)))
    if bad:
        raise InputError(
            f"expected strategy {variant!r} to set K and the rule as Strategy.k and .rule and to leave "
            f"{', '.join(EXECUTOR_KEYWORDS)} to the executor, but its settings for {algorithm} name {', '.join(bad)}"
        )
    policy = AssistancePolicy(k=kk, rule=rule, **{n: v for n, v in settings.items() if n in _POLICY_SETTINGS})
    return Assistant(scorer, policy=policy), {n: v for n, v in settings.items() if n not in _POLICY_SETTINGS}
