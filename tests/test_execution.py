"""Executors: the NB201 tabular evaluator, the simulated clock (NB201 protocol, W workers), Ray Tune
and the fan-out of many runs."""

import itertools
import os

import numpy as np
import pytest

from gradsign_nas import algorithms
from gradsign_nas.algorithms.base import Algorithm
from gradsign_nas.assist import Assistant, TableScorer
from gradsign_nas.benchmarks import NB201Benchmark
from gradsign_nas.benchmarks.nb201_evaluator import NB201TabularEvaluator
from gradsign_nas.execution import RayTuneExecutor, SimulatedExecutor, make_specs, run_all
from gradsign_nas.execution.fanout import Context
from gradsign_nas.plots import curves_on_grid
from gradsign_nas.results import History, read_history


class TinyRS(Algorithm):
    """Uniform random search on the base class only; ``meta`` set by the test."""

    name = "tiny"

    def __init__(self, space, seed, meta=None, exempt_first=0, **kw):
        super().__init__(space, seed, **kw)
        self.meta = meta or {}
        self.exempt_first = exempt_first
        self.told, self.discarded = [], []

    def ask(self):
        meta = dict(self.meta)
        if self._next_id < self.exempt_first:
            meta["initial"] = True
        return self._proposal(self.space.sample(self.rng), **meta)

    def tell(self, proposal, result):
        self.told.append((proposal, result))

    def discard(self, proposal):
        self.discarded.append(proposal)


@pytest.fixture(scope="module")
def bench(data_path):
    return NB201Benchmark(data_path)


@pytest.fixture(scope="module")
def evaluator(bench):
    return NB201TabularEvaluator(bench)


@pytest.fixture(scope="module")
def oracle(bench):
    """A proxy that is the CIFAR-10 test accuracy itself: assistance must help."""
    return TableScorer(dict(zip(bench.archs, bench.column("cifar10_test").tolist())))


# -- the evaluator ---------------------------------------------------------------------------------
def test_evaluator_rewards_costs_and_test_accuracies(bench, evaluator):
    space = evaluator.space
    for i in (0, 6111, 9930, 15624):
        arch = space.from_index(i)
        r12, r200 = evaluator.evaluate(arch, 12), evaluator.evaluate(str(arch), 200)
        q = bench.query(i)
        assert r12.metric == q["cifar10_valid_12"] and r200.metric == q["cifar10_valid_200"]
        assert r12.cost_s == pytest.approx(q["cost_12"] + q["valid_epoch_s"])
        assert r200.cost_s == pytest.approx(200 * q["train_epoch_s"] + q["valid_epoch_s"])
        assert r12.extra == r200.extra
        assert r12.extra["index"] == i and r12.extra["cifar10_test"] == q["cifar10_test"]
        assert r12.extra["ImageNet16-120_test"] == q["ImageNet16-120_test"]
    mean_cost = np.mean([evaluator.evaluate(space.from_index(i), 12).cost_s for i in range(len(evaluator))])
    assert mean_cost == pytest.approx(112.84, abs=0.01)  # FINDINGS.md: 12 epochs + one validation pass


@pytest.mark.parametrize("bad", ["|conv~0|+|none~0|none~1|", ("nor_conv_3x3",) * 6, 15625, 1.5])
def test_evaluator_rejects_archs_from_elsewhere(evaluator, bad):
    with pytest.raises(ValueError):
        evaluator.evaluate(bad, 12)


def test_evaluator_rejects_unknown_fidelity(evaluator):
    with pytest.raises(ValueError, match="fidelities"):
        evaluator.evaluate(evaluator.space.from_index(0), 50)


