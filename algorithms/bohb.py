"""BOHB (Falkner et al. 2018): Hyperband plus a KDE model, as NAS-Bench-201 ran it or as we improve it.

Two presets (``preset=``; any option passed explicitly overrides its preset's value):

- ``"nb201"`` (default): NAS-Bench-201's BOHB. ``scripts-search/algos/BOHB.sh`` @ 1d5e8de runs
  ``exps/algos/BOHB.py`` with ``--time_budget 12000 --n_iters 100 --num_samples 4
  --random_fraction 0``; BOHB.py @ ad34af9 keeps its argparse defaults ``min_bandwidth .3`` and
  ``bandwidth_factor 3``, builds hpbandster's ``BOHB(eta=3, min_budget=12, max_budget=200)`` and its
  ``MyWorker.compute`` returns the 12-epoch validation accuracy and time whatever the budget, so a
  promoted architecture is evaluated (and charged) again; the answer is hpbandster's incumbent, the
  best result at the largest budget. Here: Hyperband over hpbandster's budgets for 12..200 at eta 3
  (22.2, 66.7, 200: ``NB201_BUDGETS``), each evaluated at the evaluator's one fidelity and recorded
  as ``meta["budget"]`` (the run's best is then the best at the largest budget reached, see
  ``gradsign_nas.results.best_key``), hpbandster's own config generator (``sampler="hpbandster"``:
  4 samples, no random fraction, min bandwidth 0.3) and repeats allowed. When the evaluator offers
  several fidelities they are the rungs, as in ``"ours"``.
- ``"ours"``: Hyperband over the evaluator's fidelities and a model that learns on categorical spaces
  (``_kde``: 64 samples, 1/3 random, min bandwidth 1e-3, categorical bandwidths capped at half the
  uniform one) that never proposes an architecture again at a rung it was proposed at.

Schedule. With ``m`` rungs, ``s_max = m - 1`` and brackets cycle through ``s = s_max, ..., 0``:
bracket ``s`` starts ``n0 = floor((s_max+1)/(s+1)) * eta**s`` new configurations at rung
``s_max - s`` and successive halving promotes the best ``max(1, int(n0 * eta**-i))`` to each next
rung (hpbandster's formulas). With one rung every bracket is one new configuration, i.e. BOHB is its
model plus random fraction. Asynchronous workers: an ask takes the next job of the oldest bracket
that has one; when every open bracket waits on results (a rung not complete), a new bracket starts.
A discarded proposal leaves its rung with one result fewer.

Model. Per rung, the best ``top_n_percent`` (15) results form the good KDE ``l`` and the rest the
bad KDE ``g``, once more than ``min_points_in_model`` (decisions + 1) results exist (hpbandster's
``new_result``, unchanged); the model of the highest rung that has one proposes ``argmax l(x)/g(x)``
over ``num_samples`` draws from ``l``. A fraction ``random_fraction`` of new configurations, and all
before a model exists, are uniform samples. Every proposal's ``meta["source"]`` is ``"model"`` or
``"random"`` (promotions keep their configuration's source and add ``"promoted": True``);
``stats()`` reports the mean reward of model-proposed and random configurations at their first
evaluation, overall and per rung.

Assisted rule: where BOHB starts a new configuration, it draws K of them from the same source, K
independent model picks (each the best ``l/g`` of ``num_samples`` draws) when the draw is a model
draw or K uniform samples when it is random, and evaluates the one with the highest proxy score at
the rung the Hyperband schedule gives. Promotions are the schedule's choice and stay unassisted.
(The GradSign paper's released variant threw the model's sample away and ignored the budget.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

import numpy as np

from gradsign_nas.errors import InputError

from ._parameters import Parameter
from .base import Algorithm, Proposal, Result


def hyperband_budgets(min_budget: float, max_budget: float, eta: float = 3) -> tuple:
    """hpbandster's budgets: ``max_budget * eta**-i`` for ``i = n-1 .. 0``, ``n = 1 + int(log_eta(max/min))``."""
    n = -int(np.log(min_budget / max_budget) / np.log(eta)) + 1
    return tuple(float(b) for b in max_budget * np.power(eta, -np.linspace(n - 1, 0, n)))


