"""One frozen config per run kind. Field names are the command line's option names (``_`` for ``-``),
defaults and meanings come from one table (``gradsign_nas.api._vocabulary``), and the command line
builds each command's options from its config's fields. Lists of names (``algorithms``, ``variants``,
``strategies``, ``proxies``, ``datasets``) may be given as a comma-separated string, ``'all'`` or a
sequence; they are stored as the comma-separated string.

Example:
    >>> from gradsign_nas.api.configs import CompareConfig
    >>> CompareConfig(algorithms=["rs", "rea"], runs=5).algorithms
    'rs,rea'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from ..errors import InputError
from ._vocabulary import OPTIONS, opt

__all__ = [
    "CalibrateConfig",
    "CompareConfig",
    "CorrelateConfig",
    "ScoreSpaceConfig",
    "SearchConfig",
    "TableSearchConfig",
    "make_config",
]

#: fields that hold a list of names
LISTS = ("algorithms", "variants", "strategies", "proxies", "datasets")
#: options of the command line only (how to print), not of a run
CLI_ONLY = ("json",)


def _pairs(table: Mapping, prefix: str = "") -> list[str]:
    """``{"bohb": {"preset": "ours"}, "k": 3}`` as ``["bohb.preset=ours", "k=3"]``."""
    out: list[str] = []
    for k, x in table.items():
        if isinstance(x, Mapping):
            out += _pairs(x, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}={x}")
    return out


class _Config:
    """What every config does: normalise lists, refuse unknown names, describe itself."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if f.name in LISTS and v is not None and not isinstance(v, str):
                if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
                    raise InputError(f"expected {f.name} to be names, comma-separated or a list, but got {v!r}")
                object.__setattr__(self, f.name, ",".join(v))
            if f.name == "algorithm_options" and isinstance(v, Mapping):  # a table, per algorithm or flat
                object.__setattr__(self, f.name, ",".join(_pairs(v)))

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (option names as keys)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def given(self) -> dict[str, Any]:
        """The settings that differ from their defaults."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if getattr(self, f.name) != f.default
        }


def _doc(cls: type) -> type:
    """Append every field's meaning (from the option table) to the class docstring, for ``help()``."""
    lines = [(cls.__doc__ or "").rstrip(), "", "Attributes:"]
    for f in dataclasses.fields(cls):
        o = OPTIONS[f.name]
        lines.append(f"    {f.name}: {o.help}")
    cls.__doc__ = "\n".join(lines) + "\n"
    return cls


@_doc
@dataclass(frozen=True)
class SearchConfig(_Config):
    """A live search: every trial trains a network (``gradsign-nas search``, ``gradsign_nas.search``)."""

    space: str = opt("space")
    algorithm: str = opt("algorithm")
    algorithm_options: Optional[str] = opt("algorithm_options")
    variants: str = opt("variants")
    data: Any = opt("data")
    data_dir: Optional[str] = opt("data_dir")
    trials: int = opt("trials")
    epochs: int = opt("epochs")
    train_batch_size: int = opt("train_batch_size")
    lr: Optional[float] = opt("lr")
    limit: Optional[int] = opt("limit")
    metric: str = opt("metric")
    final_epochs: Optional[int] = opt("final_epochs")
    final_top: int = opt("final_top")
    test_fraction: Optional[float] = opt("test_fraction")
    C: Optional[int] = opt("C")
    N: Optional[int] = opt("N")
    k: int = opt("k")
    proxy: str = opt("proxy")
    score_batch_size: int = opt("score_batch_size")
    device: str = opt("device")
    no_ray: bool = opt("no_ray")
    cpus_per_trial: float = opt("cpus_per_trial")
    gpus_per_trial: Optional[float] = opt("gpus_per_trial")
    max_failures: Optional[int] = opt("max_failures")
    scheduler: Optional[str] = opt("scheduler")
    num_cpus: Optional[int] = opt("num_cpus")
    address: Optional[str] = opt("address")
    seed: int = opt("seed")
    out: Optional[str] = opt("out")
    no_progress: bool = opt("no_progress")


