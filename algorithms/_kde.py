"""The KDE model of BOHB for categorical search spaces, built on hpbandster's config generator.

hpbandster 0.7.4's ``BOHB`` config generator keeps, per budget, the evaluated configurations and
losses, splits them into the best ``top_n_percent`` ("good") and the rest ("bad"), and fits one
statsmodels ``KDEMultivariate`` to each (Aitchison-Aitken kernel for categorical dimensions,
``normal_reference`` bandwidths). Its model proposes, of ``num_samples`` draws from the good KDE,
the one maximising ``l(x) / g(x)``. This module keeps that fitting (``new_result``, unchanged) and
fixes what makes it fail on categorical spaces such as NAS-Bench-201:

1. Bandwidths. ``normal_reference`` treats choice indices as numbers and gives bandwidths ~0.8-1.1;
   an Aitchison-Aitken kernel over c choices puts ``1 - bw`` on the datum's choice and ``bw/(c-1)``
   on each other one, so ``bw = (c-1)/c`` is uniform and anything above prefers the choices *unlike*
   the data. Fitted categorical bandwidths are therefore capped at ``max_bandwidth * (c-1)/c``
   (default 0.5: the datum's choice keeps at least ``(1+c)/(2c)`` of the mass, 0.6 for c = 5).
2. Normalisation. statsmodels' kernel divides by the number of choices *seen in the data* (a
   division by zero when all points agree: hpbandster's "l(x) = nan"); here it uses the decision's
   real number of choices.
3. Randomness. hpbandster draws from the global ``np.random``; all draws here come from the
   algorithm's ``numpy.random.Generator``, and the hpbandster code that still runs (fitting) does so
   under a saved-and-restored global state seeded from that generator.
4. Speed. Candidate sampling and the ``l/g`` ratio are vectorised (one numpy expression for all
   ``num_samples`` draws) instead of one statsmodels call per draw.

``sampler="hpbandster"`` keeps none of these fixes for proposals: each pick is hpbandster 0.7.4's own
``BOHB.get_config`` (its uncapped statsmodels bandwidths, its sampling loop, its fallback to a
uniform configuration), run under a global state seeded from the algorithm's generator. That is the
model NAS-Bench-201's ``exps/algos/BOHB.py`` used.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from types import SimpleNamespace

import numpy as np

from gradsign_nas.errors import InputError


@contextlib.contextmanager
def contained_global_rng(rng: np.random.Generator):
    """Run code that draws from the global ``np.random`` with a state seeded from ``rng``, then
    restore the caller's global state (so the code is reproducible and leaks nothing)."""
    state = np.random.get_state()
    np.random.seed(int(rng.integers(2**32)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        np.random.set_state(state)


_GENERATOR = None


def _generator_class():
    """hpbandster's BOHB config generator with a fast path in its imputation of inactive values: a
    space without conditions has none, and hpbandster's per-row loop made every refit O(n) slow."""
    global _GENERATOR
    if _GENERATOR is None:
        from hpbandster.optimizers.config_generators.bohb import BOHB as HpBandSterBOHB

        class _Generator(HpBandSterBOHB):
            def impute_conditional_data(self, array):
                if not np.isnan(array).any():
                    return np.array(array, copy=True)
                return super().impute_conditional_data(array)

        _GENERATOR = _Generator
    return _GENERATOR


class CategoricalKDEModel:
    """BOHB's good/bad KDE model over a space's categorical decisions.

    Args:
        sizes: number of choices of each modelled decision (each >= 2).
        rng: the generator every draw comes from.
        top_n_percent, min_points_in_model, min_bandwidth, bandwidth_factor: hpbandster's options.
        max_bandwidth: cap on each categorical bandwidth as a fraction of the uniform one ``(c-1)/c``.
        sampler: ``"ours"`` (the vectorised, capped sampler above) or ``"hpbandster"`` (its own
            ``get_config``; ``max_bandwidth`` then plays no part in proposals).
    """

    def __init__(
        self,
        sizes,
        rng: np.random.Generator,
        *,
        top_n_percent: int = 15,
        min_points_in_model=None,
        min_bandwidth: float = 1e-3,
        bandwidth_factor: float = 3.0,
        max_bandwidth: float = 0.5,
        sampler: str = "ours",
    ) -> None:
        import ConfigSpace as CS

        if sampler not in ("ours", "hpbandster"):
            raise InputError(f"expected sampler 'ours' or 'hpbandster', but got {sampler!r}")
        self.sampler = sampler

        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.rng = rng
        self.max_bandwidth = float(max_bandwidth)
        self._cap = self.max_bandwidth * (self.sizes - 1) / self.sizes
        cs = CS.ConfigurationSpace(seed=int(rng.integers(2**31)))
        self._names = [f"x{i}" for i in range(len(self.sizes))]
        for name, c in zip(self._names, self.sizes):
            cs.add(CS.CategoricalHyperparameter(name, list(range(int(c)))))
        quiet = logging.getLogger("gradsign_nas.bohb.hpbandster")
        quiet.setLevel(logging.ERROR)
        with contained_global_rng(rng):
            self._gen = _generator_class()(
                cs,
                min_points_in_model=min_points_in_model,
                top_n_percent=top_n_percent,
                num_samples=64,
                random_fraction=0.0,
                bandwidth_factor=bandwidth_factor,
                min_bandwidth=min_bandwidth,
                logger=quiet,
            )
        self.min_points_in_model = self._gen.min_points_in_model
        self._fitted: dict = {}  # budget -> (good data, good bw, bad data, bad bw) after the cap
        self._job = SimpleNamespace(exception=None, result=None, kwargs=None, id=None)

    # -- data ------------------------------------------------------------------------------------
    def add(self, vector, budget, loss: float) -> None:
        """Register one result (``vector``: choice indices; lower ``loss`` is better)."""
        self._job.result = {"loss": float(loss)}
        self._job.kwargs = {"budget": budget, "config": {n: int(v) for n, v in zip(self._names, vector)}}
        with contained_global_rng(self.rng):
            self._gen.new_result(self._job)
        kde = self._gen.kde_models.get(budget)
        if kde is not None:
            good, bad = kde["good"], kde["bad"]
            self._fitted[budget] = (
                np.rint(good.data).astype(np.int64),
                self._clip(good.bw),
                np.rint(bad.data).astype(np.int64),
                self._clip(bad.bw),
            )

    def _clip(self, bw) -> np.ndarray:
        return np.minimum(np.maximum(np.asarray(bw, dtype=np.float64), self._gen.min_bandwidth), self._cap)

    @property
    def ready(self) -> bool:
        return bool(self._fitted)

    @property
    def budget(self):
        """The largest budget with a fitted model (the one hpbandster samples from)."""
        return max(self._fitted) if self._fitted else None

    def bandwidths(self) -> dict:
        return {b: {"good": f[1].tolist(), "bad": f[3].tolist()} for b, f in self._fitted.items()}

    # -- the model ---------------------------------------------------------------------------------
    def _log_density(self, x: np.ndarray, data: np.ndarray, bw: np.ndarray) -> np.ndarray:
        """log of the product Aitchison-Aitken KDE at rows of ``x`` (normalised over all c choices):
        ``k_d = 1 - bw_d`` where ``x_d`` equals the datum's choice, else ``bw_d / (c_d - 1)``.
        (A loop over decisions, not a matrix product: small BLAS calls stall on a loaded machine.)"""
        same, other = np.log1p(-bw), np.log(bw / (self.sizes - 1))
        per_point = np.full((len(x), len(data)), other.sum())  # [M, n]
        for d in range(x.shape[1]):
            per_point += (same[d] - other[d]) * (x[:, d, None] == data[None, :, d])
        top = per_point.max(axis=1, keepdims=True)
        return top[:, 0] + np.log(np.exp(per_point - top).mean(axis=1))

    def density(self, x, good: bool = True) -> np.ndarray:
        """The good (``l``) or bad (``g``) density at ``x`` ([M, D] choice indices)."""
        gd, gbw, bd, bbw = self._fitted[self.budget]
        x = np.atleast_2d(np.asarray(x, dtype=np.int64))
        return np.exp(self._log_density(x, gd, gbw) if good else self._log_density(x, bd, bbw))

    def propose(self, k: int = 1, num_samples: int = 64, exclude=None) -> np.ndarray:
        """``k`` independent model picks ([k, D]): each the best ``l/g`` of ``num_samples`` draws from ``l``
        (``exclude(x) -> bool mask``: draws not to pick, e.g. configurations already proposed; a pick
        whose draws are all excluded is the best of them anyway)."""
        if self.sampler == "hpbandster":
            return self._propose_hpbandster(k, num_samples)
        gd, gbw, bd, bbw = self._fitted[self.budget]
        n, D = k * num_samples, len(self.sizes)
        datum = gd[self.rng.integers(len(gd), size=n)]
        move = self.rng.random((n, D)) < gbw[None, :]
        shift = 1 + np.floor(self.rng.random((n, D)) * (self.sizes - 1)[None, :]).astype(np.int64)
        x = np.where(move, (datum + shift) % self.sizes[None, :], datum)
        score = self._log_density(x, gd, gbw) - self._log_density(x, bd, bbw)
        if exclude is not None:
            score = np.where(exclude(x), -np.inf, score)
        best = score.reshape(k, num_samples).argmax(axis=1)
        return x.reshape(k, num_samples, D)[np.arange(k), best]

    def _propose_hpbandster(self, k: int, num_samples: int) -> np.ndarray:
        """``k`` picks of hpbandster's own ``get_config`` (``num_samples`` draws each); a pick its loop
        gives up on is its uniform configuration, as in hpbandster."""
        self._gen.num_samples = int(num_samples)
        rows = []
        for _ in range(k):
            with contained_global_rng(self.rng):
                config, _info = self._gen.get_config(self.budget)
            rows.append([int(config[n]) for n in self._names])
        return np.asarray(rows, dtype=np.int64)
