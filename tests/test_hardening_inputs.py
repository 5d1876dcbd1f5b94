"""Hardening, second pass (issue 23): a refused resume leaves its run folder as it found it; config
files, data files and output paths are checked like the command line, before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib
from conftest import data_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradsign_nas.cli import main


def _snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes (and every folder, as ``None``)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


# -- item 4: a refused resume changes nothing ---------------------------------------------------------
@pytest.fixture
def recorded_table_run(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["table-search", "--variants", "vanilla", "--budget", "3000", "--seed", "4", "--out", str(out)]
    argv += ["--data-dir", str(data_dir())]
    assert main(argv) == 0
    capsys.readouterr()
    return out, argv


def _edit_metric(run: Path) -> None:
    path = run / "rea-vanilla" / "history.jsonl"
    lines = path.read_text().splitlines()
    rec = json.loads(lines[2])
    lines[2] = json.dumps(dict(rec, metric=99.99))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("tamper", ["edited metric", "foreign seed", "foreign seed, run.json missing"])
def test_a_refused_resume_leaves_every_file_as_it_was(recorded_table_run, tamper, tmp_path, capsys):
    out, argv = recorded_table_run
    run = out / "rea-vanilla"
    if tamper == "edited metric":
        _edit_metric(out)
    else:  # the history of a run with another seed, under this run's settings
        other = tmp_path / "other"
        other_argv = [a if a != "4" else "5" for a in argv]
        other_argv[other_argv.index("--out") + 1] = str(other)
        assert main(other_argv) == 0
        capsys.readouterr()
        (run / "history.jsonl").write_bytes((other / "rea-vanilla" / "history.jsonl").read_bytes())
        if tamper.endswith("missing"):
            (run / "run.json").unlink()
    before = _snapshot(out)
    assert main(argv) == 2
    _one_error(capsys)
    assert _snapshot(out) == before


@pytest.mark.parametrize("corruption", ["100k-deep line", "extra a list", "told_before text", "line repeated"])
def test_a_corrupt_history_line_is_one_sentence_and_changes_nothing(recorded_table_run, corruption, capsys):
    out, argv = recorded_table_run
    path = out / "rea-vanilla" / "history.jsonl"
    lines = path.read_text().splitlines()
    rec = json.loads(lines[1])
    if corruption == "100k-deep line":
        lines[1] = json.dumps(dict(rec, extra={})).replace("{}", "[" * 100_000 + "]" * 100_000)
    elif corruption == "extra a list":
        lines[1] = json.dumps(dict(rec, extra=[1, 2]))
    elif corruption == "told_before text":
        lines[1] = json.dumps(dict(rec, told_before="one"))
    else:
        lines.insert(2, lines[1])
    path.write_text("\n".join(lines) + "\n")
    before = _snapshot(out)
    assert main(argv) == 2
    err = _one_error(capsys)
    assert "history.jsonl" in err and ("line 2" in err or "line 3" in err), err
    assert len(err) < 400
    assert _snapshot(out) == before


# -- item 1: config files are checked like the command line --------------------------------------------
def _record(command: str, **fields) -> str:
    return json.dumps({"command": command, "environment": {}, **fields})


CONFIGS = {
    "out a list": ("table-search", 'out = ["a"]\n'),
    "out an integer": ("table-search", "out = 5\n"),
    "data_dir an integer": ("table-search", "data_dir = 5\n"),
    "variants a table": ("table-search", "[variants]\na = 1\n"),
    "no_ray as text": ("search", 'no_ray = "false"\n'),
    "a recorded variant 'both'": ("table-search", _record("table-search", variant="both")),
    "request a list": ("table-search", _record("table-search", request=[1, 2])),
    "space_options text": ("search", _record("search", space="nb201", space_options="x")),
    "100k-deep JSON": ("table-search", "[" * 100_000 + "]" * 100_000),
    "100k-deep TOML": ("table-search", "a = " + "[" * 100_000 + "]" * 100_000 + "\n"),
    "a 5 MB text": ("table-search", json.dumps({"out": "x" * 5_000_000})),
    "a 20 kB text": ("table-search", json.dumps({"proxy": "x" * 20_000})),
    "seed 1.5": ("table-search", "seed = 1.5\n"),
    "executor not a choice": ("table-search", 'executor = "x"\n'),
    "budget -inf": ("table-search", "budget = -1e999\n"),
    "a list of numbers as variants": ("compare", json.dumps({"variants": [1]})),
    "not UTF-8": ("table-search", b"out = '\xff'\n"),
}


@pytest.mark.parametrize("case", CONFIGS, ids=list(CONFIGS))
def test_bad_config_files_are_one_short_sentence_and_write_nothing(case, tmp_path, monkeypatch, capsys):
    command, text = CONFIGS[case]
    monkeypatch.chdir(tmp_path)
    is_json = isinstance(text, str) and text.lstrip().startswith(("{", "["))
    cfg = tmp_path / ("c.json" if is_json else "c.toml")
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    argv = [command, "--config", str(cfg), "--data-dir", str(data_dir())]
    assert main(argv) == 2
    err = _one_error(capsys)
    assert len(err) < 400, err[:500]
    assert sorted(p.name for p in tmp_path.iterdir()) == [cfg.name]


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "a directory"])
def test_a_config_that_is_not_a_regular_file_is_refused_without_reading(special, tmp_path, capsys):
    import os

    if special == "fifo":
        path = tmp_path / "c.toml"
        os.mkfifo(path)  # nobody writes to it: reading it would wait forever
    elif special == "a directory":
        path = tmp_path
    else:
        path = Path(special)
    assert main(["table-search", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    err = _one_error(capsys)
    assert "config file" in err and str(path) in err, err
    assert not (tmp_path / "out").exists()


def _subparsers() -> dict:
    from gradsign_nas.cli import CONFIGURABLE, build_parser

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name: p for name, p in sub.choices.items() if name in CONFIGURABLE}


def _wrong_values(action) -> st.SearchStrategy:
    """Values of the wrong type, shape or size for ``action``'s option."""
    from gradsign_nas.commands._config import MAX_TEXT

    nested = st.recursive(st.integers(), lambda c: st.lists(c, min_size=1, max_size=2), max_leaves=70)
    always = [st.lists(st.integers(), min_size=1, max_size=3), nested.filter(lambda v: isinstance(v, list))]
    if action.type is None:  # a switch: only true or false
        return st.one_of(
            *always, st.sampled_from(["false", "true", "0", "yes", ""]), st.integers(), st.floats(allow_nan=False)
        )
    if action.type in (int, float):
        words = st.text(alphabet="abcxyz !-_", min_size=1, max_size=10)
        kinds = [*always, words, st.booleans(), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)]
        if action.type is int:
            kinds.append(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != int(x)))
        return st.one_of(*kinds)
    kinds = [*always, st.integers(), st.floats(allow_nan=False), st.booleans()]
    kinds.append(st.integers(MAX_TEXT + 1, 3 * MAX_TEXT).map(lambda n: "y" * n))  # too long a text
    if action.dest != "algorithm_options":
        kinds.append(st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2))
    if action.choices is not None:
        kinds.append(st.text(min_size=1, max_size=8).filter(lambda s: s not in action.choices))
    return st.one_of(*kinds)


