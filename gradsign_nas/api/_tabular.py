"""What table searches and tabular comparisons share: the protocol's checks, the tabular benchmark and
the proxy scorer the options ask for, each loaded and checked before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ._checks import MAX_BATCH, MAX_K, positive_int, positive_number

NB201_FIDELITIES = (12, 200)
TABULAR_SPACES = ("nb201",)  # spaces with a full table of trained accuracies


def check_tabular(cfg: Any) -> tuple:
    """Validate the NAS-Bench-201 protocol options; returns the fidelities."""
    if cfg.space not in TABULAR_SPACES:
        raise InputError(
            f"expected a space with a full tabular benchmark ({', '.join(TABULAR_SPACES)}), but got "
            f"{cfg.space!r}; a live search trains networks of any space: gradsign-nas search --space {cfg.space}"
        )
    from ..execution.driver import MAX_BUDGET_S, MAX_WORKERS

    positive_number("--budget", cfg.budget)
    if cfg.budget > MAX_BUDGET_S:
        raise InputError(f"expected --budget of at most {MAX_BUDGET_S:.0e} simulated seconds, but got {cfg.budget:g}")
    positive_int("--k", cfg.k, 1, MAX_K)
    positive_int("--seed", cfg.seed, 0)
    positive_int("--sim-workers", cfg.sim_workers, 1, MAX_WORKERS)
    positive_int("--score-batch-size", cfg.score_batch_size, 1, MAX_BATCH)
    try:
        fids = tuple(sorted({int(x) for x in str(cfg.fidelities).split(",") if x.strip()}))
    except ValueError:
        fids = ()
    if not fids or any(f not in NB201_FIDELITIES for f in fids):
        raise InputError(f"expected --fidelities 12 or 12,200 (NB201 epochs), but got {cfg.fidelities!r}")
    return fids


def load_evaluator(cfg: Any):
    """The NB201 tabular evaluator from ``data_dir`` (a clear ``DataError`` if a file is missing)."""
    from ..benchmarks.nb201_evaluator import NB201TabularEvaluator

    return NB201TabularEvaluator.from_directory(cfg.data_dir)


#: the settings the packaged whole-space tables were scored with (``gradsign-nas score-space`` defaults)
TABLE_BATCH_SIZE = 64
TABLE_SEED = 0


def resolve_scores(scores: str, space: str, proxy: str, dataset: str, batch_size: int, seed: int = TABLE_SEED) -> str:
    """``scores`` as ``table`` or ``on-demand``: ``auto`` takes the packaged whole-space table when it
    holds the scores that computing would give (an NB201 table for the proxy and images, scored at the
    same batch size and seed), else computes them."""
    if scores != "auto":
        return scores
    if space != "nb201" or batch_size != TABLE_BATCH_SIZE or seed != TABLE_SEED:
        return "on-demand"
    from ..assist import TableScorer

    try:
        TableScorer.nb201(dataset, proxy)
    except (ValueError, InputError):
        return "on-demand"
    return "table"


def score_source(cfg: Any) -> str:
    """What a table search's scores come from: ``table``, ``on-demand`` or the user's table path
    (an on-demand scorer draws its batch with seed 0 whatever the search's seed)."""
    if cfg.score_table is not None:
        return str(cfg.score_table)
    return resolve_scores(cfg.scores, cfg.space, cfg.proxy, cfg.score_dataset, cfg.score_batch_size)


def load_scorer(cfg: Any, space) -> Any:
    """The proxy scorer the options ask for, loaded (and checked) before anything is written."""
    from .. import proxies
    from ..assist import OnDemandScorer, TableScorer

    if cfg.score_table is not None:
        return _user_table(cfg.score_table, cfg.score_dataset, space)
    names = list(cfg.proxy.split("+"))
    for n in names:
        if n not in proxies.available():
            raise InputError(
                f"expected --proxy among {', '.join(proxies.available())} (or an ensemble a+b of them), "
                f"but got {cfg.proxy!r}"
            )
    if score_source(cfg) == "on-demand":
        if len(names) > 1:
            raise InputError(
                f"expected one proxy with --scores on-demand (ensembles rank whole-space tables), but got {cfg.proxy!r}"
            )
        from ..benchmarks import locate

        locate(f"{cfg.score_dataset}_images", cfg.data_dir)  # a missing image file fails now, not mid-search
        return OnDemandScorer(
            space, cfg.proxy, cfg.score_dataset, batch_size=cfg.score_batch_size, seed=0, directory=cfg.data_dir
        )
    try:
        return TableScorer.nb201(cfg.score_dataset, cfg.proxy)
    except ValueError as e:
        raise InputError(f"missing score table: {e}") from None


def _user_table(path: str, dataset: str, space):
    from ..assist import TableScorer

    p = Path(path)
    if not p.is_file():
        raise InputError(f"missing score table: expected a file at {path}, but there is none")
    if p.suffix == ".npz":
        scorer = TableScorer.from_file(p, dataset, space=space)
    else:
        from .._io import read_json_object

        data = read_json_object(p, "a JSON object {arch string: score}")
        if data is None:
            raise InputError(f"missing score table: expected a file at {path}, but there is none")
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
