"""Option groups shared by several commands, defined once, and the checks they need.

One meaning per option name across commands: ``--workers`` is always local processes,
``--sim-workers`` simulated parallel workers of one search, ``--seed`` the seed, ``--out`` the output
folder, ``--json`` "print one JSON object as the last stdout line" (and nothing is printed as JSON
without it), ``--address`` an existing Ray cluster, ``--k`` candidates per assisted proposal.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Optional, Sequence

from gradsign_nas._checks import positive_int, positive_number  # noqa: F401  (the commands' checks)
from gradsign_nas.errors import InputError

VARIANTS = ("vanilla", "assisted")
SCORE_SOURCES = ("table", "on-demand")
NB201_FIDELITIES = (12, 200)
TABULAR_SPACES = ("nb201",)  # spaces with a full table of trained accuracies


# -- option groups --------------------------------------------------------------------------------
def add_common(
    p: argparse.ArgumentParser,
    *,
    out_help: str,
    out_default: Optional[str] = None,
    out_required: bool = False,
    seed_help: str = "random seed (default 0)",
) -> None:
    """``--seed --out --json --no-progress`` (every command that runs something)."""
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument("--out", default=out_default, metavar="DIR", required=out_required, help=out_help)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_data_dir(p: argparse._ActionsContainer, what: str = "the benchmark data files") -> None:
    p.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help=f"directory of {what} (default: $GRADSIGN_NAS_DATA, else ~/.cache/gradsign-nas/data)",
    )


def add_address(p: argparse._ActionsContainer, what: str, default: str = "a local Ray on this machine") -> None:
    p.add_argument(
        "--address", default=None, metavar="HOST:PORT", help=f"an existing Ray cluster to {what} (default: {default})"
    )


def add_workers(p: argparse._ActionsContainer, default_help: str) -> None:
    p.add_argument("--workers", type=int, default=None, help=f"local processes ({default_help})")


def add_assist(p: argparse._ActionsContainer) -> None:
    """``--k``: candidates per assisted proposal."""
    p.add_argument(
        "--k",
        type=int,
        default=10,
        help="candidates per assisted proposal: the assisted variant evaluates the best-scored of K (default 10)",
    )


def add_tabular(p: argparse.ArgumentParser) -> None:
    """The NAS-Bench-201 protocol and the source of the proxy scores (``table-search``, ``compare``)."""
    g = p.add_argument_group("NAS-Bench-201 protocol")
    g.add_argument("--space", default="nb201", help="a space with a full tabular benchmark: nb201 (the default)")
    add_data_dir(g, "the NAS-Bench-201 data files")
    g.add_argument("--budget", type=float, default=12000.0, help="search budget in simulated seconds (default 12000)")
    g.add_argument(
        "--fidelities",
        default="12",
        help="training epochs the search may use: 12 (NB201 protocol) or 12,200 (default 12)",
    )
    g.add_argument(
        "--sim-workers",
        type=int,
        default=1,
        help="simulated asynchronous workers of one search (default 1, as in NB201's protocol)",
    )
    g.add_argument(
        "--charge-proxy-time",
        action="store_true",
        help="charge the measured proxy-scoring time to the search budget (the GradSign paper did not)",
    )
    a = p.add_argument_group("GradSign assistance")
    add_assist(a)
    a.add_argument(
        "--scores",
        default="table",
        choices=SCORE_SOURCES,
        help="proxy scores: the packaged GradSign table (default), or computed on demand (slow on CPU)",
    )
    a.add_argument(
        "--score-table",
        default=None,
        metavar="PATH",
        help="your own score table: JSON {arch string: score} or an npz like the packaged one",
    )
    a.add_argument(
        "--proxy",
        default="gradsign",
        help="the proxy whose packaged whole-space table ranks the candidates, or an ensemble a+b of them "
        "(rank aggregation), e.g. gradsign+jacob_cov (default gradsign)",
    )
    a.add_argument(
        "--score-dataset",
        default="cifar10",
        choices=("cifar10", "cifar100"),
        help="images the GradSign scores are computed on (default cifar10)",
    )


# -- checks -----------------------------------------------------------------------------------------
# upper bounds that protect the machine: beyond them a run cannot finish in reasonable time or fills
# the disk, so it is refused rather than left to run for hours
MAX_K = 10_000
MAX_RUNS = 100_000
MAX_EPOCHS = 10_000
MAX_BATCH = 1_000_000
MAX_PROCS = 1024


def split_list(name: str, text: str, valid: Sequence[str]) -> list[str]:
    """A comma-separated option as a list without repeats, each among ``valid``."""
    items = list(dict.fromkeys(v.strip() for v in str(text).split(",") if v.strip()))
    bad = [v for v in items if v not in valid]
    if not items or bad:
        raise InputError(f"expected {name} to list {', '.join(valid)} (comma-separated), but got {text!r}")
    return items


def check_algorithms(names: Sequence[str]) -> list[str]:
    from gradsign_nas import algorithms

    return split_list("--algorithms", ",".join(names), algorithms.available())


def check_tabular(args: argparse.Namespace) -> tuple:
    """Validate the NAS-Bench-201 protocol options; returns the fidelities."""
    if args.space not in TABULAR_SPACES:
        raise InputError(
            f"expected a space with a full tabular benchmark ({', '.join(TABULAR_SPACES)}), but got "
            f"{args.space!r}; a live search trains networks of any space: gradsign-nas search --space {args.space}"
        )
    from gradsign_nas.execution.driver import MAX_BUDGET_S, MAX_WORKERS

    positive_number("--budget", args.budget)
    if args.budget > MAX_BUDGET_S:
        raise InputError(f"expected --budget of at most {MAX_BUDGET_S:.0e} simulated seconds, but got {args.budget:g}")
    positive_int("--k", args.k, 1, MAX_K)
    positive_int("--seed", args.seed, 0)
    positive_int("--sim-workers", args.sim_workers, 1, MAX_WORKERS)
    try:
        fids = tuple(sorted({int(x) for x in str(args.fidelities).split(",") if x.strip()}))
    except ValueError:
        fids = ()
    if not fids or any(f not in NB201_FIDELITIES for f in fids):
        raise InputError(f"expected --fidelities 12 or 12,200 (NB201 epochs), but got {args.fidelities!r}")
    return fids


def check_out_dir(out: Optional[str]) -> Optional[Path]:
    """``--out`` as a path that is, or can become, a writable directory (checked before any work)."""
    if out is None:
        return None
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise InputError(f"expected --out to be a directory, but {p} is a file")
    parent = p
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"expected --out to be a directory, but {parent} (on its path) is a file")
    import os

    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"expected --out to be writable, but {parent} is not writable")
    return p


def load_evaluator(args: argparse.Namespace):
    """The NB201 tabular evaluator from ``--data-dir`` (a clear ``DataError`` if a file is missing)."""
    from gradsign_nas.benchmarks.nb201_evaluator import NB201TabularEvaluator

    return NB201TabularEvaluator.from_directory(args.data_dir)


def load_scorer(args: argparse.Namespace, space) -> Any:
    """The proxy scorer the options ask for, loaded (and checked) before anything is written."""
    from gradsign_nas.assist import OnDemandScorer, TableScorer

    if args.score_table is not None:
        return _user_table(args.score_table, args.score_dataset, space)
    from gradsign_nas import proxies

    names = [n for n in args.proxy.split("+")]
    for n in names:
        if n not in proxies.available():
            raise InputError(
                f"expected --proxy among {', '.join(proxies.available())} (or an ensemble a+b of them), "
                f"but got {args.proxy!r}"
            )
    if args.scores == "on-demand":
        if len(names) > 1:
            raise InputError(
                f"expected one proxy with --scores on-demand (ensembles rank whole-space tables), "
                f"but got {args.proxy!r}"
            )
        from gradsign_nas.benchmarks import locate

        locate(f"{args.score_dataset}_images", args.data_dir)  # a missing image file fails now, not mid-search
        return OnDemandScorer(space, args.proxy, args.score_dataset, batch_size=64, seed=0, directory=args.data_dir)
    try:
        return TableScorer.nb201(args.score_dataset, args.proxy)
    except ValueError as e:
        raise InputError(f"missing score table: {e}") from None


def _user_table(path: str, dataset: str, space):
    from gradsign_nas.assist import TableScorer

    p = Path(path)
    if not p.is_file():
        raise InputError(f"missing score table: expected a file at {path}, but there is none")
    if p.suffix == ".npz":
        scorer = TableScorer.from_file(p, dataset, space=space)
    else:
        from gradsign_nas._io import read_json_object

        data = read_json_object(p, "a JSON object {arch string: score}")
        assert data is not None  # p.is_file() was checked above
        for key in data:
            try:
                space.parse(key)
            except ValueError:
                raise InputError(f"expected {space.name} architecture strings in {path}, but got {key!r}") from None
        try:
            scorer = TableScorer(data)
        except InputError as e:
            raise InputError(f"{e} (in {path})") from None
    missing = sum(1 for a in space.all() if a not in scorer)
    if missing:
        raise InputError(f"expected a score for every {space.name} architecture in {path}, but {missing} are missing")
    return scorer
