"""Algorithm options a user may set (each algorithm's declared ``PARAMETERS``), parsed from
``KEY=VALUE,...`` or a mapping; and the assistance policy that reaches the algorithm."""

import inspect

import pytest

from gradsign_nas import algorithms, strategies
from gradsign_nas.algorithms import RESERVED, Algorithm, Parameter, Proposal, Result, parse_options
from gradsign_nas.assist import AssistancePolicy, Assistant, TableScorer, build_assistance
from gradsign_nas.errors import InputError

BUILT_IN = ("rs", "rea", "reinforce", "bohb")


@pytest.fixture(scope="module")
def table():
    return TableScorer.nb201("cifar10")


@pytest.mark.parametrize("name", BUILT_IN)
def test_declared_parameters_are_constructor_keywords_with_the_same_defaults(name):
    params = algorithms.parameters(name)
    defaults = algorithms.options(name)
    for key, p in params.items():
        assert isinstance(p, Parameter) and key not in RESERVED and p.help
        assert key in defaults and defaults[key] == p.default, key
        if p.default is not None:
            assert parse_options(name, {key: p.default}) == {key: p.default}  # the default is valid
    assert "warmup" not in params  # the warm-up is the assistance policy's


def test_parameters_of_each_algorithm():
    assert algorithms.parameters("rs") == {}
    assert {"population_size", "sample_size"} <= set(algorithms.parameters("rea"))
    assert algorithms.parameters("reinforce")["learning_rate"].default == 0.001
    assert set(algorithms.parameters("bohb")["preset"].choices) == {"nb201", "ours"}


def test_parse_options_types_from_text_and_from_a_mapping():
    assert parse_options("rea", "population_size=20, sample_size=5,mutation=uniform,assist_initial=true") == {
        "population_size": 20,
        "sample_size": 5,
        "mutation": "uniform",
        "assist_initial": True,
    }
    assert parse_options("rea", {"population_size": 20, "assist_initial": False}) == {
        "population_size": 20,
        "assist_initial": False,
    }
    got = parse_options("reinforce", "learning_rate=1e-2,momentum=0.5,init_scale=0")
    assert got == {"learning_rate": 0.01, "momentum": 0.5, "init_scale": 0.0}
    assert all(type(v) is float for v in got.values())
    assert parse_options("reinforce", {"learning_rate": 1}) == {"learning_rate": 1.0}  # an int is a number
    assert parse_options("bohb", "dedupe=no,eta=2") == {"dedupe": False, "eta": 2.0}
    assert parse_options("rea", "") == {} and parse_options("rea", None) == {} and parse_options("rs", {}) == {}


@pytest.mark.parametrize(
    "name,options,words",
    [
        ("rea", "population=20", ["'population'", "population_size"]),
        ("rea", "population_size=abc", ["population_size", "integer >= 1", "'abc'"]),
        ("rea", "population_size=1.5", ["population_size", "integer", "'1.5'"]),
        ("rea", "population_size=0", ["population_size", "integer >= 1", "'0'"]),
        ("rea", {"population_size": 2.0}, ["population_size", "integer", "2.0"]),
        ("rea", {"population_size": True}, ["population_size", "integer", "True"]),
        ("rea", "assist_initial=maybe", ["assist_initial", "true or false", "'maybe'"]),
        ("rea", {"assist_initial": 1}, ["assist_initial", "true or false", "1"]),
        ("rea", "mutation=sideways", ["mutation", "'space', 'uniform'", "'sideways'"]),
        ("reinforce", "momentum=1", ["momentum", "(0, 1)", "'1'"]),
        ("reinforce", "learning_rate=-0.1", ["learning_rate", "> 0", "'-0.1'"]),
        ("reinforce", "learning_rate=nan", ["learning_rate", "number", "'nan'"]),
        ("bohb", "preset=mine", ["preset", "'nb201', 'ours'", "'mine'"]),
        ("bohb", "random_fraction=1.5", ["random_fraction", "[0, 1]", "'1.5'"]),
        ("bohb", "eta=1", ["eta", "> 1", "'1'"]),
        ("bohb", "top_n_percent=100", ["top_n_percent", "(0, 100)", "'100'"]),
        ("bohb", "budgets=1", ["'budgets'", "preset"]),
        ("bohb", "preset", ["KEY=VALUE", "'preset'"]),
        ("bohb", "preset=ours,preset=nb201", ["preset", "twice"]),
        ("bohb", ["preset=ours"], ["string or a mapping", "list"]),
        ("rs", "warmup=10", ["'warmup'", "reserved"]),
        ("rea", {"assistant": None}, ["'assistant'", "reserved"]),
        ("rea", "fidelities=12", ["'fidelities'", "reserved"]),
        ("rs", "anything=1", ["'anything'", "declares no options"]),
    ],
)
def test_parse_options_refuses_with_one_sentence_naming_the_key(name, options, words):
    with pytest.raises(InputError) as e:
        parse_options(name, options)
    msg = str(e.value)
    assert "\n" not in msg and msg.count(". ") == 0, msg
    for w in words:
        assert w in msg, (w, msg)


