"""A search space defined here, outside the package, works with every algorithm, vanilla and
assisted, unchanged: registered by name, passed as an object, and trained live."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from gradsign_nas import algorithms, search_spaces
from gradsign_nas.assist import Assistant, TableScorer
from gradsign_nas.search_spaces import Decision, SearchSpace

torch.set_num_threads(1)


@dataclass(frozen=True)
class TinyArch:
    """An architecture: immutable, hashable, with a canonical string that ``parse`` reads back."""

    depth: int
    width: int
    kernel: int

    def __str__(self):
        return f"{self.depth}-{self.width}-{self.kernel}"


class TinyConvSpace(SearchSpace):
    """A user's space: depth, width and kernel of a plain conv net."""

    name = "tiny_conv"
    arch_type = TinyArch
    DEPTH, WIDTH, KERNEL = (1, 2, 3), (4, 8, 16), (1, 3)

    @property
    def decisions(self):
        return (Decision("depth", self.DEPTH), Decision("width", self.WIDTH), Decision("kernel", self.KERNEL))

    def decode(self, config):
        arch = TinyArch(int(config["depth"]), int(config["width"]), int(config["kernel"]))
        if arch.depth not in self.DEPTH or arch.width not in self.WIDTH or arch.kernel not in self.KERNEL:
            raise ValueError(f"expected a tiny_conv config, but got {dict(config)!r}")
        return arch

    def encode(self, arch):
        self.check(arch)
        return {"depth": arch.depth, "width": arch.width, "kernel": arch.kernel}

    def parse(self, text):
        return self.decode(dict(zip(("depth", "width", "kernel"), text.split("-"))))

    def build(self, arch, num_classes=10, in_channels=3):
        layers, c = [], in_channels
        for _ in range(arch.depth):
            layers += [
                nn.Conv2d(c, arch.width, arch.kernel, padding=arch.kernel // 2),
                nn.BatchNorm2d(arch.width),
                nn.ReLU(),
            ]
            c = arch.width
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))


def toy_reward(arch):
    return 50.0 + 10 * arch.depth + arch.width / 2 + 3 * arch.kernel


@pytest.fixture(scope="module")
def space():
    if "tiny_conv" not in search_spaces.available():
        search_spaces.register("tiny_conv", TinyConvSpace)
    return search_spaces.get("tiny_conv")


def all_archs(space):
    import itertools

    return [
        space.decode(dict(zip([d.name for d in space.decisions], c)))
        for c in itertools.product(*[d.choices for d in space.decisions])
    ]


def run(alg, n=12):
    best = -1.0
    for _ in range(n):
        p = alg.ask()
        r = toy_reward(p.arch) - (3.0 if p.fidelity == alg.fidelities[0] and len(alg.fidelities) > 1 else 0.0)
        alg.tell(p, algorithms.Result(metric=r, cost_s=1.0))
        best = max(best, r)
    return best


@pytest.mark.parametrize("name", ["rs", "rea", "reinforce", "bohb"])
def test_every_algorithm_runs_on_a_user_space_vanilla_and_assisted(space, name):
    assert isinstance(space, TinyConvSpace) and space.size == 18
    scores = {str(a): toy_reward(a) for a in all_archs(space)}  # an oracle proxy
    fids = (1, 3) if name == "bohb" else None
    opts = {"population_size": 3} if name == "rea" else {}
    vanilla = algorithms.get(name, "tiny_conv", 0, fidelities=fids, **opts)
    if name == "rea":  # assist the initial population too, so that the first ask is an assisted one
        opts["assist_initial"] = True
    assisted = algorithms.get(name, space, 0, assistant=Assistant(TableScorer(scores), k=18), fidelities=fids, **opts)
    assert run(vanilla) > 0
    first = assisted.ask()
    assert space.contains(first.arch)
    assert first.meta["proxy"] == toy_reward(first.arch)  # the assistant scored and picked it
    assert toy_reward(first.arch) >= sorted(scores.values())[-4]  # best of 18 draws by an oracle proxy
    assisted.tell(first, algorithms.Result(metric=toy_reward(first.arch), cost_s=1.0))
    run(assisted, 6)
    # same seed, same trajectory
    a, b = (
        algorithms.get(name, space, 3, fidelities=fids, **opts),
        algorithms.get(name, space, 3, fidelities=fids, **opts),
    )
    assert [a.ask().arch for _ in range(4)] == [b.ask().arch for _ in range(4)]


def test_gradsign_on_demand_on_the_user_space_and_live_training(space, tmp_path):
    """GradSign scores the user's networks on real digits and a live search trains them."""
    from gradsign_nas import load_best
    from gradsign_nas.assist import TrainingBatchScorer
    from gradsign_nas.benchmarks.live import LiveTrainingEvaluator
    from gradsign_nas.execution import sequential_search
    from gradsign_nas.results import read_history

    ev = LiveTrainingEvaluator(space, "digits", fidelities=(1,), device="cpu", seed=0, limit=150)
    scorer = TrainingBatchScorer(ev, batch_size=16)
    score = scorer.score(space.parse("2-8-3"))
    assert np.isfinite(score) and score > 0
    alg = algorithms.get(
        "rea", space, 0, assistant=Assistant(scorer, 3), fidelities=(1,), population_size=2, assist_initial=True
    )
    r = sequential_search(alg, ev, trials=3, out_dir=tmp_path, progress=False)
    assert r.n_evaluations == 3 and all(rec["proxy"] is not None for rec in read_history(tmp_path))
    arch, model = load_best(tmp_path, space)  # not registered under its name: the space object is passed
    assert space.contains(arch) and model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_register_refuses_a_taken_name(space):
    with pytest.raises(ValueError, match="already registered"):
        search_spaces.register("tiny_conv", TinyConvSpace)
    with pytest.raises(ValueError, match="already registered"):
        search_spaces.register("nb201", TinyConvSpace)
