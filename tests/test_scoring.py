"""score_archs: identical scores whatever the number of workers, the score cache, NaN handling."""

import json
import math

import numpy as np
import pytest

from gradsign_nas import proxies, scoring, search_spaces
from gradsign_nas.correlation import correlate

INDICES = (0, 6111, 2000, 7995)  # 7995 has no path from input to output: GradSign 0


@pytest.fixture(scope="module")
def archs():
    space = search_spaces.get("nb201")
    return [space.from_index(i) for i in INDICES]


def test_one_worker_and_two_workers_give_identical_scores(archs, data_path):
    kw = dict(batch_size=8, seed=3, directory=data_path, cache=False, progress=False)
    one, sec1 = scoring.score_archs("nb201", archs, workers=1, **kw)
    two, sec2 = scoring.score_archs("nb201", archs, workers=2, **kw)
    assert np.array_equal(one, two)
    assert (one[:3] > 0).all() and one[3] == 0.0
    assert (sec1 > 0).all() and (sec2 > 0).all()
    other_seed, _ = scoring.score_archs("nb201", archs, workers=1, **dict(kw, seed=4))
    assert not np.array_equal(one, other_seed)


def test_cache_round_trip_and_no_recomputation(archs, data_path, tmp_path, monkeypatch):
    path = tmp_path / "scores.jsonl"
    kw = dict(batch_size=8, seed=0, directory=data_path, workers=1, cache=path, progress=False)
    first, sec = scoring.score_archs("nb201", archs[:2], **kw)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [rec["arch"] for rec in lines] == [str(a) for a in archs[:2]]
    assert {rec["batch_size"] for rec in lines} == {8} and {rec["proxy"] for rec in lines} == {"gradsign"}

    calls = []
    real = scoring._score_chunk
    monkeypatch.setattr(
        scoring,
        "_score_chunk",
        lambda state, archs, on_pass=None: calls.extend(map(str, archs)) or real(state, archs, on_pass),
    )
    again, sec_again = scoring.score_archs("nb201", archs[:3], **kw)  # two cached, one new
    assert calls == [str(archs[2])]
    assert np.array_equal(again[:2], first) and np.array_equal(sec_again[:2], sec)
    # another setting in the same file is a miss, not a wrong hit
    calls.clear()
    scoring.score_archs("nb201", archs[:1], **dict(kw, seed=1))
    assert calls == [str(archs[0])]


def test_torn_last_line_is_ignored_and_not_glued_to_the_next(archs, data_path, tmp_path):
    path = tmp_path / "scores.jsonl"
    kw = dict(batch_size=8, seed=0, directory=data_path, workers=1, cache=path, progress=False)
    scoring.score_archs("nb201", archs[:1], **kw)
    with open(path, "a") as f:
        f.write('{"space": "nb201", "proxy": "gradsign", "data')  # a run killed mid-write
    scores, _ = scoring.score_archs("nb201", archs[:2], **kw)
    cache = scoring.ScoreCache(path, space="nb201", proxy="gradsign", dataset="cifar10", batch_size=8, seed=0)
    assert len(cache) == 2 and cache.get(str(archs[1]))[0] == scores[1]


def test_nan_scores_are_kept_cached_and_excluded_from_correlation(archs, data_path, tmp_path):
    def flaky(model, x, y):
        n = sum(p.numel() for p in model.parameters())
        if n < 200_000:
            return float("nan")
        if n < 400_000:
            raise ValueError("degenerate network")
        return float(n)

    proxies.register("test_flaky", flaky, overwrite=True)
    path = tmp_path / "scores.jsonl"
    kw = dict(proxy="test_flaky", batch_size=4, directory=data_path, workers=1, cache=path, progress=False)
    scores, _ = scoring.score_archs("nb201", archs, **kw)
    assert np.isnan(scores).sum() >= 1 and np.isfinite(scores).sum() >= 2
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert all((rec["score"] is None) == math.isnan(s) for rec, s in zip(lines, scores))
    again, _ = scoring.score_archs("nb201", archs, **kw)
    assert np.array_equal(np.isnan(again), np.isnan(scores))
    c = correlate(scores, np.arange(len(scores), dtype=float))
    assert c.n_nan == int(np.isnan(scores).sum()) and c.n == len(scores) - c.n_nan


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(proxy="no_such_proxy"), "unknown proxy"),
        (dict(dataset="svhn"), "dataset"),
        (dict(batch_size=0), "batch size"),
        (dict(workers=0), "workers"),
    ],
)
def test_bad_input_is_a_value_error(archs, data_path, bad, message):
    kw = dict(directory=data_path, cache=False, progress=False, workers=1)
    kw.update(bad)
    with pytest.raises(ValueError, match=message):
        scoring.score_archs("nb201", archs[:1], **kw)


def test_architecture_of_another_space_is_refused(data_path):
    with pytest.raises(ValueError, match="expected an architecture"):
        scoring.score_archs("nb201", ["|none~0|"], directory=data_path, cache=False, progress=False)