@_doc
@dataclass(frozen=True)
class TableSearchConfig(_Config):
    """Searches on NAS-Bench-201's tables under its protocol, one per variant, nothing trained
    (``gradsign-nas table-search``, ``gradsign_nas.table_search``)."""

    space: str = opt("space")
    algorithm: str = opt("algorithm")
    algorithm_options: Optional[str] = opt("algorithm_options")
    variants: str = opt("variants")
    data_dir: Optional[str] = opt("data_dir")
    budget: float = opt("budget")
    fidelities: str = opt("fidelities")
    sim_workers: int = opt("sim_workers")
    charge_proxy_time: bool = opt("charge_proxy_time")
    executor: str = opt("executor")
    k: int = opt("k")
    proxy: str = opt("proxy")
    scores: str = opt("scores")
    score_table: Optional[str] = opt("score_table")
    score_dataset: str = opt("score_dataset")
    score_batch_size: int = opt("score_batch_size")
    address: Optional[str] = opt("address")
    seed: int = opt("seed")
    out: Optional[str] = opt("out")
    no_progress: bool = opt("no_progress")


#: compare's options that only a tabular comparison reads, and those only --live reads
TABULAR_ONLY = (
    "budget",
    "fidelities",
    "sim_workers",
    "charge_proxy_time",
    "scores",
    "score_table",
    "score_dataset",
)
LIVE_ONLY = (
    "data",
    "trials",
    "epochs",
    "train_batch_size",
    "lr",
    "limit",
    "metric",
    "final_epochs",
    "final_top",
    "test_fraction",
    "C",
    "N",
    "device",
    "no_ray",
    "cpus_per_trial",
    "gpus_per_trial",
    "max_failures",
    "scheduler",
    "num_cpus",
    "concurrency",
)


@_doc
@dataclass(frozen=True)
class CompareConfig(_Config):
    """Many seeded searches, vanilla vs assisted, with statistics and plots: on NAS-Bench-201's tables,
    or with ``live=True`` live searches that train networks (``gradsign-nas compare``,
    ``gradsign_nas.compare``). Options of the other kind are refused, not ignored."""

    algorithms: str = opt("algorithms")
    algorithm_options: Optional[str] = opt("algorithm_options")
    variants: str = opt("variants")
    strategies: Optional[str] = opt("strategies")
    runs: Optional[int] = opt("runs")
    live: bool = opt("live")
    space: str = opt("space")
    data_dir: Optional[str] = opt("data_dir")
    budget: float = opt("budget")
    fidelities: str = opt("fidelities")
    sim_workers: int = opt("sim_workers")
    charge_proxy_time: bool = opt("charge_proxy_time")
    k: int = opt("k")
    proxy: str = opt("proxy")
    scores: str = opt("scores")
    score_table: Optional[str] = opt("score_table")
    score_dataset: str = opt("score_dataset")
    score_batch_size: int = opt("score_batch_size")
    data: Any = opt("data")
    trials: int = opt("trials")
    epochs: int = opt("epochs")
    train_batch_size: int = opt("train_batch_size")
    lr: Optional[float] = opt("lr")
    limit: Optional[int] = opt("limit")
    metric: str = opt("metric")
    final_epochs: Optional[int] = opt("final_epochs")
    final_top: int = opt("final_top")
    test_fraction: Optional[float] = opt("test_fraction")
    C: Optional[int] = opt("C")
    N: Optional[int] = opt("N")
    device: str = opt("device")
    workers: Optional[int] = opt("workers")
    address: Optional[str] = opt("address")
    no_ray: bool = opt("no_ray")
    cpus_per_trial: float = opt("cpus_per_trial")
    gpus_per_trial: Optional[float] = opt("gpus_per_trial")
    max_failures: Optional[int] = opt("max_failures")
    scheduler: Optional[str] = opt("scheduler")
    num_cpus: Optional[int] = opt("num_cpus")
    concurrency: Optional[int] = opt("concurrency")
    seed: int = opt("seed")
    out: Optional[str] = opt("out")
    no_progress: bool = opt("no_progress")