#: hpbandster's budgets for NB201's ``BOHB(eta=3, min_budget=12, max_budget=200)``: 22.2, 66.7, 200
NB201_BUDGETS = hyperband_budgets(12, 200, 3)


@dataclass
class _Bracket:
    s: int
    sizes: list
    budgets: list
    rung: int = 0
    queue: list = field(default_factory=list)  # None = a new configuration, else a promoted (arch, meta)
    running: dict = field(default_factory=dict)  # trial_id -> arch
    done: list = field(default_factory=list)  # (reward, order, arch, meta) of the current rung

    @property
    def finished(self) -> bool:
        return not self.queue and not self.running and self.rung >= len(self.sizes)


class BOHB(Algorithm):
    """Hyperband with a TPE-style KDE model of good vs bad configurations.

    Args:
        space, seed, assistant, fidelities: see ``Algorithm`` (``fidelities`` must be sortable).
        preset: ``"nb201"`` (default) or ``"ours"`` (see the module); the options below default to it.
        eta: Hyperband's halving rate (3).
        random_fraction: share of new configurations drawn uniformly (nb201 0, ours 1/3).
        top_n_percent: share of results forming the good KDE (15).
        num_samples: draws from ``l`` per model pick (nb201 4, ours 64).
        bandwidth_factor: hpbandster's widening of continuous bandwidths (3; this space has none).
        min_points_in_model: results needed before fitting (default decisions + 1).
        min_bandwidth: lower bound of each bandwidth (nb201 0.3, ours 1e-3).
        max_bandwidth: cap on categorical bandwidths as a fraction of the uniform ``(c-1)/c`` (0.5;
            used by ``sampler="ours"`` only).
        sampler: ``"hpbandster"`` (nb201) or ``"ours"`` (see ``_kde``).
        dedupe: never propose a new configuration at a rung it was already proposed at: the model
            picks the best ``l/g`` among its draws not proposed yet, and when none is new (or the draw
            is random) a uniform sample is drawn again, up to ``MAX_REDRAWS`` times (ours True, nb201
            False: the model may propose its favourite again and again).
        budgets: nominal Hyperband budgets, lowest first, used when the evaluator offers one fidelity
            (each is evaluated at that fidelity); nb201 ``NB201_BUDGETS``, ours ``None`` (one rung).
        warmup: assisted only, ours: zero-cost warm-up: score ``warmup`` uniform samples and start the
            first bracket from the best of them (as many as its first rung holds, and at least enough
            for the model to fit: ``min_points_in_model + 1``); best of K after that (0: off; ``None``:
            the assistance policy's).
    """

    MAX_REDRAWS = 20

    name = "bohb"

    #: the user-settable options (``budgets`` is left to Python: a tuple); ``None``: the preset's value
    PARAMETERS = {
        "preset": Parameter(
            str, "nb201", "nb201 (NAS-Bench-201's BOHB) or ours (the learning BOHB)", choices=("nb201", "ours")
        ),
        "eta": Parameter(float, 3, "Hyperband's halving rate", low=1.0, low_open=True),
        "random_fraction": Parameter(
            float, None, "share of new configurations drawn uniformly (nb201 0, ours 1/3)", 0.0, 1.0
        ),
        "top_n_percent": Parameter(int, None, "share of results forming the good KDE (15)", 0, 100, True, True),
        "num_samples": Parameter(int, None, "draws from the good KDE per model pick (nb201 4, ours 64)", low=1),
        "bandwidth_factor": Parameter(
            float, None, "hpbandster's widening of continuous bandwidths (3)", low=0.0, low_open=True
        ),
        "min_points_in_model": Parameter(int, None, "results needed before fitting (decisions + 1)", low=1),
        "min_bandwidth": Parameter(
            float, None, "lower bound of each bandwidth (nb201 0.3, ours 1e-3)", 0.0, 1.0, True, True
        ),
        "max_bandwidth": Parameter(
            float, None, "cap on categorical bandwidths, a fraction of the uniform one (0.5)", 0.0, 1.0
        ),
        "sampler": Parameter(str, None, "hpbandster (nb201) or ours", choices=("hpbandster", "ours")),
        "dedupe": Parameter(bool, None, "never propose a configuration again at a rung (nb201 false, ours true)"),
    }

    #: each preset's settings; an option passed explicitly overrides its preset's value
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # NAS-Bench-201's BOHB: scripts-search/algos/BOHB.sh @ 1d5e8de (--num_samples 4 --random_fraction 0)
        # and exps/algos/BOHB.py @ ad34af9 (argparse defaults min_bandwidth .3, bandwidth_factor 3;
        # BOHB(eta=3, min_budget=12, max_budget=200); hpbandster's own config generator)
        "nb201": dict(
            random_fraction=0.0,
            top_n_percent=15,
            num_samples=4,
            bandwidth_factor=3.0,
            min_bandwidth=0.3,
            max_bandwidth=0.5,
            sampler="hpbandster",
            dedupe=False,
            budgets=NB201_BUDGETS,
        ),
        # ours: a model that learns on categorical spaces and never pays twice for an architecture
        "ours": dict(
            random_fraction=1 / 3,
            top_n_percent=15,
            num_samples=64,
            bandwidth_factor=3.0,
            min_bandwidth=1e-3,
            max_bandwidth=0.5,
            sampler="ours",
            dedupe=True,
            budgets=None,
        ),
    }

    def __init__(
        self,
        space,
        seed,
        assistant=None,
        fidelities=None,
        *,
        preset: str = "nb201",
        eta: float = 3,
        random_fraction: Optional[float] = None,
        top_n_percent: Optional[int] = None,
        num_samples: Optional[int] = None,
        bandwidth_factor: Optional[float] = None,
        min_points_in_model=None,
        min_bandwidth: Optional[float] = None,
        max_bandwidth: Optional[float] = None,
        sampler: Optional[str] = None,
        dedupe: Optional[bool] = None,
        budgets: Optional[tuple] = None,
        warmup: Optional[int] = None,
    ) -> None:
        super().__init__(space, seed, assistant, fidelities)
        self.warmup = self._warmup_samples(warmup)
        self._warm: Optional[list] = None
        if preset not in self.PRESETS:
            raise InputError(f"expected preset {' or '.join(map(repr, self.PRESETS))}, but got {preset!r}")
        given: dict[str, Any] = dict(
            random_fraction=random_fraction,
            top_n_percent=top_n_percent,
            num_samples=num_samples,
            bandwidth_factor=bandwidth_factor,
            min_bandwidth=min_bandwidth,
            max_bandwidth=max_bandwidth,
            sampler=sampler,
            dedupe=dedupe,
            budgets=budgets,
        )
        o = {k: (self.PRESETS[preset][k] if v is None else v) for k, v in given.items()}
        self.preset = preset
        checks = (
            ("eta", eta, 1.0, math.inf, False),
            ("random_fraction", o["random_fraction"], 0.0, 1.0, True),
            ("top_n_percent", o["top_n_percent"], 0.0, 100.0, False),
            ("num_samples", o["num_samples"], 0.0, math.inf, False),
            ("bandwidth_factor", o["bandwidth_factor"], 0.0, math.inf, False),
            ("min_bandwidth", o["min_bandwidth"], 0.0, 1.0, False),
            ("max_bandwidth", o["max_bandwidth"], 0.0, 1.0, True),
        )
        for label, v, lo, hi, closed in checks:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (lo <= v <= hi if closed else lo < v < hi)
            if not ok:
                raise InputError(
                    f"expected {label} in {'[' if closed else '('}{lo:g}, {hi:g}{']' if closed else ')'}, but got {v!r}"
                )
        if self.fidelities != (None,):
            try:
                if list(self.fidelities) != sorted(self.fidelities) or len(set(self.fidelities)) != len(
                    self.fidelities
                ):
                    raise TypeError
            except TypeError:
                raise InputError(f"expected distinct fidelities lowest first, but got {self.fidelities!r}") from None
        self.eta, self.random_fraction, self.num_samples = (
            float(eta),
            float(o["random_fraction"]),
            int(o["num_samples"]),
        )
        if not isinstance(o["dedupe"], bool):
            raise InputError(f"expected dedupe to be True or False, but got {o['dedupe']!r}")
        self.dedupe = o["dedupe"]
        # nominal budgets: Hyperband's rungs when the evaluator offers one fidelity, each evaluated at that
        # fidelity (NB201's worker ignores the budget); with several fidelities, they are the rungs
        nominal = o["budgets"] if len(self.fidelities) == 1 else None
        if nominal is not None:
            try:
                nominal = tuple(float(b) for b in nominal)
                if not nominal or list(nominal) != sorted(set(nominal)) or nominal[0] <= 0:
                    raise TypeError
            except (TypeError, ValueError):
                raise InputError(f"expected budgets as increasing positive numbers, but got {o['budgets']!r}") from None
        self.budgets = nominal
        self._rungs = nominal if nominal is not None else self.fidelities
        self._proposed: set = set()  # (arch, rung) of every new configuration proposed
        self._proposed_vec: dict = {}  # rung -> the model's vectors of those configurations
        self._n_new = 0
        self._decisions = list(self.space.decisions)
        self._modelled = [d for d in self._decisions if len(d.choices) > 1]
        self._fixed = {d.name: d.choices[0] for d in self._decisions if len(d.choices) == 1}
        self._index = {d.name: {c: i for i, c in enumerate(d.choices)} for d in self._modelled}
        from ._kde import CategoricalKDEModel

        self.model = CategoricalKDEModel(
            [len(d.choices) for d in self._modelled],
            self.rng,
            top_n_percent=o["top_n_percent"],
            min_points_in_model=min_points_in_model,
            min_bandwidth=o["min_bandwidth"],
            bandwidth_factor=o["bandwidth_factor"],
            max_bandwidth=o["max_bandwidth"],
            sampler=o["sampler"],
        )
        self.s_max = len(self._rungs) - 1
        self._brackets: list[_Bracket] = []
        self._next_s = self.s_max
        self._order = 0
        self._owner: dict[int, _Bracket] = {}
        self._first: list[tuple[Optional[str], Any, float]] = []  # (source, rung, reward) of new configurations

    # -- schedule --------------------------------------------------------------------------------
    def _new_bracket(self) -> _Bracket:
        s = self._next_s
        self._next_s = self._next_s - 1 if self._next_s > 0 else self.s_max
        n0 = int(math.floor((self.s_max + 1) / (s + 1)) * self.eta**s)
        sizes = [max(int(n0 * self.eta ** (-i)), 1) for i in range(s + 1)]
        b = _Bracket(s=s, sizes=sizes, budgets=list(self._rungs[self.s_max - s :]), queue=[None] * sizes[0])
        self._brackets.append(b)
        return b

    def _vector(self, arch) -> np.ndarray:
        config = self.space.encode(arch)
        return np.array([self._index[d.name][config[d.name]] for d in self._modelled], dtype=np.int64)

    def _decode(self, vector) -> Any:
        config = dict(self._fixed)
        config.update({d.name: d.choices[int(v)] for d, v in zip(self._modelled, vector)})
        return self.space.decode(config)

    def _draw(self, k: int, fidelity: Any, source: Optional[str] = None) -> tuple[list, str]:
        if source is None:
            source = "model" if self.model.ready and self.rng.random() >= self.random_fraction else "random"
        if source == "model":
            exclude = None
            if self.dedupe:  # the best l/g among the draws not proposed at this fidelity yet
                seen = self._proposed_vec.get(fidelity, set())
                exclude = (
                    (lambda x: np.fromiter((tuple(r) in seen for r in x.tolist()), bool, len(x))) if seen else None
                )
            return [self._decode(v) for v in self.model.propose(k, self.num_samples, exclude)], "model"
        return [self.space.sample(self.rng) for _ in range(k)], "random"

    def _new_config(self, fidelity: Any) -> tuple[Any, dict]:
        if self.assistant is not None and self.warmup:
            if self._warm is None:  # zero-cost warm-up: the first design is the top of M scored samples
                take = max(self._brackets[0].sizes[0] if self._brackets else 1, self.model.min_points_in_model + 1)
                self._warm = self._warm_up(self.warmup, take)
            while self._warm:
                arch, meta = self._warm.pop(0)
                if not self.dedupe or (arch, fidelity) not in self._proposed:
                    self._n_new += 1
                    self._mark_proposed(arch, fidelity)
                    return arch, {"source": "warmup", **meta}
        k = 1 if self.assistant is None else self.assistant.policy.draws
        cands, source = self._draw(k, fidelity)
        if self.dedupe:  # never pay twice for an architecture already proposed at this fidelity
            for _ in range(self.MAX_REDRAWS):
                fresh = [c for c in cands if (c, fidelity) not in self._proposed]
                if fresh:
                    cands = fresh
                    break
                cands, source = self._draw(k, fidelity, "random")  # the model had nothing new: uniform samples
        self._n_new += 1
        arch, meta = (cands[0], {}) if self.assistant is None else self._assist(cands)
        self._mark_proposed(arch, fidelity)
        return arch, {"source": source, **meta}

    def _mark_proposed(self, arch, rung) -> None:
        self._proposed.add((arch, rung))
        if self._modelled:
            self._proposed_vec.setdefault(rung, set()).add(tuple(self._vector(arch).tolist()))

    def ask(self) -> Proposal:
        bracket = next((b for b in self._brackets if b.queue), None) or self._new_bracket()
        job = bracket.queue.pop(0)
        if job is None:
            arch, meta = self._new_config(bracket.budgets[bracket.rung])
        else:
            arch, meta = job[0], {**job[1], "promoted": True}
            if "proxy_cost_s" in meta:
                meta["proxy_cost_s"] = 0.0  # paid when the configuration was first chosen
        rung = bracket.budgets[bracket.rung]
        meta.update(bracket=bracket.s, rung=bracket.rung)
        if self.budgets is not None:  # a nominal budget, evaluated at the evaluator's one fidelity
            meta["budget"] = rung
            rung = self.fidelities[-1]
        p = self._proposal(arch, fidelity=rung, **meta)
        bracket.running[p.trial_id] = arch
        self._owner[p.trial_id] = bracket
        return p

    def _close_rung(self, b: _Bracket) -> None:
        if b.queue or b.running:
            return
        b.rung += 1
        if b.rung < len(b.sizes) and b.done:
            best = sorted(b.done, key=lambda t: (-t[0], t[1]))[: b.sizes[b.rung]]
            b.queue = [(arch, meta) for _, _, arch, meta in best]
        else:
            b.rung = len(b.sizes)
        b.done = []
        if b.finished:
            self._brackets.remove(b)

    def tell(self, proposal: Proposal, result: Result) -> None:
        reward = self._reward(result)
        self.space.check(proposal.arch)
        self._take(proposal)
        b = self._owner.pop(proposal.trial_id)
        del b.running[proposal.trial_id]
        meta = {k: v for k, v in proposal.meta.items() if k not in ("bracket", "rung", "promoted", "budget")}
        rung = proposal.meta["budget"] if self.budgets is not None else proposal.fidelity
        b.done.append((reward, self._order, proposal.arch, meta))
        self._order += 1
        if not proposal.meta.get("promoted"):
            self._first.append((proposal.meta.get("source"), rung, reward))
        self.model.add(self._vector(proposal.arch), self._rungs.index(rung), -reward)
        self._close_rung(b)

    def discard(self, proposal: Proposal) -> None:
        self._take(proposal)
        b = self._owner.pop(proposal.trial_id)
        del b.running[proposal.trial_id]
        self._close_rung(b)

    # -- report ----------------------------------------------------------------------------------
    def stats(self) -> dict:
        def summary(rows):
            out = {}
            for src in ("model", "random"):
                r = [x[2] for x in rows if x[0] == src]
                out[f"{src}_mean_reward"] = float(np.mean(r)) if r else None
                out[f"{src}_count"] = len(r)
            return out

        by_fid = {}
        for f in self._rungs:
            rows = [x for x in self._first if x[1] == f]
            if rows:
                by_fid[str(f)] = summary(rows)
        return {
            **summary(self._first),
            "by_fidelity": by_fid,
            "model_fidelity": None if self.model.budget is None else self._rungs[self.model.budget],
            "open_brackets": len(self._brackets),
            "new_configs": self._n_new,
            "unique_new_configs": len(self._proposed),
        }
