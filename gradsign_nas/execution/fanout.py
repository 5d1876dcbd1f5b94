"""Many independent tabular search runs (seeds x algorithms x variants), in-process or as Ray tasks.

One simulated NB201 run takes milliseconds, so a Ray task per run would be mostly overhead: runs are
cut into chunks, each chunk one Ray task that returns compact per-run results (a few numbers and the
best-so-far trajectory). The shared context (evaluator tables, proxy scores) goes into Ray's object
store once and is loaded once per worker process. ``workers=1`` (and no ``address``) runs everything
in this process without Ray.

Example:
    >>> specs = make_specs(["rs", "rea"], ["vanilla", "assisted"], runs=500, seed=0)   # doctest: +SKIP
    >>> rows = run_all(specs, Context(evaluator, scorer=scorer), workers=2)           # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from gradsign_nas._io import jsonable
from gradsign_nas.benchmarks.evaluator import test_metrics_of
from gradsign_nas.errors import InputError

from .._ray import ray_session
from .driver import check_budget, check_workers
from .simulated import SimulatedExecutor

VARIANTS = ("vanilla", "assisted")

__all__ = ["Context", "RunSpec", "VARIANTS", "make_specs", "run_all", "run_chunk", "run_one", "run_seed"]


@dataclass(frozen=True)
class RunSpec:
    """One run: ``algorithm`` (registry name), ``variant`` (vanilla/assisted), run number, seed."""

    algorithm: str
    variant: str
    run: int
    seed: int


@dataclass
class Context:
    """What every run shares.

    Args:
        evaluator: the tabular evaluator (e.g. ``NB201TabularEvaluator``).
        budget_s: search budget in simulated seconds; ``workers``: simulated workers per run.
        fidelities: the fidelities the algorithms may use (NB201: ``(12,)`` or ``(12, 200)``).
        scorer: the ``ProxyScorer`` of assisted runs (``None``: only vanilla runs are possible).
        k: candidates per assisted proposal; ``charge_proxy_time``: charge proxy seconds to the budget.
        options: extra keyword options per algorithm name.
        factory: builds an algorithm as ``factory(name, space, seed, assistant=, fidelities=, **options)``
            (default ``gradsign_nas.algorithms.get``); must be picklable for Ray.
    """

    evaluator: Any
    budget_s: float = 12000.0
    workers: int = 1
    fidelities: tuple = (12,)
    scorer: Any = None
    k: int = 10
    charge_proxy_time: bool = False
    options: dict = field(default_factory=dict)
    factory: Optional[Callable] = None

    def __post_init__(self) -> None:
        self.budget_s = check_budget(self.budget_s)
        self.workers = check_workers(self.workers)


def run_seed(seed: int, run: int) -> int:
    """The seed of run ``run`` of a comparison seeded ``seed`` (the same for every algorithm and
    variant, so run r of vanilla and assisted start from the same generator state)."""
    return int(np.random.SeedSequence([int(seed), int(run)]).generate_state(1)[0])


def make_specs(algorithms: Sequence[str], variants: Sequence[str], runs: int, seed: int) -> list[RunSpec]:
    """Every (algorithm, variant, run) with its seed."""
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise InputError(f"runs must be a positive integer, but got {runs!r}")
    from gradsign_nas.strategies import available

    for v in variants:
        if v not in VARIANTS and v not in available():
            raise InputError(f"expected variants among {', '.join(VARIANTS + tuple(available()))}, but got {v!r}")
    seeds = [run_seed(seed, r) for r in range(runs)]
    return [RunSpec(a, v, r, seeds[r]) for a in algorithms for v in variants for r in range(runs)]


def build_algorithm(spec: RunSpec, ctx: Context):
    """The algorithm of ``spec``: vanilla, best of ``ctx.k`` (assisted), or set up as the strategy
    ``spec.variant`` names, its assistant built by ``gradsign_nas.assist.build_assistance``, with the
    options ``ctx.options`` gives its algorithm."""
    from gradsign_nas.algorithms import EXECUTOR_KEYWORDS
    from gradsign_nas.assist import build_assistance

    if spec.variant != "vanilla" and ctx.scorer is None:
        raise InputError(f"expected proxy scores for a {spec.variant} run, but got none (missing score table)")
    assistant, extra = build_assistance(spec.variant, spec.algorithm, ctx.scorer, ctx.k)
    given = dict(ctx.options.get(spec.algorithm, {}))
    clash = sorted(set(given) & (set(extra) | set(EXECUTOR_KEYWORDS)))
    if clash:
        raise InputError(
            f"expected options of {spec.algorithm} other than {', '.join(clash)}, which the "
            f"{'executor' if set(clash) & set(EXECUTOR_KEYWORDS) else spec.variant + ' strategy'} sets"
        )
    options = {**given, **extra}
    factory = ctx.factory
    if factory is None:
        from gradsign_nas.algorithms import get as default_factory

        factory = default_factory
    space = getattr(ctx.evaluator, "space", None)
    if space is None:
        raise InputError("expected an evaluator that names its search space (evaluator.space), but it names none")
    return factory(spec.algorithm, space, spec.seed, assistant=assistant, fidelities=ctx.fidelities, **options)


def run_one(spec: RunSpec, ctx: Context) -> dict:
    """Run ``spec`` and return its compact result (a JSON-ready dict)."""
    alg = build_algorithm(spec, ctx)
    r = SimulatedExecutor(alg, ctx.evaluator, ctx.budget_s, ctx.workers, ctx.charge_proxy_time).run()
    proxy_scores = getattr(alg, "proxy_scores", 0)
    row = {
        "algorithm": spec.algorithm,
        "variant": spec.variant,
        "run": spec.run,
        "seed": spec.seed,
        "best_arch": r.best_arch,
        "best_index": r.best_index,
        "best_metric": r.best_metric,
        "best_fidelity": r.best_fidelity,
    }
    for d in test_metrics_of(ctx.evaluator):
        row[d] = r.test.get(d)
    row.update(
        {
            "n_evaluations": r.n_evaluations,
            "n_discarded": r.n_discarded,
            "sim_time": r.sim_time,
            "wall_s": r.wall_s,
            "trajectory": r.trajectory,
            "stats": jsonable(r.stats),
            "proxy_scores": proxy_scores,
        }
    )
    return row


def run_chunk(specs: Sequence[RunSpec], ctx: Context) -> list[dict]:
    """Run several specs one after the other (what one Ray task does)."""
    return [run_one(s, ctx) for s in specs]


_WORKER_CTX: dict = {}


def _ray_chunk(ctx_box: list, specs: Sequence[RunSpec]) -> list[dict]:
    """Ray task body: fetch the shared context once per worker process, then run the chunk."""
    import ray

    ref = ctx_box[0]
    key = ref.hex()
    ctx = _WORKER_CTX.get(key)
    if ctx is None:
        _WORKER_CTX.clear()
        ctx = _WORKER_CTX[key] = ray.get(ref)
    return run_chunk(specs, ctx)


def run_all(
    specs: Sequence[RunSpec],
    ctx: Context,
    workers: Optional[int] = 1,
    address: Optional[str] = None,
    progress: bool = True,
    chunk_size: Optional[int] = None,
) -> list[dict]:
    """Run every spec and return their compact results in the order of ``specs``.

    Args:
        specs: the runs (``make_specs``).
        ctx: what they share.
        workers: local processes; 1 (and no ``address``) runs in this process without Ray;
            ``None``: all local cores.
        address: an existing Ray cluster's address (then its CPUs are used).
        progress: show a tqdm progress bar (on stderr).
        chunk_size: runs per Ray task (default: about 8 tasks per CPU, at most 64 runs each).
    """
    from tqdm.auto import tqdm

    specs = list(specs)
    if workers is not None:
        check_workers(workers)
    if not specs:
        return []
    if workers == 1 and not address:
        out = []
        for s in tqdm(specs, disable=not progress, unit="run", mininterval=0.5):
            out.append(run_one(s, ctx))
        return out
    import ray

    with ray_session(workers, address):
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        size = chunk_size or max(1, min(64, -(-len(specs) // (8 * cpus))))
        chunks = [specs[i : i + size] for i in range(0, len(specs), size)]
        task = ray.remote(num_cpus=1, max_retries=3)(_ray_chunk)
        box = [ray.put(ctx)]
        refs = {task.remote(box, c): i for i, c in enumerate(chunks)}
        results: list = [None] * len(chunks)
        pending = list(refs)
        with tqdm(total=len(specs), disable=not progress, unit="run", mininterval=0.5) as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    i = refs[ref]
                    results[i] = ray.get(ref)
                    bar.update(len(chunks[i]))
        return [row for chunk in results for row in chunk]