@_doc
@dataclass(frozen=True)
class CorrelateConfig(_Config):
    """Score architectures with a proxy and correlate the scores with the benchmark's accuracy
    (``gradsign-nas correlate``, ``gradsign_nas.correlate``)."""

    space: str = opt("space")
    dataset: str = opt("dataset")
    proxy: str = opt("proxy")
    sample: Optional[int] = opt("sample")
    all: bool = opt("all")
    scores: str = opt("scores")
    score_batch_size: int = opt("score_batch_size")
    data_dir: Optional[str] = opt("data_dir")
    workers: Optional[int] = opt("workers")
    device: str = opt("device")
    address: Optional[str] = opt("address")
    cache: Optional[str] = opt("cache")
    no_cache: bool = opt("no_cache")
    seed: int = opt("seed")
    out: Optional[str] = opt("out")
    no_progress: bool = opt("no_progress")


@_doc
@dataclass(frozen=True)
class ScoreSpaceConfig(_Config):
    """Score every NB201 architecture (or the first N) with one or more proxies on fixed real image
    batches and write whole-space score tables (``gradsign-nas score-space``,
    ``gradsign_nas.score_space``)."""

    proxies: str = opt("proxies")
    datasets: str = opt("datasets")
    score_batch_size: int = opt("score_batch_size")
    seed: int = opt("seed")
    data_dir: Optional[str] = opt("data_dir")
    gpu_procs: int = opt("gpu_procs")
    cpu_procs: Optional[int] = opt("cpu_procs")
    compile: bool = opt("compile")
    first: Optional[int] = opt("first")
    address: Optional[str] = opt("address")
    out: Optional[str] = opt("out")
    no_progress: bool = opt("no_progress")


@_doc
@dataclass(frozen=True)
class CalibrateConfig(_Config):
    """Measure how well short trainings rank networks: train the same random NB201 cells at several
    epoch counts on CIFAR-10 and correlate each reward with NAS-Bench-201's test accuracy of the cells
    (and the proxy's scores too), with the cost of each (``gradsign-nas calibrate``,
    ``gradsign_nas.calibrate``)."""

    cells: int = opt("cells")
    epoch_counts: str = opt("epoch_counts")
    data: Any = opt("data")
    data_dir: Optional[str] = opt("data_dir")
    train_batch_size: int = opt("train_batch_size")
    lr: Optional[float] = opt("lr")
    limit: Optional[int] = opt("limit")
    C: Optional[int] = opt("C")
    N: Optional[int] = opt("N")
    proxy: str = opt("proxy")
    score_batch_size: int = opt("score_batch_size")
    device: str = opt("device")
    no_ray: bool = opt("no_ray")
    cpus_per_trial: float = opt("cpus_per_trial")
    gpus_per_trial: Optional[float] = opt("gpus_per_trial")
    max_failures: Optional[int] = opt("max_failures")
    num_cpus: Optional[int] = opt("num_cpus")
    address: Optional[str] = opt("address")
    seed: int = opt("seed")
    out: Optional[str] = opt("out")
    no_progress: bool = opt("no_progress")


AnyConfig = Union[CalibrateConfig, SearchConfig, TableSearchConfig, CompareConfig, CorrelateConfig, ScoreSpaceConfig]


def make_config(cls: Any, config: Any = None, options: Optional[Mapping[str, Any]] = None) -> Any:
    """``cls(**options)``, or ``config`` with ``options`` replaced; an unknown name is one ``InputError``
    sentence listing the valid ones."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options or {}) - set(names))
    if unknown:
        raise InputError(
            f"expected options of {cls.__name__} ({', '.join(names)}), but got {', '.join(map(repr, unknown))}"
        )
    if config is None:
        return cls(**(options or {}))
    if not isinstance(config, cls):
        raise InputError(f"expected a {cls.__name__}, but got a {type(config).__name__}")
    return dataclasses.replace(config, **(options or {}))
