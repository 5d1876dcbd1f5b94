"""A user-defined algorithm and proxy, defined here, run through every command without editing the package."""

import json

import numpy as np
import pytest
import torch

from gradsign_nas import algorithms, proxies
from gradsign_nas.algorithms import Algorithm, Proposal, Result
from gradsign_nas.cli import main


class HillClimb(Algorithm):
    """Mutate the best architecture seen so far (random until the first result)."""

    name = "hill"

    def __init__(self, space, seed, assistant=None, fidelities=None, *, restarts: int = 0) -> None:
        super().__init__(space, seed, assistant, fidelities)
        self.best = None
        self.restarts = restarts

    def ask(self) -> Proposal:
        if self.best is None:
            draw = lambda: self.space.sample(self.rng)  # noqa: E731
        else:
            parent = self.best[0]
            draw = lambda: self.space.mutate(parent, self.rng)  # noqa: E731
        arch, meta = self._choose(draw)
        return self._proposal(arch, **meta)

    def tell(self, proposal: Proposal, result: Result) -> None:
        reward = self._reward(result)
        self._take(proposal)
        if self.best is None or reward > self.best[1]:
            self.best = (proposal.arch, reward)

    def discard(self, proposal: Proposal) -> None:
        self._take(proposal)


def weight_energy(model, inputs, targets) -> float:
    """Sum of squared initial weights times the output's spread: a made-up proxy."""
    with torch.no_grad():
        out = model(inputs)
    out = out[0] if isinstance(out, tuple) else out
    return float(sum((p.detach().double() ** 2).sum() for p in model.parameters()) * out.double().std())


@pytest.fixture(autouse=True)
def plugins():
    algorithms.register("hill", HillClimb, overwrite=True)
    proxies.register("weight_energy", weight_energy, overwrite=True)
    yield
    algorithms._ALGORITHMS.pop("hill", None)
    proxies._REGISTRY.pop("weight_energy", None)


def test_registered_names_are_listed_and_options_introspected():
    assert "hill" in algorithms.available() and "weight_energy" in proxies.available()
    assert algorithms.options("hill") == {"restarts": 0}
    with pytest.raises(ValueError, match="already registered"):
        algorithms.register("rea", HillClimb)
    with pytest.raises(ValueError, match="Algorithm subclass"):
        algorithms.register("nope", object)
    with pytest.raises(ValueError, match="proxy name"):
        proxies.register("a+b", weight_energy)


def test_user_algorithm_and_proxy_in_a_live_search_vanilla_and_assisted(tmp_path, capsys):
    out = tmp_path / "live"
    assert (
        main(
            [
                "search",
                "--algorithm",
                "hill",
                "--proxy",
                "weight_energy",
                "--trials",
                "3",
                "--epochs",
                "1",
                "--no-ray",
                "--no-progress",
                "--k",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    for variant in ("vanilla", "assisted"):
        recs = [json.loads(x) for x in (out / f"hill-{variant}" / "history.jsonl").read_text().splitlines()]
        assert len(recs) == 3 and all(r["status"] == "completed" for r in recs)
        assert all((r["proxy"] is not None) == (variant == "assisted") for r in recs)


def test_user_algorithm_and_proxy_in_compare_and_table_search(data_path, tmp_path, capsys):
    d = ["--data-dir", str(data_path), "--no-progress"]
    assert (
        main(
            [
                "compare",
                "--algorithms",
                "hill,rs",
                "--runs",
                "2",
                "--budget",
                "600",
                "--workers",
                "1",
                "--scores",
                "on-demand",
                "--proxy",
                "weight_energy",
                "--k",
                "2",
                "--out",
                str(tmp_path / "c"),
                "--json",
                *d,
            ]
        )
        == 0
    )
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(line["results"]["hill"]) == {"vanilla", "assisted"} and "hill" in line["p_values"]
    assert line["proxy_scores"]["hill"]["assisted"] >= 2
    assert (
        main(
            [
                "table-search",
                "--algorithm",
                "hill",
                "--variants",
                "vanilla",
                "--budget",
                "1000",
                "--out",
                str(tmp_path / "t"),
                "--json",
                *d,
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["variants"]["vanilla"]["evaluations"] >= 1


def test_user_proxy_in_correlate(data_path, tmp_path, capsys):
    assert (
        main(
            [
                "correlate",
                "--proxy",
                "weight_energy",
                "--sample",
                "5",
                "--score-batch-size",
                "8",
                "--workers",
                "1",
                "--data-dir",
                str(data_path),
                "--out",
                str(tmp_path / "r"),
                "--no-cache",
                "--no-progress",
                "--json",
            ]
        )
        == 0
    )
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["proxy"] == "weight_energy" and res["n"] == 5 and np.isfinite(res["spearman"])


def test_entry_point_plugins_are_found(monkeypatch):
    """An installed package's entry points (groups gradsign_nas.algorithms / gradsign_nas.proxies)."""
    import importlib.metadata as md

    eps = {
        "gradsign_nas.algorithms": [md.EntryPoint("hill2", f"{__name__}:HillClimb", "gradsign_nas.algorithms")],
        "gradsign_nas.proxies": [md.EntryPoint("energy2", f"{__name__}:weight_energy", "gradsign_nas.proxies")],
    }
    monkeypatch.setattr(md, "entry_points", lambda group=None: eps.get(group, []))
    try:
        assert "hill2" in algorithms.available() and "energy2" in proxies.available()
        alg = algorithms.get("hill2", "nb201", 0, fidelities=(12,))
        assert isinstance(alg, HillClimb) and proxies.get("energy2") is weight_energy
    finally:
        algorithms._ALGORITHMS.pop("hill2", None)
        proxies._REGISTRY.pop("energy2", None)
