"""What a live search's answer is measured against, beyond its own reward.

- The final evaluation, as NAS papers report it: the search's best network (or its top N by
  reward) trained again from scratch for ``final_epochs`` on the training and validation images
  together, with its own seed, and scored once on a test split held out of the training images
  that the search never saw (``final_test_acc``). Each final training is a run of its own under
  ``<run dir>/final/<arch hash>/`` through the one executor interface, so it is recorded, replayed
  when finished and run as a Ray Tune trial like the search's.
- The free ground truth on NAS-Bench-201 cells: when the space is nb201, the images CIFAR-10 and the
  NB201 tables are in the data directory, every recorded cell has NAS-Bench-201's own 200-epoch test
  accuracies (the table's number for the same cell, trained by NB201's protocol, not by this search),
  and the search's reward can be checked against them (``reward_rank_agreement``).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Optional

import numpy as np

_log = logging.getLogger("gradsign_nas.search")

#: the held-out share of the training images when a final evaluation is asked for without test_fraction
DEFAULT_TEST_FRACTION = 0.2
NB201_KEYS = {"cifar10": "nb201_cifar10_test", "cifar100": "nb201_cifar100_test", "ImageNet16-120": "nb201_IN16_test"}
TRUTH_NOTE = (
    "nb201_*_test: NAS-Bench-201's 200-epoch test accuracy of the same cell (its table, trained by NB201's "
    "protocol), not a number this search measured"
)


def test_fraction(cfg: Any) -> float:
    """The share of the training images held out for the final evaluation (0 without one)."""
    if cfg.final_epochs is None:
        return 0.0
    return DEFAULT_TEST_FRACTION if cfg.test_fraction is None else float(cfg.test_fraction)


def top_archs(run_dir: Path, n: int, metric: str) -> list[str]:
    """The ``n`` best distinct architectures of a search by reward (ties: the first found)."""
    from ..results import read_history

    done = [r for r in read_history(run_dir) if r["status"] == "completed" and r["metric"] is not None]
    sign = -1.0 if metric.endswith("loss") else 1.0
    order = sorted(done, key=lambda r: -sign * float(r["metric"]))  # stable: ties keep the order found
    return list(dict.fromkeys(r["arch"] for r in order))[:n]


def final_dir(run_dir: Path, arch: str, epochs: int) -> Path:
    """The run folder of one final training: ``<run dir>/final/<epochs>ep-<hash of the arch>``."""
    return Path(run_dir) / "final" / f"{int(epochs)}ep-{hashlib.sha256(arch.encode()).hexdigest()[:12]}"


def final_evaluation(cfg: Any, evaluator, run_dir: Path, backend_of) -> list[dict]:
    """Train the top ``final_top`` networks of the search in ``run_dir`` from scratch (see the module
    docstring) and return ``[{"rank", "arch", "final_test_acc", "final_test_loss", "seconds", "dir"}]``;
    ``backend_of(evaluator)`` gives the backend the trainings run on (the search's kind). Trainings
    already recorded (e.g. run as trials of a multiplexed comparison, ``final_trainings``) are replayed."""
    from ..execution import execute

    out = []
    for rank, d, alg, fev, history in final_trainings(cfg, evaluator, run_dir):
        res = execute(backend_of(fev), alg, history, trials=1)
        if res.n_replayed:
            _log.info("final evaluation of %s: replayed, not re-run", alg.archs[0])
        out.append(final_row(rank, d))
    return out


def final_seed(cfg: Any) -> int:
    """The seed of a search's final trainings."""
    from ..benchmarks.live import stable_seed

    return stable_seed(cfg.seed, "final")


def final_trainings(cfg: Any, evaluator, run_dir: Path, fev=None):
    """Each final training of the search in ``run_dir``, its history opened (so locked): yields
    ``(rank, folder, FixedProposals algorithm, final evaluator, History)``; ``fev``: the final
    evaluator if already made (``evaluator.for_final(final_epochs, final_seed(cfg))``)."""
    from ..execution.fixed import FixedProposals
    from ..execution.live import open_history

    fev = fev if fev is not None else evaluator.for_final(cfg.final_epochs, final_seed(cfg))
    for rank, arch in enumerate(top_archs(run_dir, cfg.final_top, cfg.metric)):
        d = final_dir(run_dir, arch, cfg.final_epochs)
        info = {
            "command": "final",
            "arch": arch,
            "final_epochs": cfg.final_epochs,
            "seed": fev.seed,
            "test_fraction": test_fraction(cfg),
            "request": {"rank": rank, "search": str(run_dir)},
        }
        history = open_history(fev, d, info)
        yield rank, d, FixedProposals(fev.space, [fev.space.parse(arch)], cfg.final_epochs), fev, history


def final_row(rank: int, d: Path) -> dict:
    """What one final training recorded (from its folder's files)."""
    from ..results import read_best

    best = read_best(d) or {}
    extra = best.get("extra") or {}
    return {
        "rank": rank,
        "arch": best.get("arch"),
        "final_test_acc": best.get("metric"),
        "final_test_loss": extra.get("valid_loss"),
        "seconds": best.get("cost_s"),
        "dir": str(d),
    }


def read_finals(run_dir: Path, epochs: int) -> list[dict]:
    """The final evaluations of ``epochs`` epochs recorded under ``run_dir``, best-ranked first."""
    from ..results import read_run_info

    rows = []
    for d in sorted((Path(run_dir) / "final").glob(f"{int(epochs)}ep-*")):
        info = read_run_info(d) or {}
        if (d / "best.json").exists():
            rows.append(final_row(int((info.get("request") or {}).get("rank", 0)), d))
    return sorted(rows, key=lambda r: r["rank"])


def nb201_truth(cfg: Any):
    """NAS-Bench-201's table when it tells the truth about this search's cells (nb201 space, CIFAR-10
    images, the tables in the data directory), else ``None``."""
    if cfg.space != "nb201" or not (isinstance(cfg.data, str) and cfg.data == "cifar10"):
        return None
    from ..benchmarks import NB201Benchmark
    from ..errors import DataError

    try:
        return NB201Benchmark(cfg.data_dir)
    except DataError:
        _log.info("no NB201 tables in the data directory: no ground truth for the found cells")
        return None


def truth_of(bench, arch: Optional[str]) -> dict:
    """``{nb201_cifar10_test, nb201_cifar100_test, nb201_IN16_test}`` of one cell (``{}`` without)."""
    if bench is None or arch is None:
        return {}
    cell = bench.space.parse(arch)
    return {key: float(bench.query(cell, f"{d}_test")) for d, key in NB201_KEYS.items()}


def rank_agreement(records: list[dict], bench) -> Optional[dict]:
    """How well the search's reward ranks its cells: Spearman of the trained rewards against the NB201
    CIFAR-10 test accuracy of the same cells, and of the proxy scores (where recorded) against both."""
    if bench is None:
        return None
    from scipy.stats import spearmanr

    done = [r for r in records if r["status"] == "completed" and r.get("metric") is not None]
    if not done:
        return {"spearman": None, "n": 0}
    truth = np.asarray([truth_of(bench, r["arch"])["nb201_cifar10_test"] for r in done])
    reward = np.asarray([float(r["metric"]) for r in done])

    def rho(a, b) -> Optional[float]:
        if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
            return None
        return float(spearmanr(a, b).statistic)

    out: dict[str, Any] = {"spearman": rho(reward, truth), "n": len(done)}
    scored = [i for i, r in enumerate(done) if r.get("proxy") is not None]
    if scored:
        proxy = np.asarray([float(done[i]["proxy"]) for i in scored])
        out.update(
            proxy_vs_test=rho(proxy, truth[scored]), proxy_vs_reward=rho(proxy, reward[scored]), n_proxy=len(scored)
        )
    return out
