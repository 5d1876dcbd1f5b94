"""The scoring engine and the stacked NB201 GradSign kernel: weights identical to the seeded build,
scores identical to the per-sample loop in float64, one engine behind every caller."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from gradsign_nas import proxies, scoring, search_spaces
from gradsign_nas.assist import Assistant, OnDemandScorer, ProxyScorer
from gradsign_nas.proxies._gradsign_nb201 import draw_weights, finish, gradsign_nb201
from gradsign_nas.search_spaces.nb201 import NB201Space

SMALL = NB201Space(C=4, N=2)
SPECIAL = (
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # every edge none: scores 0
    "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # no path to the output: scores 0
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|skip_connect~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|skip_connect~1|avg_pool_3x3~2|",
)


def _archs(space, n, seed=0):
    rng = np.random.default_rng(seed)
    return [space.from_index(int(i)) for i in rng.choice(15625, n, replace=False)] + [space.parse(s) for s in SPECIAL]


def _stack_order(st, m):
    """Network m's weights from the stack, in the module order of the built network."""
    out = [st.stem[m]]
    cell = 0
    ops = st.ops[m]
    for stage in range(3):
        if stage > 0:
            out += [w[m] for w in st.reductions[stage - 1]]
        for _ in range(st.N):
            for e, op in enumerate(ops):
                if op in (2, 3):
                    out.append(st.cells[cell][(e, op)][st.users[e][op].index(m)])
            cell += 1
    return out + [st.fc_w[m], st.fc_b[m]]


@pytest.mark.parametrize("space", [SMALL, search_spaces.get("nb201")], ids=["C4N2", "nb201"])
def test_weights_are_the_seeded_builds_tensor_by_tensor(space):
    archs = _archs(space, 3)
    st = draw_weights([a.ops for a in archs], 7, space.C, space.N, 3, 10)
    for m, arch in enumerate(archs):
        torch.manual_seed(7)
        net = space.build(arch, 10)
        built = [mod.weight for mod in net.modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]
        built.append(net.classifier.bias)
        mine = _stack_order(st, m)
        assert len(mine) == len(built)
        assert all(torch.equal(a, b) for a, b in zip(mine, built))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pooling_from_shifted_slices_equals_avg_pool2d_bit_for_bit(dtype):
    from gradsign_nas.proxies._gradsign_nb201 import _pool3, _pool3_shifts

    g = torch.Generator().manual_seed(0)
    for shape in [(2, 3, 8, 8), (1, 2, 1, 1), (2, 1, 2, 5), (1, 4, 7, 3)]:
        t = torch.randn(shape, generator=g, dtype=dtype, requires_grad=True)
        up = torch.randn(shape, generator=g, dtype=dtype)
        a, b = _pool3(t), _pool3_shifts(t)
        assert torch.equal(a, b)
        assert torch.equal(*[torch.autograd.grad(out, t, up)[0] for out in (a, b)])


@pytest.mark.parametrize("each", [False, True], ids=["one seed", "a seed each"])
def test_weights_made_by_gather_equal_those_made_slice_by_slice(each):
    # the GPU's way (a gather over all elements) and the CPU's (a slice per layer), both run here
    archs = _archs(search_spaces.get("nb201"), 4, seed=2)
    seeds = [3 + i % 3 for i in range(len(archs))] if each else 7
    st = draw_weights([a.ops for a in archs], seeds)
    lazy = draw_weights([a.ops for a in archs], seeds, device="cpu")
    assert lazy.flat is None
    flat = lazy._make(torch.device("cpu"), gather=True)
    assert flat.dtype == torch.float32 and torch.equal(flat, st.flat)
    assert torch.equal(lazy.to("cpu", torch.float64).flat, st.flat.double())