@pytest.mark.parametrize("command", ["search", "table-search", "compare", "correlate", "calibrate"])
def test_fuzzed_config_values_of_the_wrong_type_are_refused_naming_the_key(command, tmp_path):
    """Every key of every configurable command, given a value of the wrong type, shape or size in a
    JSON or TOML config, is one short InputError sentence naming the key (or the file's nesting)."""
    from gradsign_nas.commands._config import apply_config
    from gradsign_nas.errors import InputError

    parser = _subparsers()[command]
    actions = {a.dest: a for a in parser._actions if a.dest not in ("help", "config", "_run")}
    pairs = st.sampled_from(sorted(actions)).flatmap(lambda k: st.tuples(st.just(k), _wrong_values(actions[k])))

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(pairs, st.booleans())
    def check(pair, as_toml):
        key, value = pair
        path = tmp_path / ("c.toml" if as_toml else "c.json")
        if as_toml:
            text = f"{key} = {json.dumps(value)}\n" if not isinstance(value, dict) else None
            if text is None or _toml_unreadable(text, tomllib):
                as_toml, path = False, tmp_path / "c.json"
        if not as_toml:
            path.write_text(json.dumps({key: value}))
        else:
            path.write_text(text)
        with pytest.raises(InputError) as e:
            apply_config(parser, command, str(path))
        msg = str(e.value)
        assert "\n" not in msg and len(msg) < 600, msg[:700]
        assert key in msg or "nest" in msg, msg

    check()


