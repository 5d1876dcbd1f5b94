"""One shared suite for every algorithm, vanilla and assisted, on NB201 and on a small toy space."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from gradsign_nas import algorithms
from gradsign_nas.algorithms import BOHB, Proposal, RegularizedEvolution, Reinforce, Result
from gradsign_nas.assist import Assistant, TableScorer
from gradsign_nas.search_spaces import Decision, SearchSpace
from gradsign_nas.search_spaces import get as get_space

# -- a small toy space: decisions of different sizes, one with a single choice -----------------------


@dataclass(frozen=True)
class ToyArch:
    values: tuple

    def __str__(self) -> str:
        return "-".join(map(str, self.values))


class ToySpace(SearchSpace):
    name = "toy"
    arch_type = ToyArch
    _decisions = (
        Decision("a", (0, 1, 2)),
        Decision("b", ("x", "y")),
        Decision("c", (0, 1, 2, 3, 4)),
        Decision("d", ("only",)),
        Decision("e", (0, 1, 2, 3)),
    )

    @property
    def decisions(self):
        return self._decisions

    def decode(self, config):
        if set(config) != {d.name for d in self._decisions}:
            raise ValueError(f"expected keys a..e, but got {sorted(config)}")
        for d in self._decisions:
            if config[d.name] not in d.choices:
                raise ValueError(f"bad choice {config[d.name]!r} for {d.name}")
        return ToyArch(tuple(config[d.name] for d in self._decisions))

    def encode(self, arch):
        self.check(arch)
        return {d.name: v for d, v in zip(self._decisions, arch.values)}

    def parse(self, text):
        parts = text.split("-")
        return self.decode({d.name: type(d.choices[0])(p) for d, p in zip(self._decisions, parts)})

    def build(self, arch, num_classes=10, **kwargs):
        raise NotImplementedError

    def all(self):
        import itertools

        return [ToyArch(v) for v in itertools.product(*(d.choices for d in self._decisions))]


NB201_WEIGHTS = {"none": 0.0, "skip_connect": 1.0, "nor_conv_1x1": 2.0, "nor_conv_3x3": 3.0, "avg_pool_3x3": 0.5}


def reward(arch) -> float:
    """A deterministic reward with a unique best architecture."""
    if isinstance(arch, ToyArch):
        a, b, c, _, e = arch.values
        return float(a + (b == "y") * 2 + c + (e == 3) * 1.5)
    return float(sum(NB201_WEIGHTS[op] * (1 + 0.1 * i) for i, op in enumerate(arch.ops)))


def proxy_table(space):
    """A proxy that agrees with the reward up to noise (what a table of real scores looks like)."""
    archs = space.all()
    rng = np.random.default_rng(123)
    return TableScorer({str(a): reward(a) + rng.normal(0, 1.0) for a in archs}, seconds={str(a): 1.0 for a in archs})


SPACES = {"nb201": lambda: get_space("nb201"), "toy": ToySpace}
_TABLES = {}


def make(name, space_name, seed, variant, fidelities=(12,), **opts):
    space = SPACES[space_name]()
    assistant = None
    if variant == "assisted":
        if space_name not in _TABLES:
            _TABLES[space_name] = proxy_table(space)
        assistant = Assistant(_TABLES[space_name], k=5)
    return algorithms.get(name, space, seed, assistant=assistant, fidelities=fidelities, **opts)


def trajectory(alg, n=60):
    out = []
    for _ in range(n):
        p = alg.ask()
        out.append((str(p.arch), p.fidelity, p.meta.get("source"), p.meta.get("proxy")))
        alg.tell(p, Result(metric=reward(p.arch), cost_s=1.0))
    return out


CASES = [(a, s, v) for a in algorithms.available() for s in SPACES for v in ("vanilla", "assisted")]


@pytest.mark.parametrize("name,space_name,variant", CASES)
def test_same_seed_same_trajectory_other_seed_another(name, space_name, variant):
    first = trajectory(make(name, space_name, 7, variant))
    again = trajectory(make(name, space_name, 7, variant))
    other = trajectory(make(name, space_name, 8, variant))
    assert first == again
    assert first != other
    assert all(f == 12 for _, f, _, _ in first)


@pytest.mark.parametrize("name,space_name,variant", CASES)
def test_outstanding_asks_tells_out_of_order_and_discards(name, space_name, variant):
    alg = make(name, space_name, 3, variant)
    space = alg.space
    for _ in range(6):
        batch = [alg.ask() for _ in range(4)]
        assert alg.outstanding == 4
        for p in batch:
            assert space.contains(p.arch)
            if variant == "assisted" and not p.meta.get("initial"):  # G-REA's initial population is unassisted
                assert p.meta["proxy"] == pytest.approx(_TABLES[space_name].score(p.arch))
        alg.discard(batch[1])
        for p in reversed([batch[0], batch[2], batch[3]]):
            alg.tell(p, Result(metric=reward(p.arch)))
    assert alg.outstanding == 0
    with pytest.raises(ValueError):
        alg.tell(batch[0], Result(metric=1.0))  # already told
    with pytest.raises(ValueError):
        alg.discard(batch[1])  # already discarded


def test_same_trajectory_regardless_of_global_numpy_state():
    a = make("bohb", "nb201", 5, "vanilla")
    np.random.seed(1)
    first = trajectory(a, 80)
    np.random.seed(2)
    state = np.random.get_state()
    second = trajectory(make("bohb", "nb201", 5, "vanilla"), 80)
    assert first == second
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2] == after[2]


# -- REA ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("space_name", list(SPACES))
def test_rea_population_is_filled_by_random_samples_then_ages(space_name):
    alg = make("rea", space_name, 0, "vanilla")
    space = alg.space
    told = []
    for step in range(40):
        p = alg.ask()
        if step < 10:
            assert p.meta["source"] == "random"
        else:
            assert p.meta["source"] == "mutation"
            members = [str(a) for a, _ in alg.population]
            assert p.meta["parent"] in members
            parent = space.parse(p.meta["parent"]) if space_name == "nb201" else ToySpace().parse(p.meta["parent"])
            before, after = space.encode(parent), space.encode(p.arch)
            assert sum(before[k] != after[k] for k in before) == 1  # exactly one decision changed
        alg.tell(p, Result(metric=reward(p.arch)))
        told.append(p.arch)
        assert [a for a, _ in alg.population] == told[-10:]  # newest 10, oldest removed first


def test_rea_random_until_population_filled_even_with_many_outstanding():
    alg = make("rea", "nb201", 0, "vanilla")
    batch = [alg.ask() for _ in range(15)]
    assert all(p.meta["source"] == "random" for p in batch)
    for p in batch[:9]:
        alg.tell(p, Result(metric=reward(p.arch)))
    assert alg.ask().meta["source"] == "random"
    alg.tell(batch[9], Result(metric=reward(batch[9].arch)))
    assert alg.ask().meta["source"] == "mutation"


def test_rea_tournament_parent_is_best_of_sample():
    alg = RegularizedEvolution(ToySpace(), seed=0, population_size=5, sample_size=5)
    for _ in range(5):
        p = alg.ask()
        alg.tell(p, Result(metric=reward(p.arch)))
    # a tournament of 5 from 5 with replacement usually misses someone; the parent must be its best,
    # so over many asks the parent is never the population's worst (with 5 distinct rewards)
    rewards = {str(a): r for a, r in alg.population}
    parents = {alg.ask().meta["parent"] for _ in range(50)}
    if len(set(rewards.values())) == len(rewards):
        assert min(rewards, key=rewards.get) not in parents
    assert max(rewards, key=rewards.get) in parents


# -- REINFORCE -----------------------------------------------------------------------------------------


def _best_op_prob(alg):
    p = alg.probabilities()
    return float(p[:, NB201_OPS_BEST].mean())


NB201_OPS_BEST = 3  # nor_conv_3x3 has the highest weight in `reward`


@pytest.mark.parametrize("lr,steps", [(0.001, 100), (0.05, 150)])
def test_reinforce_learns(lr, steps):
    alg = make("reinforce", "nb201", 0, "vanilla", learning_rate=lr)
    before = _best_op_prob(alg)
    trajectory(alg, steps)
    after = _best_op_prob(alg)
    assert after > before
    if lr >= 0.05:
        assert after > 0.5  # from 0.2


def test_reinforce_update_uses_the_evaluated_architecture():
    alg = make("reinforce", "nb201", 1, "assisted", learning_rate=0.05)
    p = alg.ask()
    alg.tell(p, Result(metric=0.0))  # baseline 0
    q = alg.ask()
    before = alg.log_prob(q.arch)
    alg.tell(q, Result(metric=100.0))  # far above the baseline: its probability must rise
    assert alg.log_prob(q.arch) > before


# -- BOHB ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("space_name", list(SPACES))
def test_bohb_model_learns(space_name):
    # 150 distinct proposals do not fit the toy space (120 architectures): there repeats are allowed
    alg = make("bohb", space_name, 0, "vanilla", preset="ours", **({"dedupe": False} if space_name == "toy" else {}))
    trajectory(alg, 150)
    s = alg.stats()
    assert s["model_count"] > 20 and s["random_count"] > 20
    assert s["model_mean_reward"] > s["random_mean_reward"]
    assert alg.model.ready


def test_bohb_hyperband_schedule_two_fidelities():
    alg = make("bohb", "nb201", 0, "vanilla", fidelities=(12, 200))
    fids, rung0 = [], []
    for _ in range(18):
        p = alg.ask()
        fids.append(p.fidelity)
        if p.meta["bracket"] == 1 and p.fidelity == 12:
            rung0.append(p.arch)
        if p.meta.get("promoted"):
            assert p.fidelity == 200 and p.arch == max(rung0[-3:], key=reward)
        alg.tell(p, Result(metric=reward(p.arch)))
    # bracket s=1: 3 at 12 then the best 1 at 200; bracket s=0: 2 at 200; repeat
    assert fids == [12, 12, 12, 200, 200, 200] * 3


def test_bohb_hyperband_three_fidelities_and_async_new_bracket():
    alg = make("bohb", "toy", 0, "vanilla", fidelities=(1, 3, 9))
    fids = []
    for _ in range(9 + 3 + 1 + 3 + 1 + 3):
        p = alg.ask()
        fids.append(p.fidelity)
        alg.tell(p, Result(metric=reward(p.arch)))
    assert fids == [1] * 9 + [3] * 3 + [9] + [3] * 3 + [9] + [9] * 3
    alg = make("bohb", "toy", 0, "vanilla", fidelities=(12, 200))
    waiting = [alg.ask() for _ in range(3)]
    nxt = alg.ask()  # bracket s=1's first rung waits on 3 results: a new bracket (s=0) starts
    assert [p.fidelity for p in waiting] == [12, 12, 12] and nxt.fidelity == 200 and nxt.meta["bracket"] == 0


def test_bohb_nb201_preset_is_nb201s_hpbandster_bohb():
    """NB201's BOHB.py: hpbandster's budgets 12..200 at eta 3, each evaluated at the one fidelity, a
    promotion evaluated again, hpbandster's own sampler with 4 samples and no random fraction."""
    from algorithms.bohb import NB201_BUDGETS, hyperband_budgets

    assert NB201_BUDGETS == pytest.approx((200 / 9, 200 / 3, 200))
    assert hyperband_budgets(1, 27, 3) == pytest.approx((1, 3, 9, 27))
    alg = make("bohb", "nb201", 0, "vanilla")
    assert (alg.preset, alg.num_samples, alg.random_fraction, alg.dedupe, alg.model.sampler) == (
        "nb201",
        4,
        0.0,
        False,
        "hpbandster",
    )
    budgets, sources, rung0, last = [], [], {}, None
    for _ in range(2 * (9 + 3 + 1 + 3 + 1 + 3)):
        p = alg.ask()
        if p.meta["bracket"] != last:  # a new bracket (one worker: brackets run one after the other)
            rung0 = {k: v for k, v in rung0.items() if k[0] != p.meta["bracket"]}
            last = p.meta["bracket"]
        assert p.fidelity == 12  # the worker ignores the budget
        budgets.append(p.meta["budget"])
        if p.meta.get("promoted"):  # among the best of the bracket's previous rung, evaluated again
            prev = sorted((reward(a) for a in rung0[(p.meta["bracket"], p.meta["rung"] - 1)]), reverse=True)
            assert reward(p.arch) in prev[: 3 if p.meta["rung"] == 1 and p.meta["bracket"] == 2 else 1]
        else:
            sources.append(p.meta["source"])
        rung0.setdefault((p.meta["bracket"], p.meta["rung"]), []).append(p.arch)
        alg.tell(p, Result(metric=reward(p.arch), cost_s=1.0))
    b0, b1, b2 = NB201_BUDGETS
    assert budgets == ([b0] * 9 + [b1] * 3 + [b2] + [b1] * 3 + [b2] + [b2] * 3) * 2
    assert alg.model.ready and set(sources[-6:]) == {"model"}  # random_fraction 0: once fitted, all model
    same = make("bohb", "nb201", 0, "vanilla")
    assert trajectory(same, 40)[-20:] == trajectory(make("bohb", "nb201", 0, "vanilla"), 40)[-20:]


