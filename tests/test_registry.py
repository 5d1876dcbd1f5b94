"""One registry type behind algorithms, search spaces, proxies and strategies: the same name rules,
the same refusals, the same ``available()`` order, plug-ins found through entry points."""

import importlib.metadata as md

import pytest

from gradsign_nas import algorithms, proxies, search_spaces, strategies
from gradsign_nas._registry import Registry
from gradsign_nas.algorithms import RandomSearch
from gradsign_nas.assist import Assistant, TableScorer, build_assistance
from gradsign_nas.errors import InputError
from gradsign_nas.search_spaces.nb201 import NB201Space
from gradsign_nas.strategies import Strategy


def proxy(model, inputs, targets) -> float:
    return 0.0


STRATEGY = Strategy("best of 2K", k=lambda k: 2 * k)

# (module, an object it accepts, an object it refuses, the kind in its messages)
REGISTRIES = [
    (algorithms, RandomSearch, object, "algorithm"),
    (search_spaces, NB201Space, 42, "search space"),
    (proxies, proxy, "not callable", "proxy"),
    (strategies, STRATEGY, {"k": 2}, "strategy"),
]
IDS = [r[3] for r in REGISTRIES]


def _registry(module) -> Registry:
    return {
        algorithms: algorithms._ALGORITHMS,
        search_spaces: search_spaces._REGISTRY,
        proxies: proxies._REGISTRY,
        strategies: strategies.STRATEGIES,
    }[module]


@pytest.mark.parametrize("module,good,bad,kind", REGISTRIES, ids=IDS)
def test_the_same_name_rules_and_refusals_everywhere(module, good, bad, kind):
    for name in ("", "a,b", "a+b", "{a}", "a=b", "a b", "_hidden", "-x", 3, None):
        with pytest.raises(InputError, match=f"a {kind} name must be"):
            module.register(name, good)
    taken = module.available()[0]
    with pytest.raises(InputError, match=f"a {kind} named {taken!r} is already registered"):
        module.register(taken, good)
    with pytest.raises(InputError, match=f"for 'fresh-{kind[:3]}'"):
        module.register(f"fresh-{kind[:3]}", bad)
    assert f"fresh-{kind[:3]}" not in module.available()
    try:
        module.register("my.entry-1", good)
        module.register("my.entry-1", good, overwrite=True)  # replacing is explicit
        assert module.available()[-1] == "my.entry-1" and "my.entry-1" in _registry(module)
    finally:
        _registry(module).pop("my.entry-1")
    assert "my.entry-1" not in module.available()


@pytest.mark.parametrize("module,good,bad,kind", REGISTRIES, ids=IDS)
def test_get_of_an_unknown_name_is_one_sentence_listing_what_is_available(module, good, bad, kind):
    with pytest.raises(InputError) as e:
        module.get("no_such_thing", "nb201", 0) if module is algorithms else module.get("no_such_thing")
    msg = str(e.value)
    assert msg.startswith(f"unknown {kind} 'no_such_thing'; expected one of ") and "\n" not in msg
    assert all(n in msg for n in module.available())


def test_available_lists_built_ins_in_order_then_registered_then_installed_sorted(monkeypatch):
    assert algorithms.available()[:4] == ["rs", "rea", "reinforce", "bohb"]
    assert search_spaces.available()[:4] == ["nb201", "nb101", "darts", "nats_size"]
    assert proxies.available()[0] == "gradsign" and "synflow" in proxies.available()
    assert strategies.available() == ["warmup", "adaptive"]
    eps = [md.EntryPoint(n, f"{__name__}:proxy", "gradsign_nas.proxies") for n in ("zz_plug", "aa_plug", "bad+name")]
    monkeypatch.setattr(md, "entry_points", lambda group=None: eps if group == "gradsign_nas.proxies" else [])
    try:
        proxies.register("mm_user", proxy)
        names = proxies.available()
        assert names[-3:] == ["mm_user", "aa_plug", "zz_plug"] and "bad+name" not in names
        assert proxies.get("zz_plug") is proxy  # loaded once, then it is a registered entry
        assert proxies.available()[-3:] == ["mm_user", "zz_plug", "aa_plug"]
        with pytest.raises(InputError, match="a proxy name must be"):
            proxies.get("bad+name")  # an installed plug-in with a bad name is refused when asked for
    finally:
        for n in ("mm_user", "zz_plug", "aa_plug"):
            proxies._REGISTRY.pop(n)


def test_a_plug_in_of_the_wrong_kind_is_refused_when_it_loads(monkeypatch):
    eps = [md.EntryPoint("not_an_alg", f"{__name__}:proxy", "gradsign_nas.algorithms")]
    monkeypatch.setattr(md, "entry_points", lambda group=None: eps if group == "gradsign_nas.algorithms" else [])
    assert "not_an_alg" in algorithms.available()
    with pytest.raises(InputError, match="expected an Algorithm subclass for 'not_an_alg'"):
        algorithms.get("not_an_alg", "nb201", 0)
    assert "not_an_alg" not in algorithms._ALGORITHMS._entries


def test_strategies_register_like_the_others_and_run_as_a_variant():
    table = TableScorer({"a": 1.0})
    with pytest.raises(InputError, match="a strategy name must not be 'vanilla' or 'assisted'"):
        strategies.register("assisted", STRATEGY)
    with pytest.raises(InputError, match="rule"):
        strategies.register("greedy", Strategy("?", k=lambda k: k, rule="greedy"))
    strategies.register("double", STRATEGY)
    try:
        assert strategies.available() == ["warmup", "adaptive", "double"]
        assistant, options = build_assistance("double", "rea", table, 5)
        assert isinstance(assistant, Assistant) and assistant.policy.k == 10 and options == {}
    finally:
        strategies.STRATEGIES.pop("double")
    with pytest.raises(InputError, match="unknown strategy 'double'"):
        build_assistance("double", "rea", table, 5)


def test_a_built_in_named_by_module_path_loads_on_first_use():
    r = Registry("thing", "gradsign_nas.no_such_group", check=lambda n, o: None, builtin={"nb": f"{__name__}:proxy"})
    assert r.available() == ["nb"] and r.get("nb") is proxy


def test_a_built_in_with_a_bad_name_is_refused_at_construction():
    with pytest.raises(InputError, match="a thing name must be"):
        Registry("thing", "gradsign_nas.no_such_group", check=lambda n, o: None, builtin={"a,b": proxy})