def _toml_unreadable(text: str, tomllib) -> bool:
    try:
        tomllib.loads(text)
        return False
    except (ValueError, RecursionError):
        return True


# -- item 3: output paths checked up front, by one function, on every command that writes -------------
WRITERS = {
    "search": ["--trials", "1", "--epochs", "1", "--no-ray", "--variants", "vanilla"],
    "table-search": ["--variants", "vanilla", "--budget", "100"],
    "compare": ["--runs", "1", "--budget", "100"],
    "correlate": ["--sample", "3"],
    "score-space": [],
    "calibrate": ["--cells", "3", "--no-ray", "--data", "cifar10"],
}
BAD_OUTS = {
    "empty": (lambda base: "", "path, but got ''"),
    "a 300-character name": (lambda base: f"{base}/{'n' * 300}", "at most 255 bytes"),
    "under a 300-character name": (lambda base: f"{base}/{'n' * 300}/x", "at most 255 bytes"),
    "unwritable (/sys)": (lambda base: "/sys/kernel/gradsign-x", "writable"),
    "under a file": (lambda base: f"{base}/afile/x", "is a file"),
    "a special file": (lambda base: "/dev/null", "character device"),
}


@pytest.mark.parametrize("command", WRITERS)
def test_bad_output_paths_are_refused_before_any_work(command, tmp_path, monkeypatch, capsys):
    import time

    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    for case, (make, words) in BAD_OUTS.items():
        out = make(tmp_path)
        if command == "score-space" and out not in ("", "/dev/null"):
            out += ".npz"
        if command == "score-space" and case == "a special file":
            words = ".npz file"
        argv = [command, *WRITERS[command], "--out", out]
        if command != "search":
            argv += ["--data-dir", str(data_dir())]
        t0 = time.monotonic()
        assert main(argv) == 2, case
        err = _one_error(capsys)
        assert words in err and "--out" in err, (case, err)
        assert time.monotonic() - t0 < 30, case
        assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"], case


@pytest.mark.parametrize(
    "argv,words",
    [
        (["score-space", "--out", "{tmp}/x.txt"], ".npz file"),  # refused before scoring 15,625 networks
        (["score-space", "--out", "{tmp}/d.npz/"], ".npz file"),
        (["correlate", "--sample", "3", "--cache", "/nonexistent/dir/x.npz", "--out", "{tmp}/c"], "existing folder"),
        (["correlate", "--sample", "3", "--cache", "{tmp}/" + "n" * 300 + ".npz", "--out", "{tmp}/c"], "255 bytes"),
        (["correlate", "--sample", "3", "--cache", "/sys/x.npz", "--out", "{tmp}/c"], "writable"),
        (["data", "download", "--data-dir", "/sys/kernel/gradsign-x", "--timeout", "3"], "writable"),
        (["data", "download", "--data-dir", "", "--timeout", "3"], "folder path"),
        (["data", "check", "--data-dir", "{tmp}/" + "n" * 300], "readable folder"),
        (["table-search", "--data-dir", "", "--out", "{tmp}/t"], "folder path"),
    ],
    ids=lambda v: " ".join(v)[:50] if isinstance(v, list) else v,
)
def test_bad_file_and_folder_options_are_one_sentence(argv, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] in ("score-space", "correlate"):
        argv += ["--data-dir", str(data_dir())]
    assert main(argv) == 2
    assert words in _one_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_data_check_on_a_corrupt_folder_ends_in_one_error_line(tmp_path, capsys):
    assert main(["data", "check", "--data-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "problem" in captured.out  # each file's problem is listed on stdout
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "missing or corrupt" in err[0], err


# -- item 2: live data files and network sizes checked before anything is written ----------------------
def _npz(path: Path, **arrays) -> Path:
    import numpy as np

    np.savez(path, **arrays)
    return path


def _huge_header_npz(path: Path) -> Path:
    """An npz whose x.npy header claims 100 million 3x1024x1024 float32 images (1.1 PiB) in a few bytes."""
    import io
    import zipfile

    import numpy as np

    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 3, 1024, 1024), }"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    y = io.BytesIO()
    np.save(y, np.arange(10) % 2)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
        z.writestr("y.npy", y.getvalue())
    return path


def _image_folder(root: Path, classes=("a", "b"), junk: bool = False) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(4):
            Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)).save(root / c / f"{i}.png")
    if junk:
        (root / classes[0] / "notes.png").write_bytes(b"not an image")
    return root