def test_unknown_algorithm_in_parse_options():
    with pytest.raises(InputError, match="unknown algorithm 'nope'"):
        parse_options("nope", "a=1")


def test_bohb_preset_ours_from_options_is_the_learning_bohb():
    bohb = algorithms.get("bohb", "nb201", 0, fidelities=(12,), **parse_options("bohb", "preset=ours"))
    assert bohb.preset == "ours" and bohb.num_samples == 64 and bohb.dedupe and bohb.budgets is None
    assert bohb.random_fraction == pytest.approx(1 / 3) and bohb.model.sampler == "ours"
    same = algorithms.get("bohb", "nb201", 0, fidelities=(12,), preset="ours")
    for _ in range(30):  # the same algorithm as passing preset="ours" from Python: the same trajectory
        p, q = bohb.ask(), same.ask()
        assert p.arch == q.arch
        bohb.tell(p, Result(metric=float(len(str(p.arch)) % 7)))
        same.tell(q, Result(metric=float(len(str(q.arch)) % 7)))
    tuned = algorithms.get("bohb", "nb201", 0, **parse_options("bohb", {"preset": "ours", "num_samples": 32}))
    assert tuned.num_samples == 32 and tuned.dedupe  # an option overrides its preset's value
    nb201 = algorithms.get("bohb", "nb201", 0, fidelities=(12,))
    assert nb201.preset == "nb201" and nb201.num_samples == 4 and not nb201.dedupe


class Plain(Algorithm):
    """A plug-in that declares no PARAMETERS."""

    name = "plain"

    def __init__(self, space, seed, assistant=None, fidelities=None, *, depth: int = 1) -> None:
        super().__init__(space, seed, assistant, fidelities)
        self.depth = depth

    def ask(self) -> Proposal:
        arch, meta = self._choose(lambda: self.space.sample(self.rng))
        return self._proposal(arch, **meta)

    def tell(self, proposal: Proposal, result: Result) -> None:
        self._take(proposal)


class Declared(Plain):
    PARAMETERS = {"depth": Parameter(int, 1, "how deep", low=1, high=4)}


class Clashing(Plain):
    PARAMETERS = {"fidelities": Parameter(int, 1, "a reserved name")}


class Undeclared(Plain):
    PARAMETERS = {"width": Parameter(int, 1, "not a constructor keyword")}


@pytest.fixture
def plugins():
    for name, cls in (("plain", Plain), ("declared", Declared), ("clashing", Clashing), ("undeclared", Undeclared)):
        algorithms.register(name, cls, overwrite=True)
    yield
    for name in ("plain", "declared", "clashing", "undeclared"):
        algorithms._ALGORITHMS.pop(name)


def test_a_plug_in_declares_its_own_options_or_accepts_none(plugins):
    assert algorithms.parameters("plain") == {} and parse_options("plain", "") == {}
    with pytest.raises(InputError, match="unknown option 'depth' for algorithm plain; expected one of none"):
        parse_options("plain", "depth=2")
    assert algorithms.get("plain", "nb201", 0, depth=2).depth == 2  # Python may still pass it
    assert parse_options("declared", "depth=3") == {"depth": 3}
    with pytest.raises(InputError, match=r"depth to be an integer in \[1, 4\], but got '5'"):
        parse_options("declared", "depth=5")
    with pytest.raises(InputError, match="reserved names"):
        algorithms.parameters("clashing")
    with pytest.raises(InputError, match="'width'"):
        algorithms.parameters("undeclared")


# -- the assistance policy ---------------------------------------------------------------------