def test_bohb_nb201_best_is_the_best_at_the_largest_budget(data_path, tmp_path):
    """hpbandster's incumbent: only results at the largest budget count, even if a lower rung saw more."""
    from gradsign_nas import algorithms as algs
    from gradsign_nas.benchmarks.nb201_evaluator import NB201TabularEvaluator
    from gradsign_nas.execution import SimulatedExecutor
    from gradsign_nas.results import History, read_history

    ev = NB201TabularEvaluator.from_directory(data_path)
    checked = 0
    for seed in range(6):
        out = tmp_path / str(seed)
        r = SimulatedExecutor(
            algs.get("bohb", "nb201", seed, fidelities=(12,)), ev, 12000, history=History(out, {"seed": seed})
        ).run()
        done = [x for x in read_history(out) if x["status"] == "completed"]
        top = [x["metric"] for x in done if x["extra"]["budget"] == 200]
        assert r.best_metric == max(top)
        checked += max(x["metric"] for x in done) > max(top)
    assert checked >= 1  # at least one run where the overall best was never promoted to 200


def test_bohb_kde_matches_statsmodels_aitchison_aitken():
    from statsmodels.nonparametric.kernels import aitchison_aitken

    alg = make("bohb", "toy", 0, "vanilla", preset="ours")
    trajectory(alg, 60)
    model = alg.model
    gd, gbw, _, _ = model._fitted[model.budget]
    assert np.all(gbw <= 0.5 * (model.sizes - 1) / model.sizes + 1e-12)
    x = model.propose(3, 8)
    mine = model.density(x, good=True)
    for row, value in zip(x, mine):
        k = np.ones(len(gd))
        for d in range(len(row)):
            k *= aitchison_aitken(gbw[d], gd[:, d].astype(float), row[d], num_levels=int(model.sizes[d]))
        assert value == pytest.approx(k.mean(), rel=1e-9)


