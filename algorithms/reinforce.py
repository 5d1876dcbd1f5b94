"""REINFORCE (Williams 1992) with NAS-Bench-201's settings (scripts-search/algos/REINFORCE.sh @ 1d5e8de,
line 38: ``--learning_rate 0.001 --EMA_momentum 0.9``).

The policy is one independent categorical distribution per decision of the space (NB201: the op on
each of the 6 edges), ``softmax(logits)``, logits initialised to ``1e-3 * N(0, 1)``. Each proposal
samples every decision from the current policy. Each result updates the policy with one Adam step
(NB201: learning rate 0.001, betas (0.9, 0.999), eps 1e-8) on the loss
``-(reward - baseline) * log pi(arch)``, where the baseline is a bias-corrected exponential moving
average of the rewards (momentum 0.9) updated with the reward first, as NB201's code does. The
reward is ``result.metric``. With several proposals outstanding, each is a sample of the policy at
the time of the ask, and each result's gradient is taken at the policy of the time of the tell
(with one worker the two are the same policy, as in NB201).

Assisted rule: draw K architectures from the current policy and evaluate the one with the highest
proxy score; the policy update uses the log-probability of that evaluated architecture (not of
another sample, a bug of the GradSign paper's released variant).

Zero-cost warm-up (assisted only, ours; M, the top share and the learning rate after it are the
assistance policy's ``warmup``, ``warmup_top`` and ``warmup_learning_rate``, or ``warmup=M``,
``warmup_top=``): before the first proposal, score M uniform samples and pre-train the policy on
the proxy's ranks: each decision's logits become the log of the smoothed frequencies of its choices
among the best-scored ``warmup_top`` share of the M (add-one smoothing: the maximum-likelihood
factorised policy of the top of the proxy ranking); REINFORCE and best of K then go on from that
policy, at the policy's ``warmup_learning_rate`` when it sets one. The M scores' cost is charged to
the first proposal.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from gradsign_nas.errors import InputError

from ._parameters import Parameter
from .base import Algorithm, Proposal, Result


class Reinforce(Algorithm):
    """Policy-gradient search over the space's categorical decisions.

    Args:
        space, seed, assistant, fidelities: see ``Algorithm``.
        learning_rate: Adam's step size (NB201: 0.001).
        momentum: of the moving-average reward baseline (NB201: 0.9).
        init_scale: standard deviation of the initial logits (NB201: 1e-3).
        warmup, warmup_top: the zero-cost warm-up (see the module; 0: off): M samples, share of them
            the policy is fitted to (``None``: the assistance policy's; without one 0 and 0.1).
    """

    name = "reinforce"

    PARAMETERS = {
        "learning_rate": Parameter(float, 0.001, "Adam's step size (NB201: 0.001)", low=0.0, low_open=True),
        "momentum": Parameter(
            float, 0.9, "momentum of the moving-average reward baseline (NB201: 0.9)", 0.0, 1.0, True, True
        ),
        "init_scale": Parameter(float, 1e-3, "standard deviation of the initial logits (NB201: 1e-3)", low=0.0),
    }

    def __init__(
        self,
        space,
        seed,
        assistant=None,
        fidelities=None,
        *,
        learning_rate: float = 0.001,
        momentum: float = 0.9,
        init_scale: float = 1e-3,
        warmup: Optional[int] = None,
        warmup_top: Optional[float] = None,
    ) -> None:
        super().__init__(space, seed, assistant, fidelities)
        self.warmup = self._warmup_samples(warmup)
        policy = self.policy
        if warmup_top is None:
            warmup_top = 0.1 if policy is None or policy.warmup_top is None else policy.warmup_top
        if self.warmup and policy is not None and policy.warmup_learning_rate is not None:
            learning_rate = policy.warmup_learning_rate  # the warm-up's own rate replaces the algorithm's
        if isinstance(warmup_top, bool) or not isinstance(warmup_top, (int, float)) or not 0 < warmup_top <= 1:
            raise InputError(f"expected warmup_top in (0, 1], but got {warmup_top!r}")
        self.warmup_top = float(warmup_top)
        self._warm_cost: Optional[float] = None  # the warm-up's proxy cost, until charged
        for label, v, lo, hi in (
            ("learning_rate", learning_rate, 0.0, np.inf),
            ("momentum", momentum, 0.0, 1.0),
            ("init_scale", init_scale, 0.0, np.inf),
        ):
            ok = (
                isinstance(v, (int, float))
                and not isinstance(v, bool)
                and (lo < v < hi or (label == "init_scale" and v == 0))
            )
            if not ok:
                raise InputError(f"expected {label} in ({lo:g}, {hi:g}), but got {v!r}")
        self.learning_rate, self.momentum = float(learning_rate), float(momentum)
        self._decisions = list(self.space.decisions)
        sizes = np.array([len(d.choices) for d in self._decisions])
        self._index = [{c: i for i, c in enumerate(d.choices)} for d in self._decisions]
        D, C = len(sizes), int(sizes.max())
        self._mask = np.arange(C)[None, :] < sizes[:, None]
        self.logits = np.where(self._mask, float(init_scale) * self.rng.standard_normal((D, C)), -np.inf)
        self._m = np.zeros((D, C))
        self._v = np.zeros((D, C))
        self._t = 0
        self._num = 0.0  # baseline numerator / denominator (bias-corrected EMA)
        self._den = 0.0

    # -- the policy ------------------------------------------------------------------------------
    def probabilities(self) -> np.ndarray:
        """``[decisions, max choices]`` probabilities of the current policy (0 where no choice)."""
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _sample(self, probs: np.ndarray):
        u = self.rng.random(len(self._decisions))
        idx = (np.cumsum(probs, axis=1) < u[:, None]).sum(axis=1)
        idx = np.minimum(idx, self._mask.sum(axis=1) - 1)  # guard against round-off at the top
        return self.space.decode({d.name: d.choices[int(i)] for d, i in zip(self._decisions, idx)})

    def _actions(self, arch) -> np.ndarray:
        config = self.space.encode(arch)
        return np.array([self._index[k][config[d.name]] for k, d in enumerate(self._decisions)])

    def log_prob(self, arch) -> float:
        """``log pi(arch)`` under the current policy."""
        p = self.probabilities()
        a = self._actions(arch)
        return float(np.log(p[np.arange(len(a)), a]).sum())

    @property
    def baseline(self) -> float:
        return self._num / self._den if self._den else 0.0

    # -- ask / tell ------------------------------------------------------------------------------
    def _pretrain(self) -> None:
        """Fit the policy to the top ``warmup_top`` of ``warmup`` proxy-scored uniform samples."""
        top = self._warm_up(self.warmup, max(1, int(round(self.warmup * self.warmup_top))))
        counts = np.zeros_like(self._m)
        for arch, _ in top:
            counts[np.arange(len(self._decisions)), self._actions(arch)] += 1
        sizes = self._mask.sum(axis=1, keepdims=True)
        freq = (counts + 1.0) / (len(top) + sizes)
        self.logits = np.where(self._mask, np.log(np.where(self._mask, freq, 1.0)), -np.inf)
        self._warm_cost = top[0][1]["proxy_cost_s"] if top else 0.0

    def ask(self) -> Proposal:
        if self.assistant is not None and self.warmup and self._warm_cost is None:
            self._pretrain()
        probs = self.probabilities()
        arch, meta = self._choose(lambda: self._sample(probs))
        if self._warm_cost:
            meta["proxy_cost_s"] = meta.get("proxy_cost_s", 0.0) + self._warm_cost
            meta["warmup"] = self.warmup
            self._warm_cost = 0.0
        return self._proposal(arch, **meta)

    def tell(self, proposal: Proposal, result: Result) -> None:
        reward = self._reward(result)
        self.space.check(proposal.arch)
        self._take(proposal)
        actions = self._actions(proposal.arch)
        self._num = self.momentum * self._num + (1 - self.momentum) * reward
        self._den = self.momentum * self._den + (1 - self.momentum)
        advantage = reward - self.baseline
        # d/dlogits of -(advantage * log pi(a)) = -advantage * (onehot(a) - p)
        probs = self.probabilities()
        onehot = np.zeros_like(probs)
        onehot[np.arange(len(actions)), actions] = 1.0
        grad = -advantage * (onehot - probs)
        self._adam(grad)

    def discard(self, proposal: Proposal) -> None:
        self._take(proposal)

    def _adam(self, grad: np.ndarray, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self._t += 1
        self._m = beta1 * self._m + (1 - beta1) * grad
        self._v = beta2 * self._v + (1 - beta2) * grad * grad
        m_hat = self._m / (1 - beta1**self._t)
        v_hat = self._v / (1 - beta2**self._t)
        step = self.learning_rate * m_hat / (np.sqrt(v_hat) + eps)
        self.logits = np.where(self._mask, self.logits - step, -np.inf)

    def best(self):
        """The policy's most probable architecture (what NB201's script reports at the end)."""
        idx = np.argmax(self.logits, axis=1)
        return self.space.decode({d.name: d.choices[int(i)] for d, i in zip(self._decisions, idx)})

    def stats(self) -> dict:
        p = self.probabilities()
        return {
            "baseline": self.baseline,
            "updates": self._t,
            "policy_argmax": str(self.best()),
            "policy_max_prob": float(np.prod(p.max(axis=1))),
        }