def _bad_data(kind: str, d: Path) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    x, y = rng.random((40, 1, 8, 8)).astype(np.float32), np.arange(40) % 4
    nan = x.copy()
    nan[3, 0, 2, 2] = np.nan
    return {
        "pickled objects": lambda: _npz(d / "p.npz", x=np.array([None] * 40, dtype=object), y=y),
        "an empty npz": lambda: _npz(d / "e.npz"),
        "no images": lambda: _npz(d / "z.npz", x=x[:0], y=y[:0]),
        "a header claiming 1.1 PiB": lambda: _huge_header_npz(d / "h.npz"),
        "not a zip": lambda: (d / "c.npz").write_bytes(b"PK\x03\x04 garbage") and d / "c.npz",
        "negative labels": lambda: _npz(d / "n.npz", x=x, y=y - 1),
        "a label of 10**9": lambda: _npz(d / "b.npz", x=x, y=np.where(y == 3, 10**9, y)),
        "float labels": lambda: _npz(d / "f.npz", x=x, y=y + 0.5),
        "text labels": lambda: _npz(d / "t.npz", x=x, y=y.astype(str)),
        "one class": lambda: _npz(d / "o.npz", x=x, y=np.zeros(40, np.int64)),
        "a NaN pixel": lambda: _npz(d / "nan.npz", x=nan, y=y),
        "complex pixels": lambda: _npz(d / "cx.npz", x=x.astype(np.complex64), y=y),
        "a folder file that is not an image": lambda: _image_folder(d / "imgs", junk=True),
        "a folder of one class": lambda: _image_folder(d / "one", classes=("a",)),
    }[kind]()


DATA_WORDS = {
    "pickled objects": "Python objects",
    "an empty npz": "arrays x and y",
    "no images": "one label per image",
    "a header claiming 1.1 PiB": "headers claim",
    "not a zip": "cannot be read",
    "negative labels": "labels 0..",
    "a label of 10**9": "labels 0..",
    "float labels": "integer labels",
    "text labels": "integer labels",
    "one class": "two classes",
    "a NaN pixel": "finite pixel",
    "complex pixels": "real numbers",
    "a folder file that is not an image": "notes.png cannot be decoded",
    "a folder of one class": "two classes",
}


@pytest.mark.parametrize("kind", DATA_WORDS)
def test_bad_live_data_is_refused_before_anything_is_written(kind, tmp_path, capsys):
    data = _bad_data(kind, tmp_path)
    out = tmp_path / "out"
    argv = ["search", "--data", str(data), "--trials", "1", "--epochs", "1", "--no-ray", "--variants", "vanilla"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 2
    err = _one_error(capsys)
    assert DATA_WORDS[kind] in err and len(err) < 400, err
    assert not out.exists()


@pytest.mark.parametrize(
    "sizes,words",
    [
        (["--C", "100000"], "--C 100000 gives networks"),
        (["--C", "64", "--N", "900"], "GiB to train"),
        (["--N", "100000"], "1..1,000"),
    ],
)
def test_network_sizes_beyond_memory_are_refused_before_allocation(sizes, words, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["search", *sizes, "--trials", "1", "--epochs", "1", "--no-ray", "--out", str(out)]) == 2
    assert words in _one_error(capsys)
    assert not out.exists()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    labels=st.lists(st.one_of(st.integers(-3, 12), st.floats(-2, 12), st.just(10**9)), min_size=4, max_size=12),
    pixel=st.sampled_from([0.5, float("nan"), float("inf"), -1.0]),
    dtype=st.sampled_from(["float32", "float64", "int64", "uint8", "bool", "<U3"]),
)
def test_fuzzed_labels_and_pixels_are_accepted_or_one_sentence(labels, pixel, dtype):
    """Arrays given to ``load_data`` (the one reader of every live input): either a valid split or an
    InputError sentence; never an IndexError, a MemoryError or a silent run on broken data."""
    import numpy as np

    from gradsign_nas.benchmarks.live_data import load_data
    from gradsign_nas.errors import InputError

    n = len(labels)
    x = np.full((n, 1, 4, 4), 0.25, np.float32)
    x[0, 0, 0, 0] = pixel
    y = np.asarray(labels).astype(dtype) if dtype != "<U3" else np.asarray([str(v) for v in labels])
    try:
        split = load_data((x, y), valid_fraction=0.5)
    except InputError as e:
        assert "\n" not in str(e) and len(str(e)) < 300
        return
    ys = np.concatenate([split.y_train.numpy(), split.y_valid.numpy()])
    assert ys.min() >= 0 and len(np.unique(ys)) >= 2 and ys.max() < 10_000
    assert np.isfinite(split.x_train.numpy()).all() and np.isfinite(split.x_valid.numpy()).all()


