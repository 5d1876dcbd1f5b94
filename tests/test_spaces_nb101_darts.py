"""NB101 and DARTS (NB301) spaces: strings, sampling, mutation, encoding, networks, subset data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gradsign_nas import search_spaces
from gradsign_nas.benchmarks.subsets import load_subset
from gradsign_nas.errors import DataError
from gradsign_nas.search_spaces.darts import DartsArch, DartsSpace
from gradsign_nas.search_spaces.nb101 import NB101Arch, NB101Space

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / os.environ.get("GRADSIGN_NAS_DATA", "../shared/data")).resolve()
SPACES = ("nb101", "darts")

torch.set_num_threads(min(2, torch.get_num_threads()))

CHAIN = "0100000/0010000/0001000/0000100/0000010/0000001/0000000|conv3x3-bn-relu,conv1x1-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu"


@pytest.mark.parametrize("name", SPACES)
def test_registry_and_string_round_trip(name):
    space = search_spaces.get(name)
    assert space.name == name
    rng = np.random.default_rng(1)
    for _ in range(30):
        arch = space.sample(rng)
        assert space.parse(str(arch)) == arch
        assert str(space.parse(str(arch))) == str(arch)
        assert hash(arch) == hash(space.parse(str(arch)))
        assert space.decode(space.encode(arch)) == arch
        assert space.contains(arch)


@pytest.mark.parametrize("name", SPACES)
def test_sample_and_mutate_are_seeded_and_valid(name):
    space = search_spaces.get(name)
    a = [space.sample(np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    draws = [space.sample(np.random.default_rng(s)) for s in range(20)]
    assert len(set(draws)) > 15
    rng1, rng2 = np.random.default_rng(3), np.random.default_rng(3)
    parent = draws[0]
    for _ in range(25):
        c1, c2 = space.mutate(parent, rng1), space.mutate(parent, rng2)
        assert c1 == c2 and c1 != parent
        # one decision changed in the encoding (NB101: before pruning, so at least one)
        diff = [k for k, v in space.encode(c1).items() if space.encode(parent)[k] != v]
        assert len(diff) >= 1
        if name == "darts":
            assert len(diff) == 1
        parent = c1


def test_nb101_validity_and_pruning():
    space = NB101Space()
    chain = space.parse(CHAIN)
    assert chain.num_edges == 6
    m = [list(r) for r in chain.matrix]
    m[1][3] = 1  # an extra edge inside the live graph: still valid
    assert NB101Arch(tuple(map(tuple, m)), chain.ops).num_edges == 7
    # a vertex hanging off the graph (no path to the output) is pruned away, its op normalised
    dangling = [[0] * 7 for _ in range(7)]
    dangling[0][6] = 1
    dangling[0][2] = 1
    arch = NB101Arch(tuple(map(tuple, dangling)), ("maxpool3x3",) * 5)
    assert arch.num_edges == 1 and arch.ops == ("conv3x3-bn-relu",) * 5
    assert arch.pruned() == (((0, 1), (0, 0)), ())
    with pytest.raises(ValueError, match="path from input to output"):
        NB101Arch(tuple((0,) * 7 for _ in range(7)), chain.ops)
    dense = tuple(tuple(1 if j > i else 0 for j in range(7)) for i in range(7))
    with pytest.raises(ValueError, match="at most 9 edges"):
        NB101Arch(dense, chain.ops)
    for bad in (
        "",
        CHAIN.replace("conv1x1-bn-relu", "conv5x5"),
        CHAIN.replace("0100000/", "1100000/"),
        CHAIN.split("|")[0],
        "0100000/0010000|conv3x3-bn-relu",
    ):
        with pytest.raises(ValueError):
            space.parse(bad)


def test_darts_validity_and_canonical_order():
    space = DartsSpace()
    arch = space.sample(np.random.default_rng(0))
    swapped = list(arch.normal)
    swapped[2], swapped[3] = swapped[3], swapped[2]
    assert DartsArch(tuple(swapped), arch.reduce) == arch
    with pytest.raises(ValueError, match="two different inputs"):
        DartsArch(((0, "skip_connect"), (0, "sep_conv_3x3")) + arch.normal[2:], arch.reduce)
    with pytest.raises(ValueError, match="takes inputs"):
        DartsArch(arch.normal[:2] + ((3, "skip_connect"), (0, "sep_conv_3x3")) + arch.normal[4:], arch.reduce)
    text = str(arch)
    for bad in (
        text.replace("normal:", "nrml:"),
        text.replace("~0", "~9", 1),
        text.split(";")[0],
        text.replace("sep_conv_3x3", "conv_7x7").replace("skip_connect", "conv_7x7"),
        "junk",
    ):
        if bad != text:
            with pytest.raises(ValueError):
                space.parse(bad)
    assert space.from_nb301([(0, 3), (1, 3)] * 4, [(0, 0), (1, 6)] * 4).normal[0] == (0, "sep_conv_3x3")


def test_decode_rejects_bad_configs():
    for name in SPACES:
        space = search_spaces.get(name)
        config = space.encode(space.sample(np.random.default_rng(0)))
        with pytest.raises(ValueError):
            space.decode({k: v for k, v in list(config.items())[1:]})
        key = next(k for k in config if "op" in k)
        with pytest.raises(ValueError):
            space.decode({**config, key: "conv_9x9"})


@pytest.mark.parametrize("name", SPACES)
def test_build_forward_shape(name):
    space = search_spaces.get(name)
    arch = space.sample(np.random.default_rng(2))
    small = {"nb101": {"stem_channels": 8}, "darts": {"C": 4, "layers": 5}}[name]
    model = space.build(arch, num_classes=7, **small)
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    with pytest.raises(ValueError):
        space.build(arch, num_classes=0)
    with pytest.raises(ValueError):
        space.build(arch, bogus=1)


def test_nb101_channel_split_of_the_full_network():
    """A cell whose output concatenates 3 vertices splits 128 channels 43/43/42 (NB101's rule)."""
    from gradsign_nas.search_spaces._nb101_net import vertex_channels

    m = [[0] * 5 for _ in range(5)]
    for v in (1, 2, 3):
        m[0][v] = 1
        m[v][4] = 1
    assert vertex_channels(128, 128, m) == [128, 43, 43, 42, 128]
    m[1][2] = 1  # vertex 1 feeds vertex 2 as well: still 43, the max of what it feeds
    m2 = [[0] * 5 for _ in range(5)]
    m2[0][1] = m2[1][2] = m2[2][4] = m2[0][3] = m2[3][4] = 1
    assert vertex_channels(64, 128, m2) == [64, 64, 64, 64, 128]


@pytest.fixture(scope="module")
def subsets():
    if not (DATA / "nb101").is_dir():
        pytest.skip(f"no subset data under {DATA}")
    return {name: load_subset(name, DATA) for name in SPACES}


def test_load_subset(subsets):
    for name, (archs, acc, ref) in subsets.items():
        space = search_spaces.get(name)
        assert len(archs) == 500 == len(acc)
        assert all(space.contains(a) for a in archs[:50])
        assert 80 < np.median(acc) < 100
        for proxy in ("synflow", "snip", "grad_norm", "params", "flops", "jacov"):
            assert ref[proxy].shape == (500,)
    with pytest.raises(ValueError, match="subsets exist"):
        load_subset("nb201", DATA)


def test_subset_parameter_counts_match_the_file(subsets):
    """Our networks reproduce the `params` column: NB101 exactly; DARTS exactly with NASLib's
    non-affine op batch norms (the affine default adds their scale and shift)."""
    archs, _, ref = subsets["nb101"]
    space = NB101Space()
    for i in range(0, 500, 50):
        count = sum(p.numel() for p in space.build(archs[i]).parameters()) / 1e6
        assert count == pytest.approx(ref["params"][i], abs=1e-9)
    archs, _, ref = subsets["darts"]
    space = DartsSpace()
    for i in range(0, 500, 50):
        count = sum(p.numel() for p in space.build(archs[i], op_affine=False).parameters()) / 1e6
        assert count == pytest.approx(ref["params"][i], abs=1e-9)
        assert sum(p.numel() for p in space.build(archs[i]).parameters()) / 1e6 > count


def test_subset_missing_or_corrupt(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_subset("nb101", tmp_path)
    (tmp_path / "nb301").mkdir()
    (tmp_path / "nb301" / "naslib_zc_nasbench301_subset500.json").write_text("{}")
    with pytest.raises(DataError, match="corrupt"):
        load_subset("darts", tmp_path)