@pytest.mark.parametrize("impl", ["conv", "matmul"])
def test_stacked_scores_equal_the_per_sample_loop_in_float64(impl):
    archs = _archs(SMALL, 5, seed=1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 3, 16, 16, generator=g), torch.randint(0, 10, (6,), generator=g)
    got = finish(gradsign_nb201([a.ops for a in archs], x, y, seed=3, C=4, N=2, dtype=torch.float64, impl=impl))
    want = []
    for a in archs:
        torch.manual_seed(3)
        want.append(proxies.gradsign_reference(SMALL.build(a, 10).double(), x.double(), y))
    assert got == want
    assert [s == 0.0 for s in got] == [not SMALL.is_connected(a) for a in archs]
    means = finish(
        gradsign_nb201([a.ops for a in archs], x, y, seed=3, C=4, N=2, dtype=torch.float64, reduction="mean", impl=impl)
    )
    for a, mean in zip(archs, means):
        torch.manual_seed(3)
        assert mean == proxies.gradsign(SMALL.build(a, 10).double(), x.double(), y, reduction="mean")


def test_stacked_float32_agrees_with_the_general_path(data_path):
    archs = _archs(SMALL, 4, seed=2)
    general = scoring.ScoringEngine(
        SMALL, "gradsign", batch_size=8, directory=data_path, workers=1, cache=False, progress=False
    )
    stacked, _ = general.score(archs)
    plain = []
    from gradsign_nas.benchmarks import load_batch

    x, y = load_batch("cifar10", 8, 0, data_path)
    for a in archs:
        torch.manual_seed(0)
        plain.append(proxies.gradsign(SMALL.build(a, 10), x, y, method="hooks"))
    np.testing.assert_allclose(stacked, plain, rtol=1e-3)


def test_engine_takes_the_stacked_path_only_where_it_applies(monkeypatch, data_path):
    calls = []
    real = scoring._score_stacked
    monkeypatch.setattr(
        scoring,
        "_score_stacked",
        lambda state, archs, on_pass=None: calls.append(len(archs)) or real(state, archs, on_pass),
    )
    archs = _archs(SMALL, 2)
    kw = dict(batch_size=4, directory=data_path, workers=1, cache=False, progress=False)
    scoring.score_archs(SMALL, archs, **kw)
    assert sum(calls) >= len(archs)  # the warm-up may add one
    calls.clear()
    scoring.score_archs(SMALL, archs, proxy="synflow", **kw)
    assert calls == []
    assert not scoring.stacked_applies(search_spaces.get("nats_size"), "gradsign")
    assert not scoring.stacked_applies(SMALL, "gradsign", build=lambda a: SMALL.build(a))


def test_a_live_evaluators_candidates_take_the_stacked_path_with_its_per_network_seeds(monkeypatch):
    """TrainingBatchScorer on digits (1 channel): the stacked kernel draws each network's weights from
    the evaluator's own seed for it, so its scores are the evaluator's built networks' GradSign."""
    from gradsign_nas.assist import TrainingBatchScorer
    from gradsign_nas.benchmarks.live import LiveTrainingEvaluator

    space = NB201Space(C=4, N=1)
    ev = LiveTrainingEvaluator(space, "digits", fidelities=(1,), device="cpu", seed=5, limit=200)
    scorer = TrainingBatchScorer(ev, batch_size=16, seed=1)
    calls = []
    real = scoring._score_stacked
    monkeypatch.setattr(
        scoring,
        "_score_stacked",
        lambda state, archs, on_pass=None: calls.append(len(archs)) or real(state, archs, on_pass),
    )
    archs = _archs(space, 5, seed=4)
    got = scorer.score_many(archs)
    assert sum(calls) == len(archs) and scorer.engine._state["stack"] > 0
    x, y = scorer.engine._state["x"], scorer.engine._state["y"]
    assert x.shape[1] == 1
    want = [proxies.gradsign(ev.build(a), x, y, method="hooks") for a in archs]
    np.testing.assert_allclose(got, want, rtol=1e-4)
    # weights tensor by tensor: the evaluator's build, network by network
    st = draw_weights([a.ops for a in archs], [ev.init_seed(a) for a in archs], 4, 1, 1, 10)
    for m, a in enumerate(archs):
        net = ev.build(a)
        built = [mod.weight for mod in net.modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]
        assert all(torch.equal(p, q) for p, q in zip(_stack_order(st, m), [*built, net.classifier.bias]))
    # a build with options of its own takes the general path
    other = TrainingBatchScorer(
        LiveTrainingEvaluator(
            space, "digits", fidelities=(1,), device="cpu", seed=5, limit=200, build_options={"C": 2}
        ),
        batch_size=16,
    )
    assert other._init_seed() is None
    with pytest.raises(ValueError, match="init_seed without build"):
        scoring.ScoringEngine(space, batch=(x, y), num_classes=10, init_seed=ev.init_seed)