# -- the assistant ---------------------------------------------------------------------------------------


def test_assistant_picks_argmax_earliest_tie_and_charges_first_scoring_only():
    scorer = TableScorer({"a": 1.0, "b": 3.0, "c": 3.0, "d": 0.0}, seconds={"a": 0.5, "b": 2.0, "c": 1.0})
    assistant = Assistant(scorer, k=3)
    assert assistant.pick(["a", "b", "c"]) == ("b", 3.0)
    assert assistant.pick(["c", "b"]) == ("c", 3.0)
    space = get_space("nb201")
    table = proxy_table(space)
    alg = algorithms.get("rs", space, 0, assistant=Assistant(table, k=10), fidelities=(12,))
    total = 0.0
    for _ in range(30):
        p = alg.ask()
        assert p.meta["candidates"] == 10
        total += p.meta["proxy_cost_s"]
        alg.tell(p, Result(metric=reward(p.arch)))
    assert 10 <= total <= 300 and total == len(alg._scored)  # 1 s per distinct candidate, repeats free


def test_assisted_search_proposes_better_architectures():
    means = {}
    for variant in ("vanilla", "assisted"):
        rewards = [
            r
            for seed in range(3)
            for r in (reward(ToySpace().parse(t[0])) for t in trajectory(make("rs", "toy", seed, variant), 40))
        ]
        means[variant] = np.mean(rewards)
    assert means["assisted"] > means["vanilla"]


