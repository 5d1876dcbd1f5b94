import pytest
import torch

from gradsign_nas import proxies, search_spaces
from gradsign_nas.benchmarks import load_batch

ARCHS = [0, 1, 6111, 857, 9930]  # includes the three NB201 optima


@pytest.fixture(scope="module")
def space():
    return search_spaces.get("nb201")


@pytest.fixture(scope="module")
def batch(data_path):
    return load_batch("cifar10", 12, seed=0, directory=data_path)


def _net(space, index, dtype=torch.float32, seed=0, num_classes=10):
    torch.manual_seed(seed)
    return space.build(space.from_index(index), num_classes=num_classes).to(dtype)


def _loop_sign_sums(model, x, y):
    """An independent restatement of the definition: per-sample loop, sign of each weight gradient."""
    weights = [m.weight for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    total = [torch.zeros_like(w) for w in weights]
    model.train()
    for i in range(len(x)):
        grads = torch.autograd.grad(
            torch.nn.functional.cross_entropy(model(x[i : i + 1]), y[i : i + 1]), weights, allow_unused=True
        )
        for t, g in zip(total, grads):
            if g is not None:
                t += torch.sign(g)
    return sum(t.abs().sum().item() for t in total)


@pytest.mark.parametrize("index", ARCHS)
def test_float64_equals_reference_loop_exactly(space, batch, index):
    x, y = batch
    net = _net(space, index, torch.float64)
    fast = proxies.gradsign(net, x, y, chunk_size=5)
    ref = proxies.gradsign_reference(net, x, y)
    assert fast == ref
    assert fast == _loop_sign_sums(_net(space, index, torch.float64), x.double(), y)


def test_float32_close_to_reference(space, batch):
    x, y = batch
    for index in ARCHS[:3]:
        net = _net(space, index)
        fast, ref = proxies.gradsign(net, x, y), proxies.gradsign_reference(net, x, y)
        assert fast == pytest.approx(ref, rel=2e-3)


def test_chunking_does_not_change_the_score(space, batch):
    x, y = batch
    net = _net(space, 1, torch.float64)
    scores = {c: proxies.gradsign(net, x, y, chunk_size=c) for c in (None, 1, 5, 12)}
    assert len(set(scores.values())) == 1


def test_model_and_running_stats_untouched(space, batch):
    x, y = batch
    net = _net(space, 6111)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.eval()
    proxies.gradsign(net, x, y)
    assert not net.training
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in net.parameters())


def test_reduction_mean_and_bounds(space, batch):
    x, y = batch
    net = _net(space, 1)
    s, m = proxies.gradsign(net, x, y), proxies.gradsign(net, x, y, reduction="mean")
    n = sum(mod.weight.numel() for mod in net.modules() if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)))
    assert m == pytest.approx(s / n)
    assert 0 < m <= len(x)  # |sum of B signs| <= B
    with pytest.raises(ValueError, match="reduction"):
        proxies.gradsign(net, x, y, reduction="max")


def test_disconnected_cell_scores_zero(space, batch):
    x, y = batch
    arch = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    torch.manual_seed(0)
    assert proxies.gradsign(space.build(arch), x, y) == 0.0


def test_depends_on_samples_and_seed(space, batch):
    x, y = batch
    a = proxies.gradsign(_net(space, 6111, seed=0), x, y)
    b = proxies.gradsign(_net(space, 6111, seed=1), x, y)
    c = proxies.gradsign(_net(space, 6111, seed=0), x[:6], y[:6])
    assert a != b and a != c
    assert a == proxies.gradsign(_net(space, 6111, seed=0), x, y)


@pytest.mark.parametrize(
    "make_bad, match",
    [
        (lambda x, y: (x[:0], y[:0]), "empty"),
        (lambda x, y: (x[0], y), r"\[B, C, H, W\]"),
        (lambda x, y: (x[:, :1], y), "3-channel"),
        (lambda x, y: (x, y[:3]), "targets"),
        (lambda x, y: (x, y.float()), "integer"),
        (lambda x, y: (x.numpy(), y), "torch.Tensor"),
        (lambda x, y: (x * float("nan"), y), "NaN"),
    ],
)
def test_bad_input_is_a_clear_error(space, batch, make_bad, match):
    x, y = batch
    bx, by = make_bad(x, y)
    with pytest.raises(ValueError, match=match):
        proxies.gradsign(_net(space, 1), bx, by)


def test_methods_agree_and_bad_method_is_refused(space, batch):
    x, y = batch
    net = _net(space, 6111, torch.float64)
    assert proxies.gradsign(net, x, y, method="hooks") == proxies.gradsign(net, x, y, method="vmap")
    with pytest.raises(ValueError, match="method"):
        proxies.gradsign(net, x, y, method="loop")


def test_registry():
    assert proxies.get("gradsign") is proxies.gradsign
    with pytest.raises(ValueError, match="unknown proxy"):
        proxies.get("nope")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_float64(space, batch):
    x, y = batch
    cpu = proxies.gradsign(_net(space, 6111, torch.float64), x, y)
    gpu = proxies.gradsign(_net(space, 6111, torch.float64).cuda(), x.cuda(), y.cuda())
    assert gpu == pytest.approx(cpu, rel=1e-6)
