"""Every option of every run kind, declared once: its name, type, default, choices and meaning.

The config dataclasses (``gradsign_nas.api.configs``) take their fields' defaults and documentation
from here, and the command line builds each command's options from its config's fields, so one name
has one meaning and one default in Python, in config files and in every command (a test walks every
parser against this table). A name that is ``None`` by default gets its value from the run it is in,
as its help says (e.g. ``runs``: 500 tabular runs, 3 live seeds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = ["OPTIONS", "Option", "opt"]


@dataclass(frozen=True)
class Option:
    """One option: ``--flag`` on the command line, ``name`` in Python and config files."""

    name: str
    help: str
    default: Any = None
    type: Any = str  # what the command line converts its text with (``bool``: a switch)
    choices: Optional[tuple] = None
    metavar: Optional[str] = None
    group: str = "options"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def switch(self) -> bool:
        return self.type is bool


_ALL: list[Option] = []


def _o(name: str, help: str, default: Any = None, type: Any = str, **kw: Any) -> None:
    _ALL.append(Option(name, help, default, type, **kw))


# -- what runs ---------------------------------------------------------------------------------------
_o("space", "search space: nb201 (default), nats_size, nb101, darts or a registered one", "nb201")
_o("algorithm", "the search algorithm: rs, rea, reinforce, bohb or a registered one (default rea)", "rea")
_o(
    "algorithms",
    "algorithms to compare, comma-separated, or 'all' (default rs,rea,reinforce,bohb)",
    "rs,rea,reinforce,bohb",
)
_o(
    "algorithm_options",
    "the algorithm's own settings, KEY=VALUE,... (e.g. preset=ours for BOHB, population_size=20 for REA, "
    "learning_rate=0.1 for REINFORCE); each algorithm declares its settings (gradsign_nas.algorithms.parameters(name)); in a "
    "comparison NAME.KEY=VALUE sets one algorithm's (default: the algorithm's defaults)",
    metavar="KEY=VALUE,...",
)
_o(
    "variants",
    "variants to run, comma-separated, or 'all': vanilla, assisted (best of --k) and the strategies of "
    "gradsign_nas.strategies, e.g. warmup, adaptive (default vanilla,assisted)",
    "vanilla,assisted",
)
_o(
    "strategies",
    "assistance strategies to run as further variants, comma-separated, or 'all' (each at a proxy budget no "
    "larger than best of K's; default none)",
)
_o(
    "seed",
    "random seed of the run: the search, the data split, the image batch, each network's init (default 0)",
    0,
    int,
)
_o(
    "runs",
    "runs per algorithm and variant; with --live, seeds (default 500 tabular runs, 3 live seeds)",
    None,
    int,
)
_o(
    "live",
    "compare live searches that really train networks (seeds x variants x algorithms) instead of table searches",
    False,
    bool,
)

# -- the NAS-Bench-201 protocol (table searches) -------------------------------------------------------
_p = "NAS-Bench-201 protocol"
_o("budget", "search budget in simulated seconds (default 12000)", 12000.0, float, group=_p)
_o("fidelities", "training epochs the search may use: 12 (NB201 protocol) or 12,200 (default 12)", "12", group=_p)
_o(
    "sim_workers",
    "simulated asynchronous workers of one search (default 1, as in NB201's protocol)",
    1,
    int,
    group=_p,
)
_o(
    "charge_proxy_time",
    "charge the measured proxy-scoring time to the search budget (the GradSign paper did not)",
    False,
    bool,
    group=_p,
)
_o(
    "executor",
    "where a table search's evaluations run: simulated (the simulated clock in this process, the default) or "
    "ray (one Ray Tune trial per evaluation, --sim-workers at once)",
    "simulated",
    choices=("simulated", "ray"),
    group=_p,
)

# -- assistance ---------------------------------------------------------------------------------------
_a = "GradSign assistance"
_o(
    "k",
    "candidates per assisted proposal: the assisted variant evaluates the best-scored of K (default 10)",
    10,
    int,
    group=_a,
)
_o(
    "proxy",
    "the proxy that ranks candidates, or an ensemble a+b of proxies (rank aggregation: over the whole "
    "space from score tables, over each call's candidates when scored on demand), e.g. gradsign+jacob_cov "
    "(default gradsign)",
    "gradsign",
    group=_a,
)
_o(
    "scores",
    "where proxy scores come from: auto (a packaged whole-space table where there is one for the space, proxy "
    "and images, else computed; the default), table (the packaged table, instant) or on-demand (computed now)",
    "auto",
    choices=("auto", "table", "on-demand"),
    group=_a,
)
_o(
    "score_table",
    "your own score table: JSON {arch string: score} or an npz like the packaged ones",
    metavar="PATH",
    group=_a,
)
_o(
    "score_dataset",
    "images the proxy scores are computed on: cifar10 (default) or cifar100",
    "cifar10",
    choices=("cifar10", "cifar100"),
    group=_a,
)
_o("score_batch_size", "images in the proxy's scoring minibatch (default 64)", 64, int, group=_a)

# -- data and training (live searches) ----------------------------------------------------------------
_d = "data and training"
_o(
    "data",
    "training images: digits (default, bundled with scikit-learn), cifar10 (the npz in --data-dir), an image "
    "folder root/<class>/*.png or an .npz with x and y",
    "digits",
    group=_d,
)
_o(
    "data_dir",
    "directory of the benchmark data files (default: $GRADSIGN_NAS_DATA, else ~/.cache/gradsign-nas/data)",
    metavar="DIR",
    group=_d,
)
_o("trials", "trials per search (default 20)", 20, int, group=_d)
_o("epochs", "training epochs per trial (default 3)", 3, int, group=_d)
_o("train_batch_size", "training minibatch size (default 64)", 64, int, group=_d)
_o("lr", "learning rate (default 0.1: SGD, Nesterov, cosine schedule)", None, float, group=_d)
_o("limit", "use at most this many training images, class-balanced (default all)", None, int, group=_d)
_o(
    "metric",
    "what a trial reports and the search optimises: valid_acc (maximised, the default) or valid_loss (minimised)",
    "valid_acc",
    choices=("valid_acc", "valid_loss"),
    group=_d,
)
_o(
    "final_epochs",
    "after each live search, train its best network again from scratch for this many epochs on the training and "
    "validation images together (its own seed) and score it once on a held-out test split: final_test_acc "
    "(default: no final evaluation)",
    None,
    int,
    group=_d,
)
_o(
    "final_top",
    "how many of a search's best networks (by reward) the final evaluation trains (default 1)",
    1,
    int,
    group=_d,
)
_o(
    "test_fraction",
    "share of the training images held out as the final evaluation's test split (default 0.2 with --final-epochs)",
    None,
    float,
    group=_d,
)
_o(
    "cells",
    "random NB201 cells a calibration trains at every epoch count (default 20)",
    20,
    int,
    group=_d,
)
_o(
    "epoch_counts",
    "the training epochs a calibration compares as rewards, comma-separated (default 1,3,9)",
    "1,3,9",
    group=_d,
)
_o("C", "NB201 channels (nb201 only; default 8 on digits, 16 otherwise)", None, int, group=_d)
_o("N", "NB201 cells per stage (nb201 only; default 1 on digits, 5 otherwise)", None, int, group=_d)

# -- execution ----------------------------------------------------------------------------------------
_e = "execution"
_o("device", "where networks run: auto (CUDA when present, the default), cpu or cuda[:i]", "auto", group=_e)
_o(
    "workers",
    "local processes working at once (default: all cores for table runs and scoring, one per GPU for live "
    "searches with --no-ray); 1 runs everything in this process",
    None,
    int,
    group=_e,
)
_o(
    "address",
    "an existing Ray cluster to run on, HOST:PORT, or 'local' to start a Ray here (default: a local Ray where "
    "trials run on Ray, local processes otherwise)",
    metavar="HOST:PORT",
    group=_e,
)
_o("no_ray", "run live trials in this process (or --workers local processes), without Ray", False, bool, group=_e)
_o("cpus_per_trial", "CPUs (torch threads) per live trial (default 1)", 1.0, float, group=_e)
_o(
    "gpus_per_trial",
    "GPUs per live trial, fractions share a GPU (Ray only; default 1 with CUDA, else 0)",
    None,
    float,
    group=_e,
)
_o(
    "max_failures",
    "retries of a live trial whose worker died, from its last checkpoint (Ray only; default 2)",
    None,
    int,
    group=_e,
)
_o(
    "scheduler",
    "Tune scheduler of live trials (Ray only; default fifo: every trial to --epochs)",
    None,
    choices=("fifo", "hyperband", "asha"),
    group=_e,
)
_o("num_cpus", "CPUs of the local Ray (default all cores)", None, int, group=_e)
_o(
    "concurrency",
    "trials in flight per search of a live comparison on Ray, every search in one Tune experiment so that "
    "searches fill the cluster together (default 1, as NB201's protocol; with --scheduler the searches run one "
    "after another, each on every trial slot)",
    None,
    int,
    group=_e,
)

# -- correlation and whole-space scoring ----------------------------------------------------------------
_c = "scoring"
_o(
    "dataset",
    "the benchmark accuracy to correlate with: cifar10 (default) or cifar100 (nb201 only)",
    "cifar10",
    group=_c,
)
_o(
    "sample",
    "architectures drawn without replacement (default: 1000 for nb201, all for nb101/darts)",
    None,
    int,
    metavar="N",
    group=_c,
)
_o("all", "score every architecture of the space", False, bool, group=_c)
_o("cache", "score cache file (default: under the cache dir)", metavar="FILE", group=_c)
_o("no_cache", "neither read nor write the score cache", False, bool, group=_c)
_o(
    "proxies",
    "proxies to score, comma-separated, or 'all' (gradsign_nas.proxies.available(); default gradsign)",
    "gradsign",
    group=_c,
)
_o(
    "datasets",
    "image batches to score on, comma-separated, or 'all': cifar10, cifar100 (default both)",
    "cifar10,cifar100",
    group=_c,
)
_o("gpu_procs", "scoring processes per visible GPU (default 0)", 0, int, group=_c)
_o(
    "cpu_procs",
    "single-threaded CPU scoring processes (default: all cores, or none with --gpu-procs)",
    None,
    int,
    group=_c,
)
_o(
    "compile",
    "GradSign on the GPU: score the space in 125 blocks of equal shapes with the stacked pass compiled by "
    "torch.compile (the first block per process compiles, minutes; PyTorch caches it)",
    False,
    bool,
    group=_c,
)
_o(
    "first",
    "score only the first N architectures in index order, for timing (default all)",
    None,
    int,
    metavar="N",
    group=_c,
)

# -- output -----------------------------------------------------------------------------------------------
_w = "output"
_o(
    "out",
    "where the results are written: a run folder (score-space: the table's .npz file, {proxy} in it for several "
    "proxies); default: the command's own (see its description)",
    metavar="PATH",
    group=_w,
)
_o("json", "print one JSON object as the last line on stdout", False, bool, group=_w)
_o("no_progress", "no progress bars", False, bool, group=_w)

OPTIONS: dict[str, Option] = {o.name: o for o in _ALL}
assert len(OPTIONS) == len(_ALL), "an option is declared twice"


def opt(name: str) -> Any:
    """A dataclass field for option ``name``: its default and help from this table."""
    o = OPTIONS[name]
    return field(default=o.default, metadata={"option": o})