def test_processes_and_one_process_give_identical_scores_and_count_workers(data_path):
    archs = _archs(SMALL, 6, seed=3)
    kw = dict(batch_size=4, directory=data_path, cache=False, progress=False)
    one, _ = scoring.ScoringEngine(SMALL, workers=1, **kw).score(archs)
    engine = scoring.ScoringEngine(SMALL, devices=["cpu", "cpu"], **kw)
    two, sec = engine.score(archs)
    assert np.array_equal(one, two) and (sec > 0).all()
    assert engine.by_worker == {"cpu": len(archs)}
    with pytest.raises(ValueError, match="device"):
        scoring.ScoringEngine(SMALL, devices=["tpu"], **kw)
    with pytest.raises(ValueError, match="build without batch"):
        scoring.ScoringEngine(SMALL, build=SMALL.build, num_classes=10)
    with pytest.raises(ValueError, match="this process"):
        scoring.ScoringEngine(SMALL, batch=(torch.zeros(1, 3, 8, 8), torch.zeros(1)), num_classes=10, workers=2)


def test_assistant_scores_all_candidates_in_one_call(data_path):
    class Counting(ProxyScorer):
        def __init__(self):
            self.calls = []

        def score(self, arch):
            raise AssertionError("pick must go through score_many")

        def score_many(self, archs):
            self.calls.append(len(archs))
            return [float(len(str(a))) for a in archs]

    scorer = Counting()
    cands = ["a", "ccc", "bb"]
    assert Assistant(scorer, k=3).pick(cands) == ("ccc", 3.0) and scorer.calls == [3]
    on_demand = OnDemandScorer(SMALL, batch_size=4, directory=data_path)
    archs = _archs(SMALL, 3)
    many = on_demand.score_many(archs)
    assert many == [on_demand.score(a) for a in archs] and all(math.isfinite(s) for s in many)
    assert on_demand.engine._state["stack"] == 1  # the stacked kernel on the CPU


def test_ray_tasks_give_the_same_scores(data_path):
    pytest.importorskip("ray")
    archs = _archs(SMALL, 3, seed=4)
    kw = dict(batch_size=4, directory=data_path, cache=False, progress=False)
    inline, _ = scoring.ScoringEngine(SMALL, workers=1, **kw).score(archs)
    engine = scoring.ScoringEngine(SMALL, address="local", workers=2, **kw)
    via_ray, _ = engine.score(archs)
    assert np.array_equal(inline, via_ray)
    assert sum(engine.by_worker.values()) == len(archs) and all(k.startswith("ray:") for k in engine.by_worker)


# -- the compiled pass over cosets of the space ----------------------------------------------------------
def test_coset_blocks_split_the_space_into_125_blocks_of_equal_shapes():
    from gradsign_nas.proxies._gradsign_nb201 import _OPS, COSET, coset_blocks

    space = search_spaces.get("nb201")
    archs = space.all()
    whole, rest = coset_blocks(archs)
    assert len(whole) == 125 and rest == [] and all(len(b) == COSET for b in whole)
    assert sorted(str(a) for b in whole for a in b) == sorted(str(a) for a in archs)
    for b in whole:  # every op on every edge of exactly 25 networks: the same tensor shapes in every block
        for e in range(6):
            assert [sum(a.ops[e] == op for a in b) for op in _OPS] == [25] * 5
    some = whole[7][:-1] + whole[3] + archs[:2]  # a coset missing one network is not whole
    got, left = coset_blocks(some)
    assert [str(a) for a in got[0]] == [str(a) for a in whole[3]]
    assert len(got) == 1 and [str(a) for a in left] == [str(a) for a in some if a not in whole[3]]


