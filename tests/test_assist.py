"""Proxy scorers and the assistant."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from gradsign_nas.assist import Assistant, OnDemandScorer, TableScorer
from gradsign_nas.search_spaces import get as get_space
from gradsign_nas.search_spaces.nb201 import NB201Space


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


def test_table_from_array_follows_the_official_index(space):
    scores = np.arange(15625, dtype=np.float64) * 0.5
    seconds = np.full(15625, 0.07)
    table = TableScorer(scores, seconds, space="nb201")
    assert len(table) == 15625
    for i in (0, 6111, 15624):
        arch = space.from_index(i)
        assert table.score(arch) == i * 0.5 and table.score(str(arch)) == i * 0.5
        assert table.cost_s(arch) == pytest.approx(0.07)
    with pytest.raises(ValueError, match="15625"):
        TableScorer(scores[:-1], space="nb201")
    with pytest.raises(ValueError):
        TableScorer(scores)  # an array needs its space
    with pytest.raises(ValueError):
        TableScorer({"a": float("nan")})


def test_table_from_file_round_trip(tmp_path, space):
    rng = np.random.default_rng(0)
    scores = rng.normal(size=15625)
    path = tmp_path / "t.npz"
    np.savez(
        path,
        scores_cifar10=scores,
        seconds_cifar10=np.full(15625, 0.05),
        scores_cifar100=-scores,
        meta=np.array(json.dumps({"proxy": "gradsign", "batch": 64})),
    )
    t10 = TableScorer.from_file(path, "cifar10")
    t100 = TableScorer.from_file(path, "cifar100")
    arch = space.from_index(42)
    assert t10.score(arch) == scores[42] and t100.score(arch) == -scores[42]
    assert t10.cost_s(arch) == 0.05 and t100.cost_s(arch) == 0.0
    assert t10.meta["proxy"] == "gradsign" and t10.meta["batch"] == 64
    with pytest.raises(ValueError, match="cifar10, cifar100"):
        TableScorer.from_file(path, "ImageNet16-120")
    with pytest.raises(ValueError, match="does not exist"):
        TableScorer.from_file(tmp_path / "missing.npz")
    with pytest.raises(ValueError):
        t10.score("not an arch")


def test_packaged_nb201_table_or_one_clear_sentence():
    packaged = resources.files("gradsign_nas").joinpath("tables", "nb201_gradsign.npz").is_file()
    if packaged:
        table = TableScorer.nb201("cifar10")
        assert len(table) == 15625
    else:
        with pytest.raises(ValueError, match="nb201_gradsign.npz"):
            TableScorer.nb201("cifar10")


def test_assistant_rejects_bad_k_and_scorer():
    table = TableScorer({"a": 1.0})
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="K"):
            Assistant(table, k=k)
    with pytest.raises(ValueError):
        Assistant({"a": 1.0}, k=2)
    with pytest.raises(ValueError):
        Assistant(table).pick([])


def test_on_demand_scorer_computes_caches_and_times(data_path):
    if not (data_path / "images").is_dir():
        pytest.skip("CIFAR images not present")
    import torch

    from gradsign_nas.proxies import gradsign

    torch.set_num_threads(1)
    small = NB201Space(C=4, N=1)
    scorer = OnDemandScorer(small, dataset="cifar10", batch_size=8, seed=0, directory=data_path)
    arch = small.from_index(6111)
    s = scorer.score(arch)
    cost = scorer.cost_s(arch)
    assert cost > 0 and scorer.score(str(arch)) == s and scorer.cost_s(arch) == cost  # cached
    from gradsign_nas.benchmarks import load_batch

    x, y = load_batch("cifar10", 8, 0, data_path)
    torch.manual_seed(0)
    assert s == gradsign(small.build(arch, 10), x, y)
    other = small.from_index(0)
    assert Assistant(scorer, k=2).pick([other, arch]) == max(
        [(other, scorer.score(other)), (arch, s)], key=lambda t: t[1]
    )