# -- bad input ------------------------------------------------------------------------------------------


def test_bad_input():
    with pytest.raises(ValueError, match="rs, rea, reinforce, bohb"):
        algorithms.get("sgd", "nb201", 0)
    with pytest.raises(ValueError, match="population_size"):
        algorithms.get("rea", "nb201", 0, population=5)
    with pytest.raises(ValueError):
        Assistant(TableScorer({"a": 1.0}), k=0)
    with pytest.raises(ValueError):
        algorithms.get("rea", "nb201", 0, population_size=0)
    with pytest.raises(ValueError):
        algorithms.get("bohb", "nb201", 0, fidelities=(200, 12))
    with pytest.raises(ValueError):
        algorithms.get("rs", "nb201", -1)
    alg = algorithms.get("rs", "nb201", 0, fidelities=(12,))
    p = alg.ask()
    foreign = Proposal(arch=ToySpace().sample(np.random.default_rng(0)), fidelity=12, trial_id=p.trial_id)
    for a in (alg, BOHB("nb201", 0, fidelities=(12,)), Reinforce("nb201", 0)):
        q = a.ask()
        with pytest.raises(ValueError):
            a.tell(Proposal(arch=foreign.arch, fidelity=q.fidelity, trial_id=q.trial_id), Result(metric=1.0))
        with pytest.raises(ValueError):
            a.tell(q, Result(metric=float("nan")))
        a.tell(q, Result(metric=1.0))  # still outstanding after the rejected tells
    with pytest.raises(ValueError):
        algorithms.get("rs", "nb201", 0, assistant=object())


