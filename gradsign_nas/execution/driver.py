"""The one run loop's bookkeeping: ask, tell, budget, record, replay. Every executor drives it.

An executor only decides *where* an evaluation runs and *when* its result comes back: the simulated
executor evaluates in this process on a simulated clock, the Tune adapter runs each proposal as a
Ray Tune trial, the sequential live loop trains one network after another. Each asks the
``Driver`` for the next proposal (``next``), runs it, and hands the outcome back (``complete`` or
``fail``). The driver tells the algorithm, enforces the budget, appends the record to the
``History`` (one schema for all) and tracks the best network.

Budgets. ``budget_s``: simulated seconds, as in NAS-Bench-201's scripts: each of ``workers`` slots
keeps a simulated clock advanced by each evaluation's cost (plus its proxy time with
``charge_proxy_time``); an evaluation that would end after the budget is discarded and ends its
slot; a slot whose clock has reached the budget asks once more and runs the proposal only if it is
budget-exempt (REA's initial population). ``trials``: at most that many proposals. Both may be set.

Resuming (the one replay rule). Every record carries its proposal number ``ask`` and
``told_before``, the number of records that existed when it was asked; records are written in the
order their results reached the algorithm. On start the driver replays the history: it asks the
algorithm again, interleaving asks and tells exactly as they happened, checks that every recorded
proposal is asked again identically (else the run has other settings: an ``InputError``), and tells
the recorded results instead of evaluating again. Only once every record has been replayed is the
history accepted (``History.accept``) and anything written, so a refused resume leaves the run
directory byte for byte as it was. Proposals that were asked but never recorded (in
flight when the run stopped) are handed out again first by ``next``.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Optional

from gradsign_nas.algorithms.base import Proposal, Result
from gradsign_nas.errors import DataError, InputError
from gradsign_nas.results import History

_log = logging.getLogger(__name__)

__all__ = ["Driver", "Pending", "RunResult", "budget_exempt", "check_budget", "check_workers"]

MAX_CONSECUTIVE_FAILURES = 50
MAX_BUDGET_S = 1e8  # simulated seconds: about 900,000 NB201 evaluations
MAX_WORKERS = 4096
MAX_TRIALS = 1_000_000


def _finite_result(result: Result) -> bool:
    try:
        m, c = float(result.metric), float(result.cost_s)
    except (TypeError, ValueError):
        return False
    return math.isfinite(m) and math.isfinite(c) and c >= 0


def budget_exempt(proposal: Proposal) -> bool:
    """Whether the algorithm marked ``proposal`` as exempt from the budget check
    (``meta["initial"]``: REA's initial population, which NB201's scripts do not budget-check)."""
    return bool(proposal.meta.get("initial"))


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_budget(budget_s: Any) -> float:
    if not _is_number(budget_s) or not math.isfinite(budget_s) or not 0 < budget_s <= MAX_BUDGET_S:
        raise InputError(f"budget must be a positive number of seconds up to {MAX_BUDGET_S:.0e}, but got {budget_s!r}")
    return float(budget_s)


def check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise InputError(f"workers must be an integer in 1..{MAX_WORKERS}, but got {workers!r}")
    return workers


def check_trials(trials: Any) -> int:
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise InputError(f"trials must be an integer in 1..{MAX_TRIALS:,}, but got {trials!r}")
    return trials


@dataclass
class RunResult:
    """The outcome of one search run.

    Attributes:
        best_arch: canonical string of the best-found architecture, or ``None``.
        best_index: its benchmark index where the space has one.
        best_metric: its search reward; ``best_fidelity``: the fidelity it was evaluated at.
        test: its test accuracy per dataset where the evaluator gives them (its ``test_metrics``).
        trajectory: ``{"time": [...], dataset: [...]}``: the best-so-far test accuracies each time
            the best changed, against the simulated time of that completion.
        n_evaluations: completed evaluations; ``n_discarded``: evaluations dropped because they would
            have ended after the budget; ``n_failed``: failed evaluations (live training).
        sim_time: simulated time of the last completion; ``stats``: ``algorithm.stats()``.
        n_replayed: records replayed from the history on resume (not part of the result's identity).
        wall_s: wall seconds the run took (not part of the result's identity).
    """

    best_arch: Optional[str]
    best_index: Optional[int]
    best_metric: Optional[float]
    best_fidelity: Any
    test: dict
    trajectory: dict
    n_evaluations: int
    n_discarded: int
    sim_time: float
    stats: dict = field(default_factory=dict)
    n_failed: int = 0
    n_replayed: int = field(default=0, compare=False)
    wall_s: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class Pending:
    """A proposal handed out by ``Driver.next`` and not yet resolved."""

    n: int
    proposal: Proposal
    told_before: int
    slot: int
    sim_start: float
    wall_start: float = 0.0


class Driver:
    """Ask/tell bookkeeping, budget, records and replay of one search (see the module docstring).

    Args:
        algorithm: an ``Algorithm`` (ask/tell/discard/stats).
        history: the ``History`` to record into and resume from (default: one in memory).
        budget_s: simulated-seconds budget, or ``None``.
        trials: most proposals to evaluate, or ``None``.
        workers: concurrent slots (simulated workers, or concurrent trials).
        charge_proxy_time: add each proposal's ``meta["proxy_cost_s"]`` to its simulated duration.
        progress: a tqdm bar label, or ``None`` for no bar.
        test_metrics: the evaluator's ``test_metrics`` (``{dataset: key of Result.extra}``): the test
            accuracies the result and ``best.json`` report; ``None``: the history's (none by default).
    """

    def __init__(
        self,
        algorithm,
        history: Optional[History] = None,
        *,
        budget_s: Optional[float] = None,
        trials: Optional[int] = None,
        workers: int = 1,
        charge_proxy_time: bool = False,
        progress: Optional[str] = None,
        test_metrics: Optional[Mapping[str, str]] = None,
    ) -> None:
        if budget_s is None and trials is None:
            raise InputError("expected a budget in simulated seconds or a number of trials, but got neither")
        self.algorithm = algorithm
        self.history = history if history is not None else History(None)
        if test_metrics is not None:
            self.history.use_test_metrics(test_metrics)
        self.budget_s = check_budget(budget_s) if budget_s is not None else None
        self.trials = check_trials(trials) if trials is not None else None
        self.workers = check_workers(workers)
        self.charge_proxy_time = bool(charge_proxy_time)
        self.free: list = [(0.0, w) for w in range(self.workers)]  # (simulated time a slot is free, slot)
        self.outstanding: dict[int, Pending] = {}
        self.queue: list[Pending] = []  # asked while replaying but never recorded: run these first
        self.n_asked = 0
        self.resolved = 0
        self.n_completed = self.n_discarded = self.n_failed = self.n_replayed = 0
        self.clock = 0.0
        self._space = getattr(algorithm, "space", None)
        self._persist = self.history.directory is not None
        self._consecutive_failures = 0
        self._bar = None
        if progress is not None:
            import sys

            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.trials, desc=progress, unit="trial", file=sys.stderr, dynamic_ncols=True, mininterval=0.2
            )
        self._replay()
        self.history.accept()  # every record replayed without a refusal: the history may be written now

    # -- asking ---------------------------------------------------------------------------------------
    def _ask(self) -> Optional[Pending]:
        while True:
            if self.trials is not None and self.n_asked >= self.trials:
                return None
            if not self.free:
                return None
            now, slot = heapq.heappop(self.free)
            p = self.algorithm.ask()
            n = self.n_asked
            self.n_asked += 1
            if self.budget_s is not None and now >= self.budget_s and not budget_exempt(p):
                self.algorithm.discard(p)  # this slot's budget is spent; the slot ends
                continue
            return Pending(n, p, self.resolved, slot, now)

    def next(self) -> Optional[Pending]:
        """The next proposal to evaluate, or ``None`` when none can be asked now (every slot busy, or
        the budget spent: then ``finished`` says whether the search is over)."""
        pend: Optional[Pending]
        if self.queue:
            pend = self.queue.pop(0)
        else:
            pend = self._ask()
            if pend is None:
                return None
        pend.wall_start = time.time()
        self.outstanding[pend.n] = pend
        return pend

    @property
    def finished(self) -> bool:
        """Nothing outstanding and nothing more to ask."""
        if self.outstanding or self.queue:
            return False
        return not self.free or (self.trials is not None and self.n_asked >= self.trials)

    # -- resolving ------------------------------------------------------------------------------------
    def duration(self, pend: Pending, result: Result, proxy_cost_s: Optional[float] = None) -> float:
        """Simulated seconds ``pend`` occupies its slot: its cost, plus its proxy time if charged."""
        dur = float(result.cost_s)
        if self.charge_proxy_time:
            pc = proxy_cost_s if proxy_cost_s is not None else (pend.proposal.meta or {}).get("proxy_cost_s")
            dur += float(pc or 0.0)
        return dur

    def end_time(self, pend: Pending, result: Result) -> float:
        """The simulated time ``pend`` ends at with ``result``."""
        return pend.sim_start + self.duration(pend, result)

    def overruns(self, pend: Pending, end: float) -> bool:
        """Whether an evaluation ending at simulated time ``end`` overruns the budget (and ``pend`` is
        not budget-exempt)."""
        return self.budget_s is not None and end > self.budget_s and not budget_exempt(pend.proposal)

    def _index(self, arch: Any, extra: dict) -> Optional[int]:
        if extra.get("index") is not None:
            return extra["index"]
        index = getattr(self._space, "index", None)
        if index is None:
            return None
        try:
            return int(index(arch))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def _record(self, pend: Pending, status: str, result: Optional[Result], end: Optional[float], worker: Any) -> dict:
        p = pend.proposal
        meta = p.meta or {}
        extra = dict(result.extra) if result is not None else {}
        if "budget" in meta:  # a nominal budget evaluated at p.fidelity (see results.best_key)
            extra["budget"] = meta["budget"]
        return {
            "ask": pend.n,
            "told_before": pend.told_before,
            "trial_id": p.trial_id,
            "arch": str(p.arch),
            "index": self._index(p.arch, extra),
            "fidelity": p.fidelity,
            "status": status,
            "metric": result.metric if result is not None else None,
            "cost_s": result.cost_s if result is not None else None,
            "sim_start": pend.sim_start,
            "sim_time": end,
            "wall_start": pend.wall_start,
            "wall_time": time.time(),
            "proxy": meta.get("proxy"),
            "proxy_cost_s": meta.get("proxy_cost_s"),
            "source": meta.get("source"),
            "worker": worker if worker is not None else pend.slot,
            "extra": extra,
        }

    def complete(
        self,
        pend: Pending,
        result: Result,
        worker: Any = None,
        end: Optional[float] = None,
        _recorded: Optional[dict] = None,
    ) -> dict:
        """``pend`` was evaluated: tell the algorithm (or discard it if it overran the budget), record
        it, and return the record (``record["status"]``; ``is_best(record)`` says if it is the best).
        ``end``: its simulated end time, if the caller computed it (``end_time``)."""
        p = pend.proposal
        if _recorded is None and not _finite_result(result):
            # a diverged training run (NaN loss) fails; a table that gives such numbers is corrupt,
            # and under a simulated-seconds budget it would never end the search
            if self.budget_s is not None:
                raise DataError(
                    f"expected a finite metric and a finite cost >= 0 for {p.arch}, but the evaluator "
                    f"returned metric {result.metric!r} and cost {result.cost_s!r}"
                )
            return self.fail(pend, f"non-finite result: metric {result.metric!r}, cost {result.cost_s!r}")
        self.outstanding.pop(pend.n, None)
        self._consecutive_failures = 0
        if _recorded is not None:
            end = pend.sim_start + self.duration(pend, result, _recorded.get("proxy_cost_s"))
        elif end is None:
            end = pend.sim_start + self.duration(pend, result)
        if self.overruns(pend, end):
            self.algorithm.discard(p)
            self.n_discarded += 1
            status = "discarded"  # the slot's search ends, as in NB201's scripts
        else:
            # algorithms maximise: a run that minimises its metric tells them its negative
            self.algorithm.tell(
                p, result if self.history.sign == 1 else Result(-result.metric, result.cost_s, result.extra)
            )
            self.n_completed += 1
            self.clock = end
            status = "completed"
            heapq.heappush(self.free, (end, pend.slot))
        self.resolved += 1
        if _recorded is not None:
            if status != _recorded["status"]:
                raise InputError(
                    f"expected the recorded evaluation {pend.n} to be {_recorded['status']} again when "
                    f"resuming, but it is {status} (a different budget or settings?)"
                )
            self._tick()
            return _recorded
        if not self._persist and (
            status != "completed"
            or not self.history.improves(
                p.meta["budget"] if "budget" in p.meta else result.extra.get("fidelity_reached", p.fidelity),
                result.metric,
            )
        ):
            # nothing to write and not a new best: skip building the record (the simulated hot path)
            if self._bar is not None:
                self._tick()
            return {"ask": pend.n, "status": status}
        rec = self._record(pend, status, result, end, worker)
        self.history.append(rec)
        _log.debug(
            "evaluation %d %s: %s at fidelity %s -> %.4g (cost %.4g s)",
            pend.n,
            status,
            rec["arch"],
            p.fidelity,
            result.metric,
            result.cost_s,
        )
        if self._bar is not None:
            self._tick()
        return rec

    def fail(self, pend: Pending, error: str = "", _recorded: Optional[dict] = None) -> dict:
        """``pend``'s evaluation failed: discard it, free its slot, record the failure. Raises
        ``DataError`` after ``MAX_CONSECUTIVE_FAILURES`` failures in a row (a search that cannot
        evaluate anything would otherwise ask forever)."""
        self.outstanding.pop(pend.n, None)
        self._consecutive_failures += 1
        if _recorded is None and self._consecutive_failures > MAX_CONSECUTIVE_FAILURES:
            raise DataError(
                f"expected evaluations to succeed, but {self._consecutive_failures} failed in a row "
                f"(the last: {str(error)[:200]}); stopping the search"
            )
        self.algorithm.discard(pend.proposal)
        self.n_failed += 1
        self.resolved += 1
        heapq.heappush(self.free, (pend.sim_start, pend.slot))
        if _recorded is not None:
            self._tick()
            return _recorded
        rec = self._record(pend, "failed", None, None, None)
        rec["extra"] = {"error": str(error)[:500]}
        self.history.append(rec)
        self._tick()
        return rec

    def is_best(self, rec: dict) -> bool:
        """Whether ``rec`` is the run's best record now."""
        best = self.history.best
        return best is not None and best.get("ask") == rec.get("ask")

    def _tick(self) -> None:
        if self._bar is not None:
            self._bar.update(1)
            if self.history.best is not None:
                self._bar.set_postfix(best=f"{self.history.best['metric']:.2f}", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    # -- replaying ------------------------------------------------------------------------------------
    def _replay(self) -> None:
        recs = list(self.history.records)
        if not recs:
            return
        told_before = {int(r["ask"]): int(r.get("told_before") or 0) for r in recs}
        asked: dict[int, Pending] = {}

        def must_ask(target: int) -> bool:
            n = self.n_asked
            if target not in asked and n <= target:
                return True  # the record's proposal has not been asked yet
            if n in told_before:  # a recorded proposal: asked once that many results had come
                return told_before[n] <= self.resolved
            return bool(self.free)  # never recorded (in flight): asked as soon as a slot was free

        for r in recs:
            target = int(r["ask"])
            while must_ask(target):
                n = self.n_asked
                if not self.free and n in told_before and told_before[n] <= self.resolved:
                    running = n - told_before[n]  # evaluations outstanding when it was asked
                    raise InputError(
                        f"expected {running + 1} or more concurrent trials to resume this run (proposal {n} was "
                        f"asked with {running} others running), but this run has {self.workers}; resume with the "
                        "recorded run's concurrency (the same Ray or --no-ray, CPUs and workers)"
                    )
                pend = self._ask()
                if pend is None:
                    break
                asked[pend.n] = pend
            pend = asked.pop(target, None)
            p = pend.proposal if pend is not None else None
            if pend is None or p is None or str(p.arch) != r["arch"] or p.fidelity != r.get("fidelity"):
                if p is None:
                    raise InputError(
                        f"expected the recorded proposal {target} to be asked again at its place when resuming, "
                        "but the replay never reaches it there (a history edited, reordered or from another run?)"
                    )
                raise InputError(
                    f"expected proposal {target} to match the recorded {r['arch']!r} at fidelity {r.get('fidelity')!r} "
                    f"when resuming, but the algorithm proposed {str(p.arch)!r} at {p.fidelity!r} (different seed or "
                    "settings, or an edited history?)"
                )
            if r["status"] == "failed":
                self.fail(pend, _recorded=r)
            else:
                try:
                    res = Result(float(r["metric"]), float(r["cost_s"]), r.get("extra") or {})
                except (TypeError, ValueError):
                    raise DataError(
                        f"expected a metric and cost in the recorded evaluation {target}, "
                        f"but got {r.get('metric')!r} and {r.get('cost_s')!r}"
                    ) from None
                self.complete(pend, res, _recorded=r)
            self.n_replayed += 1
        self.queue = [asked[n] for n in sorted(asked)]

    # -- the outcome ----------------------------------------------------------------------------------
    def result(self, wall_s: float = 0.0) -> RunResult:
        """The run's ``RunResult`` (from the history's best and best-so-far changes)."""
        h = self.history
        traj: dict = {"time": [c.get("sim_time") for c in h.best_changes]}
        for d, k in h.test_metrics.items():
            traj[d] = [(c.get("extra") or {}).get(k) for c in h.best_changes]
        stats = self.algorithm.stats() if hasattr(self.algorithm, "stats") else {}
        b = h.best or {}  # no completed evaluation: no best, no test accuracies
        extra = b.get("extra") or {}
        test = {d: extra[k] for d, k in h.test_metrics.items() if k in extra}
        return RunResult(
            b.get("arch"),
            b.get("index"),
            b.get("metric"),
            b.get("fidelity"),
            test,
            traj,
            self.n_completed,
            self.n_discarded,
            self.clock,
            stats,
            self.n_failed,
            self.n_replayed,
            wall_s,
        )

    def resume_message(self) -> Optional[str]:
        """One line on what was replayed, or ``None`` when nothing was."""
        if not self.n_replayed:
            return None
        parts = [f"{self.n_completed} completed"]
        if self.n_discarded:
            parts.append(f"{self.n_discarded} discarded (over budget)")
        if self.n_failed:
            parts.append(f"{self.n_failed} failed")
        return f"resumed: {self.n_replayed} recorded evaluations replayed ({', '.join(parts)})"
