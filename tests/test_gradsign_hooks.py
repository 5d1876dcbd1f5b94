"""The hooks implementation of GradSign equals the per-sample loop exactly in float64."""

import pytest
import torch

from gradsign_nas import proxies, search_spaces
from gradsign_nas.benchmarks import load_batch
from gradsign_nas.proxies._gradsign_hooks import gradsign_hooks


@pytest.mark.parametrize("index", [0, 6111, 7995, 9000])
def test_hooks_equal_the_loop_in_float64_and_leave_the_model_unchanged(index, data_path):
    space = search_spaces.get("nb201")
    x, y = load_batch("cifar10", 6, seed=1, directory=data_path)
    torch.manual_seed(0)
    model = space.build(space.from_index(index)).double()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    got = gradsign_hooks(model, x.double(), y, chunk_size=4)
    assert got == proxies.gradsign_reference(model, x.double(), y)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    assert gradsign_hooks(model, x.double(), y, reduction="mean") == pytest.approx(
        proxies.gradsign(model, x.double(), y, reduction="mean"), rel=0, abs=0)