# -- item 6: corrupt derived files are moved aside and rebuilt; pickles cannot ask for gigabytes -------
@pytest.mark.parametrize("corruption", ["not a zip", "cut short", "a table missing", "tables of other lengths"])
def test_a_corrupt_nb201_cache_is_moved_aside_and_rebuilt(corruption, tmp_path, monkeypatch, caplog):
    import logging

    import numpy as np

    from gradsign_nas.benchmarks import NB201Benchmark

    monkeypatch.setenv("GRADSIGN_NAS_CACHE", str(tmp_path))
    first = NB201Benchmark(data_dir())
    (cache,) = tmp_path.glob("nb201_*.npz")
    good = cache.read_bytes()
    if corruption == "not a zip":
        cache.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    elif corruption == "cut short":
        cache.write_bytes(good[: len(good) // 2])
    else:
        with np.load(cache) as z:
            tables = {k: z[k] for k in z.files}
        if corruption == "a table missing":
            del tables["cifar10_test"]
        else:
            tables["cifar10_test"] = tables["cifar10_test"][:10]
        np.savez(cache, **tables)
    with caplog.at_level(logging.WARNING, logger="gradsign_nas"):
        again = NB201Benchmark(data_dir())
    assert again.query(7) == first.query(7)
    assert any("could not be read" in r.getMessage() and "rebuilding" in r.getMessage() for r in caplog.records)
    assert (tmp_path / f"{cache.name}.corrupt-1").is_file()
    with np.load(cache) as z:  # rebuilt from the checked sources
        assert len(z["cifar10_test"]) == 15625


def test_a_binary_score_cache_is_moved_aside_and_lines_that_are_not_scores_are_skipped(tmp_path, caplog):
    from gradsign_nas.scoring._cache import ScoreCache

    key = {"space": "nb201", "proxy": "gradsign", "dataset": "cifar10", "batch_size": 64, "seed": 0}
    path = tmp_path / "scores.jsonl"
    path.write_bytes(b"\xff\xfe\x00binary")
    assert len(ScoreCache(path, **key)) == 0
    assert not path.exists() and (tmp_path / "scores.jsonl.corrupt-1").is_file()
    lines = [dict(key, arch="a", score="high", seconds=1.0), dict(key, arch="b", score=[1], seconds=1.0)]
    lines.append(dict(key, arch="c", score=0.5, seconds=0.1))
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n" + "[" * 100_000 + "\n")
    cache = ScoreCache(path, **key)
    assert len(cache) == 1 and cache.get("c") == (0.5, 0.1)


@pytest.mark.parametrize(
    "gadget",
    [
        b"\x80\x02cbuiltins\nbytes\nJ\x00\x94\x35\x77\x85R.",  # bytes(2_000_000_000) in 30 bytes
        b"\x80\x02cbuiltins\nlist\ncbuiltins\nbytes\nJ\x00\xa3\xe1\x11\x85R\x85R.",  # list(bytes(300_000_000))
        b"\x80\x02cbuiltins\nbytes\nJ\x00\x94\x35\x77\x85R\x85.",  # the same inside a tuple
        b"\x80\x02cbuiltins\nfrozenset\ncbuiltins\nbytes\nJ\x00\x94\x35\x77\x85R\x85R.",  # frozenset(bytes(2e9))
    ],
)
def test_the_restricted_unpickler_refuses_allocation_gadgets(gadget):
    import tracemalloc

    from gradsign_nas.benchmarks import restricted_loads
    from gradsign_nas.errors import UnsafePickleError

    tracemalloc.start()
    try:
        with pytest.raises(UnsafePickleError, match="at most 1,000,000"):
            restricted_loads(gadget)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000, peak  # at most tens of MB, never the gigabytes asked for


def test_the_published_nb201_pickle_still_loads_under_the_caps():
    from gradsign_nas.benchmarks import restricted_loads

    hp = restricted_loads((data_dir() / "nb201" / "nb2_cf10_hp12_info.p").read_bytes())
    assert len(hp) == 15625


# -- the 'Unclear' bullets ----------------------------------------------------------------------
@pytest.mark.parametrize("value", ["-inf", "-1e9", "-nan", "-.5", "-2E+3"])
def test_a_negative_number_is_checked_as_a_value_not_taken_for_an_option(value, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["table-search", "--budget", value, "--out", str(out), "--data-dir", str(data_dir())]) == 2
    err = _one_error(capsys)
    assert "expected --budget to be a positive finite number" in err, err
    assert not out.exists()


def test_a_reordered_history_names_the_edit(recorded_table_run, capsys):
    out, argv = recorded_table_run
    path = out / "rea-vanilla" / "history.jsonl"
    lines = path.read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    path.write_text("\n".join(lines) + "\n")
    before = _snapshot(out)
    assert main(argv) == 2
    err = _one_error(capsys)
    assert "proposed nothing" not in err and "reordered" in err, err
    assert _snapshot(out) == before


@pytest.mark.parametrize("tamper", [True, False])
def test_a_refused_variant_stops_every_variant_before_any_writes(tamper, tmp_path, capsys):
    """vanilla cut short (it would search on) and assisted edited: the refusal of assisted comes
    before vanilla searches; untouched, both resume."""
    out = tmp_path / "run"
    argv = ["table-search", "--budget", "3000", "--out", str(out), "--data-dir", str(data_dir()), "--no-progress"]
    assert main(argv) == 0
    full = (out / "rea-vanilla" / "history.jsonl").read_text()
    (out / "rea-vanilla" / "history.jsonl").write_text("".join(full.splitlines(keepends=True)[:3]))
    if tamper:
        path = out / "rea-assisted" / "history.jsonl"
        lines = path.read_text().splitlines()
        lines[2] = json.dumps(dict(json.loads(lines[2]), metric=99.99))
        path.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    before = _snapshot(out)
    if tamper:
        assert main(argv) == 2
        _one_error(capsys)
        assert _snapshot(out) == before
    else:
        assert main(argv) == 0
        resumed = (out / "rea-vanilla" / "history.jsonl").read_text().splitlines()

        def same(lines):
            return [(r["ask"], r["arch"], r["metric"]) for r in map(json.loads, lines)]

        assert same(resumed) == same(full.splitlines())


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    descr=st.sampled_from(["<f4", "|u1", "<i8", "|O", "<c8", "|b1", "<U3", "|V8", ">f8"]),
    shape=st.lists(st.one_of(st.integers(0, 12), st.integers(10**6, 10**12)), min_size=0, max_size=5),
    body=st.binary(max_size=3000),
    labels=st.sampled_from(["good", "negative", "missing"]),
)
def test_fuzzed_npz_headers_are_accepted_or_one_sentence(descr, shape, body, labels, tmp_path_factory):
    """An npz whose x.npy header claims any dtype and shape over any bytes: a valid split or one
    InputError sentence, decided from the header before the array is allocated."""
    import io
    import zipfile

    import numpy as np

    from gradsign_nas.benchmarks.live_data import load_data
    from gradsign_nas.errors import InputError

    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    path = tmp_path_factory.mktemp("npz") / "d.npz"
    y = io.BytesIO()
    np.save(y, (np.arange(shape[0] if shape and shape[0] < 100 else 4) % 2) - (labels == "negative"))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + body)
        if labels != "missing":
            z.writestr("y.npy", y.getvalue())
    try:
        split = load_data(str(path), valid_fraction=0.5)
    except InputError as e:
        assert "\n" not in str(e) and len(str(e)) < 400
        return
    assert split.x_train.numel() > 0 and np.isfinite(split.x_train.numpy()).all() and split.y_train.min() >= 0


def test_a_training_batch_beyond_memory_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    """The activations of a batch are measured on the meta device (a lower bound) and compared with
    the machine's memory; here the machine is said to have 1 MiB, so a digits batch of 500 does not fit."""
    import gradsign_nas._checks

    out = tmp_path / "out"
    argv = ["search", "--trials", "1", "--epochs", "1", "--no-ray", "--variants", "vanilla", "--out", str(out)]
    monkeypatch.setattr(gradsign_nas._checks, "memory_bytes", lambda: 1 << 20)
    assert main([*argv, "--train-batch-size", "500"]) == 2
    err = _one_error(capsys)
    assert "--train-batch-size 500" in err and "activations" in err, err
    assert not out.exists()
    monkeypatch.setattr(gradsign_nas._checks, "memory_bytes", lambda: 1 << 40)
    assert main([*argv, "--train-batch-size", "500", "--no-progress"]) == 0
