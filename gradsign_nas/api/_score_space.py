"""``gradsign_nas.score_space``: every NB201 architecture (or the first N) scored with one or more
proxies on fixed real CIFAR batches through the scoring engine (every GPU of the host, CPU cores, or
a Ray cluster), written as the whole-space score tables that assisted searches and correlations
look up."""

from __future__ import annotations

import os
from typing import Any, Optional

from ..errors import InputError
from ._checks import MAX_BATCH, MAX_PROCS, check_address, check_out_dir, names, positive_int
from ._results import ScoreSpaceResult
from .configs import ScoreSpaceConfig, make_config

NB201_SIZE = 15625


def score_space(config: Optional[ScoreSpaceConfig] = None, /, **options: Any) -> ScoreSpaceResult:
    """Score the NB201 space; the same as ``gradsign-nas score-space`` with the same option names.

    Args:
        config: a ``ScoreSpaceConfig``; ``options`` (its field names) override its fields.

    Returns:
        A ``ScoreSpaceResult``: ``.summary`` (throughput, workers, tables written), ``.scores``
        (``{proxy: {dataset: scores in index order}}``), ``.to_pandas()``.

    Examples:
        >>> r = gradsign_nas.score_space(first=8, cpu_procs=1, datasets="cifar10")  # doctest: +SKIP
        >>> r.summary["archs_per_s"]                                                # doctest: +SKIP
    """
    cfg = make_config(ScoreSpaceConfig, config, options)
    from .. import proxies as proxy_registry
    from ..benchmarks import load_batch
    from ..benchmarks.images import IMAGE_DATASETS
    from ..space_scoring import score_space as score_all
    from ..space_scoring import write_table

    datasets = names("datasets", cfg.datasets, IMAGE_DATASETS)
    qs = names("proxies", cfg.proxies, proxy_registry.available())
    positive_int("--score-batch-size", cfg.score_batch_size, 1, MAX_BATCH)
    positive_int("--seed", cfg.seed, 0)
    positive_int("--gpu-procs", cfg.gpu_procs, 0, MAX_PROCS)
    if cfg.cpu_procs is not None:
        positive_int("--cpu-procs", cfg.cpu_procs, 0, MAX_PROCS)
    if cfg.first is not None:
        positive_int("--first", cfg.first, 1, NB201_SIZE)
    if cfg.compile and cfg.gpu_procs < 1:
        raise InputError("expected --compile with --gpu-procs of at least 1 (it compiles the GPU pass), but got none")
    if cfg.compile:
        import torch

        if not torch.cuda.is_available():
            raise InputError("expected a CUDA GPU for --compile, but torch sees none on this machine")
    if cfg.out is not None:  # checked before hours of scoring, not after
        if cfg.first is not None:
            raise InputError("expected either --out (a whole-space table) or --first, but got both")
        if len(qs) > 1 and "{proxy}" not in str(cfg.out):
            raise InputError(f"expected --out to contain {{proxy}} when scoring {len(qs)} proxies, but got {cfg.out!r}")
        for q in qs:
            check_out_dir(str(cfg.out).replace("{proxy}", q), file_suffix=".npz")
    check_address(cfg.address)
    for d in datasets:  # fail on missing data before any work starts
        load_batch(d, cfg.score_batch_size, cfg.seed, cfg.data_dir)
    default_cpu = 0 if cfg.gpu_procs else (os.cpu_count() or 1)  # on a GPU host the GPUs do the work
    cpu = cfg.cpu_procs if cfg.cpu_procs is not None else default_cpu
    if cpu + cfg.gpu_procs < 1 and cfg.address is None:
        raise InputError("expected at least one scoring process, but got --gpu-procs 0 and --cpu-procs 0")
    n = cfg.first or NB201_SIZE
    res = score_all(
        range(n),
        datasets,
        cfg.score_batch_size,
        cfg.seed,
        cfg.data_dir,
        cfg.gpu_procs,
        cpu,
        progress=not cfg.no_progress,
        proxies=qs,
        address=cfg.address,
        compile=cfg.compile,
    )
    import numpy as np

    summary: dict[str, Any] = {
        "n": n,
        "n_datasets": len(datasets),
        "n_proxies": len(qs),
        "wall_s": round(res["wall_s"], 2),
        "archs_per_s": round(n / res["wall_s"], 2),
        "gpu_procs": cfg.gpu_procs,
        "cpu_procs": cpu,
        "compile": cfg.compile,
        "by_worker": res["by_worker"],
        "median_s": {q: {d: round(float(np.nanmedian(res["seconds"][q][d])), 4) for d in datasets} for q in qs},
    }
    if cfg.out is not None:
        summary["tables"] = []
        for q in qs:
            path = str(cfg.out).replace("{proxy}", q)
            write_table(
                path,
                res,
                datasets,
                cfg.score_batch_size,
                cfg.seed,
                {"workers": f"{cfg.gpu_procs} per GPU + {cpu} CPU", "compiled": cfg.compile},
                proxy=q,
            )
            summary["tables"].append(path)
    scores = {q: {d: np.asarray(res["scores"][q][d]) for d in datasets} for q in qs} if "scores" in res else {}
    return ScoreSpaceResult(summary, None, config=cfg, scores=scores)