# -- faithful defaults (NAS-Bench-201's and GradSign's released scripts) -----------------------------
def test_nb201_mutation_picks_a_node_then_one_of_its_edges():
    """R_EA.py's rule: the edge into node 1 changes with p = 1/3, each edge into node 3 with p = 1/9;
    REA's mutation="uniform" changes each of the six edges with p = 1/6."""
    import numpy as np

    from gradsign_nas import algorithms as algs
    from gradsign_nas import search_spaces
    from gradsign_nas.search_spaces.base import SearchSpace

    space = search_spaces.get("nb201")
    rng = np.random.default_rng(0)
    parent = space.from_index(6111)
    n = 9000
    counts = {"space": np.zeros(6), "uniform": np.zeros(6)}
    for kind, mutate in (("space", space.mutate), ("uniform", lambda a, r: SearchSpace.mutate(space, a, r))):
        for _ in range(n):
            child = mutate(parent, rng)
            diff = [i for i in range(6) if child.ops[i] != parent.ops[i]]
            assert len(diff) == 1
            counts[kind][diff[0]] += 1
    assert np.allclose(counts["space"] / n, [1 / 3, 1 / 6, 1 / 6, 1 / 9, 1 / 9, 1 / 9], atol=0.02)
    assert np.allclose(counts["uniform"] / n, [1 / 6] * 6, atol=0.02)
    rea = algs.get("rea", "nb201", 0, mutation="uniform")
    assert rea.mutation == "uniform"
    with pytest.raises(ValueError, match="mutation"):
        algs.get("rea", "nb201", 0, mutation="sideways")


def test_assisted_rea_leaves_the_initial_population_random_unless_asked():
    from gradsign_nas import algorithms as algs
    from gradsign_nas.assist import Assistant, TableScorer

    assistant = Assistant(TableScorer.nb201("cifar10"), k=10)
    plain = algs.get("rea", "nb201", 0, assistant=assistant, fidelities=(12,))
    first = [plain.ask() for _ in range(10)]
    assert all("proxy" not in p.meta for p in first)  # GradSign's G-REA: initial population unassisted
    ours = algs.get("rea", "nb201", 0, assistant=assistant, fidelities=(12,), assist_initial=True)
    assert all("proxy" in ours.ask().meta for _ in range(10))


def test_bohb_never_pays_twice_for_an_architecture_at_one_fidelity(data_path):
    from gradsign_nas import algorithms as algs
    from gradsign_nas.benchmarks.nb201_evaluator import NB201TabularEvaluator
    from gradsign_nas.execution import SimulatedExecutor

    ev = NB201TabularEvaluator.from_directory(data_path)
    alg = algs.get("bohb", "nb201", 3, fidelities=(12,), preset="ours")
    r = SimulatedExecutor(alg, ev, 12000).run()
    assert r.stats["unique_new_configs"] == r.stats["new_configs"]
    alg = algs.get("bohb", "nb201", 3, fidelities=(12,), preset="ours", dedupe=False)
    r = SimulatedExecutor(alg, ev, 12000).run()
    assert r.stats["unique_new_configs"] < r.stats["new_configs"]  # the model's favourite, again and again


