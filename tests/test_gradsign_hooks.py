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
        proxies.gradsign(model, x.double(), y, reduction="mean"), rel=0, abs=0
    )


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
def test_hooks_handle_same_padding_groups_stride_and_dilation_on_the_cpu():
    """Per-sample conv gradients from one grouped convolution backward: exact against the loop."""
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 2, padding="same"),  # even kernel: PyTorch pads one more on the right/bottom
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding="same", dilation=2, groups=2),
        nn.ReLU(),
        nn.Conv2d(8, 6, 3, stride=2, padding=1, groups=2),
        nn.ReLU(),
        nn.Conv2d(6, 6, 1, padding="valid"),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 5),
    ).double()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(5, 3, 9, 9, generator=g, dtype=torch.float64), torch.randint(0, 5, (5,), generator=g)
    assert gradsign_hooks(model, x, y, chunk_size=3) == proxies.gradsign_reference(model, x, y)