def test_build_assistance_vanilla_assisted_and_strategies(table):
    assert build_assistance("vanilla", "rea", table, 10) == (None, {})
    a, opts = build_assistance("assisted", "rea", table, 10)
    assert a.policy == AssistancePolicy(k=10) and opts == {}
    a, opts = build_assistance("warmup", "reinforce", table, 10)
    assert opts == {}
    assert a.policy == AssistancePolicy(k=5, warmup=400, warmup_top=0.03, warmup_learning_rate=0.05)
    a, opts = build_assistance("adaptive", "bohb", table, 4)
    assert a.policy.rule == "adaptive" and a.draws == 8 and opts == {}
    b, _ = strategies.assistance("adaptive", "bohb", table, 4)  # the old name builds the same
    assert b.policy == a.policy
    with pytest.raises(InputError, match="strategy 'warmup' is defined for"):
        build_assistance("warmup", "hill", table, 10)


def test_policy_settings_reach_the_algorithm(table):
    policy = AssistancePolicy(k=4, warmup=50)
    rs = algorithms.get("rs", "nb201", 0, assistant=Assistant(table, policy=policy), fidelities=(12,))
    assert rs.policy is policy and rs.warmup == 50
    first = [rs.ask() for _ in range(50)]
    assert all(p.meta["source"] == "warmup" for p in first) and rs.proxy_scores == 50
    assert rs.ask().meta["candidates"] == 4 and rs.proxy_scores == 54
    explicit = algorithms.get("rs", "nb201", 0, assistant=Assistant(table, policy=policy), warmup=0)
    assert explicit.warmup == 0  # the algorithm's own argument, when given, wins
    assert algorithms.get("rs", "nb201", 0, warmup=None).warmup == 0  # vanilla: no warm-up

    lr = AssistancePolicy(k=2, warmup=100, warmup_top=0.05, warmup_learning_rate=0.05)
    rf = algorithms.get("reinforce", "nb201", 0, assistant=Assistant(table, policy=lr), fidelities=(12,))
    assert rf.warmup == 100 and rf.warmup_top == 0.05 and rf.learning_rate == 0.05
    no_warm = algorithms.get("reinforce", "nb201", 0, assistant=Assistant(table, policy=AssistancePolicy(k=2)))
    assert no_warm.warmup == 0 and no_warm.warmup_top == 0.1 and no_warm.learning_rate == 0.001

    wide = Assistant(table, policy=AssistancePolicy(k=3, rule="adaptive", adaptive_draws=5))
    alg = algorithms.get("rea", "nb201", 0, assistant=wide, fidelities=(12,), assist_initial=True)
    assert alg.ask().meta["candidates"] == 15  # no bar before K scores: all 5 K are scored


def test_assistant_k_and_rule_replace_the_policys():
    t = TableScorer({"a": 1.0})
    a = Assistant(t, 3, "adaptive", policy=AssistancePolicy(k=9, warmup=7))
    assert (a.k, a.rule, a.policy.warmup, a.draws) == (3, "adaptive", 7, 6)
    assert repr(a) == "Assistant(TableScorer, k=3, rule='adaptive', warmup=7)"
    assert repr(Assistant(t)) == "Assistant(TableScorer, k=10)"
    for bad, word in (
        (dict(k=0), "K"),
        (dict(rule="greedy"), "rule"),
        (dict(adaptive_draws=0), "adaptive_draws"),
        (dict(warmup=-1), "warmup"),
        (dict(warmup_top=1.5), "warmup_top"),
        (dict(warmup_learning_rate=0), "warmup_learning_rate"),
    ):
        with pytest.raises(InputError, match=word):
            AssistancePolicy(**bad)
    with pytest.raises(InputError, match="AssistancePolicy"):
        Assistant(t, policy={"k": 2})


def test_fanout_refuses_options_that_collide_with_what_the_executor_passes(table):
    from gradsign_nas.execution.fanout import Context, RunSpec, build_algorithm

    class Ev:
        space = "nb201"

    ctx = Context(Ev(), scorer=table, k=4, options={"rea": {"population_size": 5}})
    alg = build_algorithm(RunSpec("rea", "warmup", 0, 1), ctx)
    assert alg.population_size == 5 and alg.warmup == 30 * 4 and alg.policy.k == 2
    bad = Context(Ev(), scorer=table, options={"rea": {"fidelities": (200,)}})
    with pytest.raises(InputError, match="other than fidelities, which the executor sets"):
        build_algorithm(RunSpec("rea", "vanilla", 0, 1), bad)


def test_get_signature_is_unchanged():
    sig = inspect.signature(algorithms.get)
    assert list(sig.parameters)[:5] == ["name", "space", "seed", "assistant", "fidelities"]
