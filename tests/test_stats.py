"""The paired statistics of a comparison: Wilcoxon signed-rank by run, bootstrap interval, Holm."""

import random

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, wilcoxon

from gradsign_nas import stats


def _rows(vanilla, assisted, algorithm="rea", dataset="cifar10", extra=None):
    rows = []
    for variant, values in [("vanilla", vanilla), ("assisted", assisted), *(extra or {}).items()]:
        for r, x in enumerate(values):
            rows.append({"algorithm": algorithm, "variant": variant, "run": r, "seed": 100 + r, dataset: x})
    return rows


VANILLA = [93.1, 93.5, 92.8, 94.0, 93.3, 92.9, 93.7, 93.0, 93.6, 93.2]
ASSISTED = [93.4, 93.6, 93.5, 94.1, 93.2, 93.8, 94.0, 93.1, 94.2, 93.9]


def test_wilcoxon_is_scipys_on_the_per_run_differences():
    cell = stats.paired(_rows(VANILLA, ASSISTED), ["cifar10"])["rea"]["cifar10"]
    diff = np.subtract(ASSISTED, VANILLA)
    assert cell["n"] == 10
    assert cell["mean_diff"] == pytest.approx(diff.mean())
    assert cell["wilcoxon_p"] == pytest.approx(wilcoxon(diff, alternative="greater").pvalue)
    assert cell["wilcoxon_p_two_sided"] == pytest.approx(wilcoxon(diff).pvalue)
    mw = mannwhitneyu(ASSISTED, VANILLA, alternative="two-sided").pvalue
    assert cell["mann_whitney_p_two_sided"] == pytest.approx(mw)
    # the paired test sees what the unpaired one misses here
    assert cell["wilcoxon_p"] < stats.p_values(_rows(VANILLA, ASSISTED), ["cifar10"])["rea"]["cifar10"]


def test_bootstrap_interval_holds_the_mean_and_is_deterministic():
    rows = _rows(VANILLA, ASSISTED)
    a = stats.paired(rows, ["cifar10"], rng_seed=7)["rea"]["cifar10"]
    b = stats.paired(rows, ["cifar10"], rng_seed=7)["rea"]["cifar10"]
    c = stats.paired(rows, ["cifar10"], rng_seed=8)["rea"]["cifar10"]
    lo, hi = a["ci95"]
    assert lo < a["mean_diff"] < hi and lo > 0  # every run but two improved
    assert a["ci95"] == b["ci95"] and a["ci95"] != c["ci95"]
    diff = np.subtract(ASSISTED, VANILLA)
    assert lo >= diff.min() and hi <= diff.max()


def test_holm_by_hand():
    assert stats.holm({"a": 0.01, "b": 0.04, "c": 0.03}) == {"a": 0.03, "b": 0.06, "c": 0.06}
    nested = stats.holm({"rs": {"cifar10": 0.01, "x": None}, "rea": {"cifar10": 0.04, "c100": 0.03}})
    assert nested == {"rs": {"cifar10": 0.03, "x": None}, "rea": {"cifar10": 0.06, "c100": 0.06}}
    assert stats.holm({"a": 0.5, "b": 0.9}) == {"a": 1.0, "b": 1.0}  # capped at 1
    assert stats.holm({"a": 1e-20, "b": 0.9}) == {"a": 2e-20, "b": 0.9}  # tiny p not rounded away
    assert stats.holm({"p_values": {}, "s": {"rs": {"x": 0.2}}}) == {"p_values": {}, "s": {"rs": {"x": 0.2}}}


def test_pairs_by_run_not_by_row_order():
    rows = _rows(VANILLA, ASSISTED)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    assert stats.paired(shuffled, ["cifar10"]) == stats.paired(rows, ["cifar10"])
    # pairing by position instead of run would change the differences (and the test)
    renumbered = [dict(r, run=(r["run"] + 3) % 10) if r["variant"] == "assisted" else r for r in rows]
    assert stats.paired(renumbered, ["cifar10"])["rea"]["cifar10"]["wilcoxon_p"] != pytest.approx(
        stats.paired(rows, ["cifar10"])["rea"]["cifar10"]["wilcoxon_p"]
    )
    # only runs with both variants are pairs
    partial = [r for r in rows if not (r["variant"] == "vanilla" and r["run"] == 0)]
    assert stats.paired(partial, ["cifar10"])["rea"]["cifar10"]["n"] == 9


def test_reversed_effect_is_worse_not_level():
    cell = stats.paired(_rows(ASSISTED, VANILLA), ["cifar10"])["rea"]["cifar10"]  # assisted worse
    assert cell["wilcoxon_p"] > 0.95 and cell["wilcoxon_p_two_sided"] < 0.05
    assert cell["mean_diff"] < 0 and cell["ci95"][1] < 0


def test_no_difference_at_all():
    cell = stats.paired(_rows(VANILLA, VANILLA), ["cifar10"])["rea"]["cifar10"]
    assert cell["wilcoxon_p"] == cell["wilcoxon_p_two_sided"] == 1.0 and cell["ci95"] == [0.0, 0.0]


def test_families_strategies_and_the_table():
    warm = [x + 0.5 for x in VANILLA]
    rows = _rows(VANILLA, ASSISTED, extra={"warmup": warm})
    pvals, spvals = stats.p_values(rows, ["cifar10"]), stats.strategy_p_values(rows, ["cifar10"])
    keys = stats.paired_keys(rows, ["cifar10"], pvals, spvals)
    assert set(keys) == {"paired", "strategy_paired", "holm"}
    assert set(keys["strategy_paired"]["rea"]["warmup"]) == {"vs_vanilla", "vs_assisted"}
    h = keys["holm"]
    # the Mann-Whitney family: 1 assisted p + 2 strategy p's; the Wilcoxon family likewise
    mw = [pvals["rea"]["cifar10"], *(spvals["rea"]["warmup"][k]["cifar10"] for k in ("vs_vanilla", "vs_assisted"))]
    adj = [
        h["p_values"]["rea"]["cifar10"],
        *(h["strategy_p_values"]["rea"]["warmup"][k]["cifar10"] for k in ("vs_vanilla", "vs_assisted")),
    ]
    assert min(adj) == pytest.approx(min(1.0, 3 * min(mw)))
    assert all(a >= p for a, p in zip(adj, mw))
    wx = h["strategy_paired"]["rea"]["warmup"]["vs_vanilla"]["cifar10"]
    assert wx >= keys["strategy_paired"]["rea"]["warmup"]["vs_vanilla"]["cifar10"]["wilcoxon_p"]
    assert "Wilcoxon: rea warmup > vanilla cifar10" in h["survive_0.05"]
    table = stats.paired_table(keys, ["cifar10"])
    assert "| rea | assisted > vanilla | cifar10 | 10 |" in table and "| rea | warmup > assisted | cifar10 |" in table
    assert "survive Holm at 0.05" in table
    # strategies without an assisted variant (no p_values): still every key
    no_assisted = [r for r in rows if r["variant"] != "assisted"]
    p0, s0 = stats.p_values(no_assisted, ["cifar10"]), stats.strategy_p_values(no_assisted, ["cifar10"])
    k0 = stats.paired_keys(no_assisted, ["cifar10"], p0, s0)
    assert (
        k0["paired"] == {}
        and k0["holm"]["p_values"] == {}
        and "vs_vanilla" in k0["holm"]["strategy_paired"]["rea"]["warmup"]
    )
    assert "warmup > vanilla" in stats.paired_table(k0, ["cifar10"])