def test_compiled_pass_equals_the_stacked_pass_and_the_loop_in_float64():
    """The compiled blocks (here with torch.compile's aot_eager backend: the same traced graphs, not
    code-generated; inductor itself is measured on the GPU, see the README) on one whole coset."""
    from gradsign_nas.proxies._gradsign_nb201 import coset_blocks

    space = NB201Space(C=4, N=1)
    block = coset_blocks(space.all())[0][5]
    ops = [a.ops for a in block]
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(4, 3, 16, 16, generator=g), torch.randint(0, 10, (4,), generator=g)
    kw = dict(seed=2, C=4, N=1, dtype=torch.float64)
    compiled = finish(gradsign_nb201(ops, x, y, impl="compiled", compile_backend="aot_eager", **kw))
    assert compiled == finish(gradsign_nb201(ops, x, y, impl="matmul", **kw))
    for m in (0, 1, 2, 60):
        torch.manual_seed(2)
        assert compiled[m] == proxies.gradsign_reference(space.build(block[m], 10).double(), x.double(), y)
    assert 0.0 in compiled and compiled == [0.0 if not space.is_connected(a) else s for a, s in zip(block, compiled)]
    means = finish(gradsign_nb201(ops, x, y, impl="compiled", compile_backend="aot_eager", reduction="mean", **kw))
    assert means == finish(gradsign_nb201(ops, x, y, impl="matmul", reduction="mean", **kw))


def test_engine_compile_scores_whole_cosets_compiled_and_the_others_as_usual(monkeypatch, data_path):
    from gradsign_nas.proxies import _gradsign_nb201 as kernel

    monkeypatch.setattr(kernel, "COMPILE_BACKEND", "aot_eager")
    impls = []
    real = kernel.gradsign_nb201
    monkeypatch.setattr(
        kernel, "gradsign_nb201", lambda ops, *a, **kw: impls.append((len(ops), kw["impl"])) or real(ops, *a, **kw)
    )
    space = NB201Space(C=4, N=1)
    whole, _ = kernel.coset_blocks(space.all())
    archs = space.all()[:3] + whole[9]
    kw = dict(batch_size=4, directory=data_path, workers=1, cache=False, progress=False)
    plain = scoring.ScoringEngine(space, "gradsign", **kw)
    want, _ = plain.score(archs)
    impls.clear()
    engine = scoring.ScoringEngine(space, "gradsign", compile=True, **kw)
    got, seconds = engine.score(archs)
    assert (125, "compiled") in impls and sorted(impls).count((125, "compiled")) == 1
    assert sum(n for n, impl in impls if impl == "auto") >= 3
    np.testing.assert_allclose(got, want, rtol=1e-3)  # float32: the same values up to rounding
    assert engine.by_worker == {"cpu": 128} and (seconds > 0).all()


def test_a_gpu_worker_sees_its_gpu_alone():
    assert scoring.gpu_alone("cuda:1", None) == "1"
    assert scoring.gpu_alone("cuda:1", "2,5") == "5"
    with pytest.raises(scoring.InputError, match="visible"):
        scoring.gpu_alone("cuda:2", "0,1")


def test_a_space_object_is_told_apart_by_its_settings_not_only_its_name(data_path):
    """The per-process state is reused between engines of the same setting; NB201 with N = 1 is not
    NB201 with N = 2 (it was, by name, before)."""
    from gradsign_nas.benchmarks import load_batch

    arch = SMALL.parse(SPECIAL[3])
    kw = dict(batch_size=4, directory=data_path, workers=1, cache=False, progress=False)
    two, _ = scoring.ScoringEngine(NB201Space(C=4, N=2), "gradsign", **kw).score([arch])
    one, _ = scoring.ScoringEngine(NB201Space(C=4, N=1), "gradsign", **kw).score([arch])
    x, y = load_batch("cifar10", 4, 0, data_path)
    want = finish(gradsign_nb201([arch.ops], x, y, seed=0, C=4, N=1, dtype=torch.float64))
    np.testing.assert_allclose(one, want, rtol=1e-3)
    assert one[0] != two[0]
