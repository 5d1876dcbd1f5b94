"""``gradsign_nas.correlate``: score sampled architectures with a proxy and correlate the scores with
the benchmark's accuracy (NB201: 200-epoch test accuracy of ``dataset``; nb101/darts: the
500-architecture subsets' validation accuracy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..errors import InputError
from ._checks import MAX_BATCH, MAX_PROCS, check_address, check_device, check_out_dir, positive_int
from ._results import CorrelateResult
from ._tabular import resolve_scores
from .configs import CorrelateConfig, make_config


def default_out(cfg: CorrelateConfig) -> Path:
    """Where a correlation writes without ``out``: ``out/correlate/<space>-<dataset>-<proxy>-s<seed>``."""
    return Path("out") / "correlate" / f"{cfg.space}-{cfg.dataset}-{cfg.proxy}-s{cfg.seed}"


def correlate(config: Optional[CorrelateConfig] = None, /, **options: Any) -> CorrelateResult:
    """Score architectures with a proxy and report Spearman's rho and Kendall's tau against the
    benchmark's accuracy; the same as ``gradsign-nas correlate`` with the same option names. Writes
    scores.csv, scatter.png and summary.json into ``out``. Computed scores are cached, so a second
    call is instant.

    Args:
        config: a ``CorrelateConfig``; ``options`` (its field names) override its fields.

    Returns:
        A ``CorrelateResult``: ``.summary`` (space, dataset, proxy, n, spearman, kendall, seconds),
        ``.to_pandas()`` (one row per architecture: score and accuracy).

    Examples:
        >>> r = gradsign_nas.correlate(proxy="synflow", scores="table", all=True)  # doctest: +SKIP
        >>> r.summary["spearman"]                                                   # doctest: +SKIP
    """
    cfg = make_config(CorrelateConfig, config, options)
    from .. import proxies
    from ..correlation import check_space_dataset, correlate_proxy, load_targets, write_outputs

    # everything that can be wrong is checked before any work and before out exists
    check_space_dataset(cfg.space, cfg.dataset)
    source = resolve_scores(cfg.scores, cfg.space, cfg.proxy, cfg.dataset, cfg.score_batch_size, cfg.seed)
    for name in cfg.proxy.split("+") if source == "table" else [cfg.proxy]:
        proxies.get(name)
    if source == "table":
        from ..assist import TableScorer

        if cfg.space != "nb201":
            raise InputError(
                f"expected --scores table with the nb201 space (the only one with whole-space tables), "
                f"but got {cfg.space!r}"
            )
        TableScorer.nb201(cfg.dataset, cfg.proxy)  # a missing table fails now
    if cfg.sample is not None and cfg.all:
        raise InputError("expected either --sample or --all, but got both")
    if cfg.sample is not None and not (isinstance(cfg.sample, int) and cfg.sample >= 2):
        raise InputError(f"expected --sample of at least 2 architectures, but got {cfg.sample!r}")
    positive_int("--score-batch-size", cfg.score_batch_size, 1, MAX_BATCH)
    positive_int("--seed", cfg.seed, 0)
    if cfg.workers is not None:
        positive_int("--workers", cfg.workers, 1, MAX_PROCS)
    device = check_device(cfg.device)
    check_address(cfg.address)
    out = Path(cfg.out) if cfg.out is not None else default_out(cfg)
    check_out_dir(cfg.out if cfg.out is not None else str(out))
    check_out_dir(cfg.cache, "cache", file_suffix="", existing_parent=True)
    targets = load_targets(cfg.space, cfg.dataset, cfg.data_dir)
    total = len(targets[0])
    if cfg.sample is not None and cfg.sample > total:
        raise InputError(f"expected --sample of at most the {total} architectures of {cfg.space}, but got {cfg.sample}")

    run = correlate_proxy(
        cfg.space,
        cfg.dataset,
        cfg.proxy,
        sample=total if cfg.all else cfg.sample,
        seed=cfg.seed,
        batch_size=cfg.score_batch_size,
        directory=cfg.data_dir,
        workers=cfg.workers,
        device=device,
        address=cfg.address,
        cache=False if cfg.no_cache else cfg.cache,
        progress=not cfg.no_progress,
        targets=targets,
        scores_from="table" if source == "table" else "computed",
    )
    paths = write_outputs(run, out)
    import json

    summary = json.loads(Path(paths["summary"]).read_text())  # exactly what summary.json holds
    return CorrelateResult(summary, out, config=cfg, run=run, paths=paths)