def test_zero_cost_warm_up_starts_from_the_best_scored_samples():
    from gradsign_nas import algorithms as algs
    from gradsign_nas.assist import Assistant, TableScorer

    table = TableScorer.nb201("cifar10")
    rea = algs.get("rea", "nb201", 0, assistant=Assistant(table, k=5), fidelities=(12,), warmup=300)
    first = [rea.ask() for _ in range(10)]
    scores = [table.score(p.arch) for p in first]
    assert scores == sorted(scores, reverse=True) and all(p.meta["initial"] for p in first)
    assert rea.proxy_scores == 300 and first[0].meta["proxy_cost_s"] > 0 and first[1].meta["proxy_cost_s"] == 0
    for p in first:
        rea.tell(p, Result(metric=reward(p.arch)))
    child = rea.ask()  # after the warm-up: best of K=5 mutations
    assert child.meta["source"] == "mutation" and rea.proxy_scores == 305
    rs = algs.get("rs", "nb201", 0, assistant=Assistant(table, k=10), fidelities=(12,), warmup=50)
    order = [table.score(rs.ask().arch) for _ in range(50)]
    assert order == sorted(order, reverse=True) and rs.proxy_scores == 50
    rs.ask()
    assert rs.proxy_scores == 60  # best of 10 once the warm-up's samples ran out
    with pytest.raises(ValueError, match="warmup"):
        algs.get("rs", "nb201", 0, warmup=-1)


def test_adaptive_rule_scores_fewer_where_candidates_are_good_and_stops_at_the_bar():
    from gradsign_nas import algorithms as algs
    from gradsign_nas.assist import Assistant, TableScorer

    table = TableScorer.nb201("cifar10")
    with pytest.raises(ValueError, match="rule"):
        Assistant(table, k=4, rule="greedy")
    alg = algs.get("rs", "nb201", 0, assistant=Assistant(table, k=10, rule="adaptive"), fidelities=(12,))
    counts = []
    for _ in range(60):
        p = alg.ask()
        counts.append(p.meta["candidates"])
        assert 1 <= p.meta["candidates"] <= 20
        seen = sorted(alg._seen_scores)
        if p.meta["candidates"] < 20 and len(seen) > 20:  # it stopped early: the pick reached the bar
            assert p.meta["proxy"] >= np.quantile(seen, 0.8)
        alg.tell(p, Result(metric=1.0))
    assert counts[0] == 20 and min(counts) < 10  # no bar before K scores; later it stops early
    assert alg.proxy_scores == sum(counts)


def test_reinforce_warm_up_pretrains_the_policy_on_the_proxy_top():
    from gradsign_nas import algorithms as algs
    from gradsign_nas.assist import Assistant, TableScorer

    table = TableScorer.nb201("cifar10")
    alg = algs.get(
        "reinforce", "nb201", 0, assistant=Assistant(table, k=2), fidelities=(12,), warmup=400, warmup_top=0.05
    )
    plain = algs.get("reinforce", "nb201", 0, assistant=Assistant(table, k=2), fidelities=(12,))
    first = alg.ask()
    assert first.meta["proxy_cost_s"] > 0 and first.meta["warmup"] == 400
    assert alg.proxy_scores == 400 + 2
    # the pre-trained policy puts its mass on what the proxy ranks high: its samples score far higher
    rng = np.random.default_rng(1)
    draws = lambda a: np.mean([table.score(a._sample(a.probabilities())) for _ in range(200)])  # noqa: E731
    assert draws(alg) > draws(plain) + 0.5 * np.std([table.score(plain.space.sample(rng)) for _ in range(200)])
    with pytest.raises(ValueError, match="warmup_top"):
        algs.get("reinforce", "nb201", 0, warmup_top=0)


def test_bohb_warm_up_starts_the_first_design_from_the_proxy_top():
    from gradsign_nas import algorithms as algs
    from gradsign_nas.assist import Assistant, TableScorer

    table = TableScorer.nb201("cifar10")
    for preset, n in (("nb201", 9), ("ours", 8)):
        alg = algs.get("bohb", "nb201", 0, assistant=Assistant(table, k=5), fidelities=(12,), preset=preset, warmup=300)
        first = []
        while len(first) < n:
            p = alg.ask()
            if not p.meta.get("promoted"):
                first.append(p)
            alg.tell(p, Result(metric=float(table.score(p.arch))))
        assert [p.meta["source"] for p in first] == ["warmup"] * n
        scores = [table.score(p.arch) for p in first]
        assert scores == sorted(scores, reverse=True)  # the best of the 300, best first
        nxt = alg.ask()
        assert nxt.meta.get("promoted") or nxt.meta["source"] != "warmup"