# -- the simulated executor ------------------------------------------------------------------------
def test_nb201_protocol_discards_the_overrunning_evaluation(evaluator):
    alg = TinyRS("nb201", 0, fidelities=(12,))
    r = SimulatedExecutor(alg, evaluator, budget_s=3000).run()
    spent = sum(res.cost_s for _, res in alg.told)
    assert len(alg.told) == r.n_evaluations and len(alg.discarded) == r.n_discarded == 1
    assert spent <= 3000 < spent + evaluator.evaluate(alg.discarded[0].arch, 12).cost_s
    assert r.sim_time == pytest.approx(spent)
    # best by search reward, first found on ties; its test accuracies come from the tables
    rewards = [res.metric for _, res in alg.told]
    first_best = alg.told[int(np.argmax(rewards))][0]
    assert r.best_arch == str(first_best.arch) and r.best_metric == max(rewards)
    assert r.test["cifar10"] == evaluator.test_accuracies(first_best.arch)["cifar10_test"]
    assert r.trajectory["time"] == sorted(r.trajectory["time"]) and r.trajectory["cifar10"][-1] == r.test["cifar10"]


def test_budget_exempt_proposals_are_always_kept(evaluator):
    # NB201's REA trains its initial population without checking the budget
    alg = TinyRS("nb201", 1, exempt_first=5, fidelities=(12,))
    r = SimulatedExecutor(alg, evaluator, budget_s=150).run()
    assert r.n_evaluations == 5 and r.sim_time > 150
    assert all(p.meta.get("initial") for p, _ in alg.told)
    assert len(alg.discarded) == 1 and not alg.discarded[0].meta.get("initial")


def test_same_seed_same_run_other_seed_other_run(evaluator):
    def once(seed):
        return SimulatedExecutor(algorithms.get("rea", "nb201", seed, fidelities=(12,)), evaluator, 5000).run()

    assert once(3) == once(3)
    assert once(3).trajectory != once(4).trajectory


def test_clock_never_reads_wall_time(evaluator, monkeypatch):
    from gradsign_nas.execution import base, driver

    def run():
        return SimulatedExecutor(TinyRS("nb201", 5, fidelities=(12,)), evaluator, 4000, workers=2).run()

    plain = run()
    ticks = itertools.count()

    class JumpyClock:  # wall time that leaps by hours at every read
        @staticmethod
        def time():
            return 1e9 + 3600.0 * next(ticks)

        perf_counter = time

    for module in (base, driver):  # every wall-clock read of a simulated search
        monkeypatch.setattr(module, "time", JumpyClock)
    assert run() == plain


def test_parallel_workers_overlap_on_the_simulated_clock(evaluator, tmp_path):
    W = 4
    with History(tmp_path) as h:
        r = SimulatedExecutor(TinyRS("nb201", 2, fidelities=(12,)), evaluator, 3000, workers=W, history=h).run()
    recs = [x for x in read_history(tmp_path) if x["status"] == "completed"]
    ends = [x["sim_time"] for x in recs]
    assert ends == sorted(ends)  # told in order of simulated completion
    assert all(e <= 3000 for e in ends) and r.n_discarded == W
    events = sorted([(x["sim_start"], 1) for x in recs] + [(x["sim_time"], -1) for x in recs])
    busy = np.cumsum([e[1] for e in events])
    assert busy.max() == W  # W evaluations run at once, never more
    single = SimulatedExecutor(TinyRS("nb201", 2, fidelities=(12,)), evaluator, 3000).run()
    assert r.n_evaluations > 3 * single.n_evaluations


def test_charged_proxy_time_shrinks_the_search(evaluator):
    free = SimulatedExecutor(TinyRS("nb201", 0, meta={"proxy_cost_s": 50.0}, fidelities=(12,)), evaluator, 6000).run()
    charged = SimulatedExecutor(
        TinyRS("nb201", 0, meta={"proxy_cost_s": 50.0}, fidelities=(12,)), evaluator, 6000, charge_proxy_time=True
    ).run()
    assert charged.n_evaluations < free.n_evaluations


def test_bad_budget_and_workers(evaluator):
    alg = TinyRS("nb201", 0)
    for bad in (0, -5, float("nan")):
        with pytest.raises(ValueError, match="budget"):
            SimulatedExecutor(alg, evaluator, budget_s=bad)
    with pytest.raises(ValueError, match="workers"):
        SimulatedExecutor(alg, evaluator, workers=0)


@pytest.mark.parametrize("name", ["rs", "rea", "reinforce", "bohb"])
def test_every_algorithm_vanilla_and_assisted(evaluator, oracle, name, tmp_path):
    fids = (12, 200) if name == "bohb" else (12,)
    runs = {}
    for variant, assistant in (("vanilla", None), ("assisted", Assistant(oracle, 10))):
        with History(tmp_path / variant) as h:
            alg = algorithms.get(name, "nb201", 0, assistant=assistant, fidelities=fids)
            runs[variant] = SimulatedExecutor(alg, evaluator, 4000, history=h).run()
    for variant, r in runs.items():
        recs = read_history(tmp_path / variant)
        done = [x for x in recs if x["status"] == "completed"]
        assert r.n_evaluations == len(done) > 0 and sum(x["cost_s"] for x in done) <= 4000
        assert {x["fidelity"] for x in done} <= set(fids)
        # assisted proposals carry the proxy score of the evaluated arch (new configurations at least)
        proxied = [x for x in done if x["proxy"] is not None]
        if variant == "vanilla":
            assert not proxied
        else:
            assert proxied and all(x["proxy"] == oracle.score(x["arch"]) for x in proxied)


# -- many runs -------------------------------------------------------------------------------------
def test_fanout_in_process_is_seeded_and_ordered(evaluator, oracle):
    ctx = Context(evaluator, budget_s=2000, scorer=oracle)
    specs = make_specs(["rs", "rea"], ["vanilla", "assisted"], runs=3, seed=7)
    rows = run_all(specs, ctx, workers=1, progress=False)
    assert [(r["algorithm"], r["variant"], r["run"]) for r in rows] == [(s.algorithm, s.variant, s.run) for s in specs]
    assert len({s.seed for s in specs}) == 3  # run r shares its seed across algorithms and variants
    again = run_all(specs[:2], ctx, workers=1, progress=False)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "wall_s"} for r in rs]  # noqa: E731
    assert strip(again) == strip(rows[:2])
    grid = np.linspace(0, 2000, 50)
    curves = curves_on_grid(rows, grid, "cifar10")
    assert curves.shape == (len(rows), 50)
    last = curves[:, -1]
    assert np.allclose(last, [r["cifar10"] for r in rows])


def test_missing_scores_for_assisted_runs(evaluator):
    with pytest.raises(ValueError, match="missing score table"):
        run_all(make_specs(["rs"], ["assisted"], 1, 0), Context(evaluator, budget_s=500), workers=1, progress=False)


# -- Ray -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_local():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_tune_records_match_the_simulated_executor(evaluator, ray_local, tmp_path):
    def run(executor, d):
        with History(tmp_path / d) as h:
            return executor(algorithms.get("rea", "nb201", 11, fidelities=(12,)), evaluator, 700, history=h).run()

    sim = run(SimulatedExecutor, "sim")
    tune = run(RayTuneExecutor, "tune")
    assert tune == sim and sim.n_evaluations >= 4
    drop = ("wall_time", "wall_start")
    a = [{k: v for k, v in r.items() if k not in drop} for r in read_history(tmp_path / "sim")]
    b = [{k: v for k, v in r.items() if k not in drop} for r in read_history(tmp_path / "tune")]
    assert a == b


def test_ray_fanout_equals_in_process(evaluator, oracle, ray_local):
    ctx = Context(evaluator, budget_s=1500, scorer=oracle)
    specs = make_specs(["rs", "rea"], ["vanilla", "assisted"], runs=2, seed=1)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "wall_s"} for r in rs]  # noqa: E731
    local = run_all(specs, ctx, workers=1, progress=False)
    remote = run_all(specs, ctx, workers=2, progress=False, chunk_size=3)
    assert strip(remote) == strip(local)
