"""Bad input is refused before anything is written, corrupt files end in one sentence naming them,
no run loops forever, one writer per run directory, and a killed live search resumes to the same
history and best network."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, data_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradsign_nas.cli import main
from gradsign_nas.errors import DataError, InputError

# -- the command line: every invalid option value is one sentence, exit 2, nothing written ---------
BAD_INT = st.one_of(st.integers(max_value=-1), st.integers(min_value=10**7, max_value=10**12))
BAD_FLOAT = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e300", "1e9"]),
    st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False).map(repr),
)
BAD_WORD = st.text(alphabet="abcxyz,;!-_ ", min_size=1, max_size=8).filter(lambda s: s.strip(", ") != "")

# (command, option, strategy of invalid values, extra arguments)
CASES = [
    ("search", "--trials", BAD_INT, []),
    ("search", "--epochs", BAD_INT, []),
    ("search", "--k", BAD_INT, []),
    ("search", "--train-batch-size", BAD_INT, []),
    ("search", "--score-batch-size", BAD_INT, ["--variants", "assisted"]),
    ("search", "--algorithm-options", BAD_WORD, []),
    ("search", "--limit", st.integers(max_value=1), []),
    ("search", "--lr", BAD_FLOAT, []),
    ("search", "--cpus-per-trial", BAD_FLOAT, []),
    ("search", "--gpus-per-trial", st.sampled_from(["nan", "-1", "inf", "64"]), []),
    ("search", "--max-failures", st.integers(max_value=-1), []),
    ("search", "--num-cpus", BAD_INT, []),
    ("search", "--variants", BAD_WORD, []),
    ("search", "--algorithm", BAD_WORD, []),
    ("search", "--space", BAD_WORD, []),
    ("search", "--proxy", BAD_WORD, []),
    ("search", "--device", BAD_WORD, []),
    ("search", "--seed", st.integers(max_value=-1), []),
    ("table-search", "--budget", BAD_FLOAT, []),
    ("table-search", "--k", BAD_INT, []),
    ("table-search", "--sim-workers", BAD_INT, []),
    ("table-search", "--fidelities", BAD_WORD, []),
    ("table-search", "--algorithm", BAD_WORD, []),
    ("table-search", "--space", BAD_WORD, []),
    ("table-search", "--variants", BAD_WORD, []),
    ("table-search", "--score-batch-size", BAD_INT, []),
    ("table-search", "--algorithm-options", BAD_WORD, []),
    ("compare", "--runs", BAD_INT, []),
    ("compare", "--workers", BAD_INT, []),
    ("compare", "--budget", BAD_FLOAT, []),
    ("compare", "--algorithms", BAD_WORD, []),
    ("compare", "--variants", BAD_WORD, []),
    ("compare", "--algorithm-options", BAD_WORD, []),
    ("correlate", "--sample", st.integers(max_value=1), []),
    ("correlate", "--score-batch-size", BAD_INT, []),
    ("correlate", "--workers", BAD_INT, []),
    ("correlate", "--proxy", BAD_WORD, []),
    ("correlate", "--space", BAD_WORD, []),
    ("score-space", "--gpu-procs", BAD_INT, []),
    ("score-space", "--cpu-procs", BAD_INT, []),
    ("score-space", "--datasets", BAD_WORD, []),
    ("score-space", "--score-batch-size", st.integers(max_value=0), []),
    ("score-space", "--first", st.one_of(st.integers(max_value=0), st.integers(min_value=15626)), []),
]


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's own errors (a value it cannot parse): usage line + one error line
        return int(e.code)


def _refused(argv: list[str], out: Path, capsys) -> None:
    code = _run(argv)
    captured = capsys.readouterr()
    err = [
        line for line in captured.err.strip().splitlines() if not line.startswith("usage:") and not line.startswith(" ")
    ]
    assert code == 2, (argv, captured.err)
    # refused for its value, not because the option is unknown (a renamed option would pass unseen)
    assert "unrecognized arguments" not in captured.err and "ambiguous option" not in captured.err, (argv, captured.err)
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in captured.err, (argv, captured.err)
    assert not out.exists() or not any(out.iterdir()), (argv, sorted(p.name for p in out.iterdir()))


@pytest.mark.parametrize("command,option,values,extra", CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_fuzzed_invalid_options_are_refused(command, option, values, extra, tmp_path_factory, capsys):
    out = tmp_path_factory.mktemp("fuzz") / "out"
    out_flag = ["--out", str(out if command != "score-space" else out / "t.npz")]

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(values)
    def check(value):
        argv = [command, f"{option}={value}", *extra, *out_flag]
        if command in ("table-search", "compare", "correlate", "score-space"):
            argv += ["--data-dir", str(data_dir())]
        _refused(argv, out, capsys)

    check()


def test_file_system_errors_are_one_sentence_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    d = ["--data-dir", str(data_dir())]
    cases = [
        ["table-search", "--variants", "vanilla", "--out", str(a_file), *d],
        ["table-search", "--variants", "vanilla", "--out", str(a_file / "under"), *d],
        ["search", "--out", str(a_file / "under")],
        ["compare", "--runs", "1", "--out", str(a_file), *d],
        ["correlate", "--sample", "3", "--cache", str(tmp_path), "--out", str(tmp_path / "c"), *d],
        ["score-space", "--out", str(tmp_path), *d],
        ["data", "check", "--data-dir", str(a_file)],
        ["data", "download", "--data-dir", str(a_file)],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), (argv, err)
    assert not (tmp_path / "c").exists()
    run = tmp_path / "run"
    (run / "rea-vanilla" / "history.jsonl").mkdir(parents=True)  # a directory where a file belongs
    assert main(["table-search", "--variants", "vanilla", "--out", str(run), *d]) == 2
    assert "is a directory" in capsys.readouterr().err


@pytest.fixture
def recorded_run(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "table-search",
        "--variants",
        "vanilla",
        "--budget",
        "2000",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir()),
    ]
    assert main(argv) == 0
    capsys.readouterr()
    return out / "rea-vanilla", argv  # the run directory of the one variant


@pytest.mark.parametrize(
    "corruption",
    [
        "no metric",
        "metric as text",
        "nan cost",
        "negative cost",
        "bad json inside",
        "binary bytes",
        "not an object",
        "unknown status",
    ],
)
def test_corrupt_history_lines_name_the_file(recorded_run, corruption, capsys):
    run, argv = recorded_run
    path = run / "history.jsonl"
    lines = path.read_text().splitlines()
    rec = json.loads(lines[1])
    bad = {
        "no metric": lambda r: {k: v for k, v in r.items() if k != "metric"},
        "metric as text": lambda r: dict(r, metric="high"),
        "nan cost": lambda r: dict(r, cost_s=float("nan")),
        "negative cost": lambda r: dict(r, cost_s=-5.0),
        "unknown status": lambda r: dict(r, status="maybe"),
        "not an object": lambda r: [r],
    }
    if corruption in bad:
        lines[1] = json.dumps(bad[corruption](rec))
        path.write_text("\n".join(lines) + "\n")
    elif corruption == "bad json inside":
        path.write_text("\n".join([lines[0], "{oops", *lines[2:]]) + "\n")
    else:
        path.write_bytes(b"\n".join([lines[0].encode(), b"\x86\x00\xff\xfe", *(x.encode() for x in lines[2:])]) + b"\n")
    before = path.read_bytes()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "history.jsonl" in err[0] and "line 2" in err[0], err
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b"not json", b"\x00\x01"])
def test_corrupt_run_json_names_the_file(recorded_run, content, capsys):
    run, argv = recorded_run
    (run / "run.json").write_bytes(content)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run.json" in err[0], err


@pytest.mark.parametrize("table", ["npy named npz", "truncated zip", "null", "list", "string", "nan seconds"])
def test_corrupt_score_tables_are_one_sentence(table, tmp_path, capsys):
    from gradsign_nas.assist import TableScorer

    path = tmp_path / ("t.npz" if "np" in table or "zip" in table or "seconds" in table else "t.json")
    good = TableScorer.nb201("cifar10")
    archs = [a for a in good._scores]
    if table == "npy named npz":
        np.save(tmp_path / "t.npy", np.zeros(15625))
        (tmp_path / "t.npy").rename(path)
    elif table == "truncated zip":
        np.savez(path, scores_cifar10=np.ones(15625))
        path.write_bytes(path.read_bytes()[:200])
    elif table == "nan seconds":
        np.savez(path, scores_cifar10=np.ones(15625), seconds_cifar10=np.full(15625, np.nan))
    else:
        value = {"null": None, "list": [1.0], "string": "high"}[table]
        path.write_text(json.dumps({a: (value if i == 0 else 1.0) for i, a in enumerate(archs)}))
    out = tmp_path / "out"
    argv = [
        "table-search",
        "--score-table",
        str(path),
        "--charge-proxy-time",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir()),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(path) in err[0], err
    assert not out.exists()


# -- the unpickler: crafted pickles never crash the process ------------------------------------------
FUZZ_PICKLES = r"""
import pickle, random, sys
import numpy as np
from gradsign_nas.benchmarks import restricted_loads
from gradsign_nas.errors import UnsafePickleError
rng = random.Random(int(sys.argv[1]))
seeds = [pickle.dumps(v, protocol=p) for p in (2, 3, 4, 5) for v in
         (np.float64(1.5), np.int32(-3), {"a": [np.float32(2.0), 3, "x", (1, 2.5)]}, [np.uint8(7)] * 3,
          np.complex64(1 + 2j), np.bool_(True))]
codes = [b"f8", b"<f8", b"i4", b"u1", b"c8", b"b1", b"f4"]
evil = [b"O8", b"O", b"V8", b"M8", b"m8", b"S8", b"U2", b"O4", b"|O", b"f8,i4"]
ok = refused = 0
for i in range(int(sys.argv[2])):
    data = bytearray(rng.choice(seeds))
    r = rng.random()
    if r < 0.4:   # swap a dtype code for another, numeric or not
        for c in codes:
            if c in data:
                data = bytearray(bytes(data).replace(c, rng.choice(evil + codes), 1))
                break
    elif r < 0.8:  # flip random bytes
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    else:          # truncate or splice
        data = data[: rng.randrange(1, len(data))] + bytes(rng.randrange(256) for _ in range(rng.randint(0, 8)))
    try:
        restricted_loads(bytes(data))
        ok += 1
    except UnsafePickleError:
        refused += 1
print(ok, refused)
"""


def test_the_unpickler_survives_crafted_pickles():
    """The report's exploit (an object dtype whose flags the pickle rewrites) and 3,000 mutated
    pickles: each loads to plain values or is refused; none crashes the process (run apart, so a
    segfault fails this test instead of ending the suite)."""
    from gradsign_nas.benchmarks import restricted_loads
    from gradsign_nas.errors import UnsafePickleError

    with pytest.raises(UnsafePickleError):
        restricted_loads(pickle.dumps(np.float64(1.0), protocol=4).replace(b"f8", b"O8"))
    r = subprocess.run(
        [sys.executable, "-c", FUZZ_PICKLES, "0", "3000"], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    ok, refused = map(int, r.stdout.split())
    assert ok + refused == 3000 and refused > 500 and ok > 100


# -- the data: the cache is tied to the checksums -----------------------------------------------------
def test_a_data_file_replaced_after_the_first_import_is_refused(tmp_path, capsys):
    import shutil

    from gradsign_nas.benchmarks import FILES, NB201Benchmark

    d = tmp_path / "data"
    shutil.copytree(data_dir() / "nb201", d / "nb201")
    NB201Benchmark(d)  # imported and cached
    victim = d / FILES["nb201_test"].path
    st_ = victim.stat()
    victim.chmod(0o644)
    victim.write_bytes(os.urandom(st_.st_size))
    os.utime(victim, (st_.st_atime, st_.st_mtime))
    with pytest.raises(DataError, match="corrupt"):
        NB201Benchmark(d)
    assert main(["table-search", "--variants", "vanilla", "--data-dir", str(d)]) == 2
    assert "corrupt" in capsys.readouterr().err


# -- no endless runs -------------------------------------------------------------------------------
def test_an_evaluator_that_always_fails_stops_the_search(tmp_path):
    from gradsign_nas import algorithms
    from gradsign_nas.execution import Driver

    alg = algorithms.get("rs", "nb201", 0)
    driver = Driver(alg, budget_s=1000.0)
    with pytest.raises(DataError, match="in a row"):
        while True:
            pend = driver.next()
            driver.fail(pend, "boom")


def test_non_finite_table_numbers_stop_a_simulated_search():
    from gradsign_nas import algorithms
    from gradsign_nas.algorithms.base import Result
    from gradsign_nas.execution import SimulatedExecutor

    class NaNCost:
        space, fidelities = None, (12,)

        def evaluate(self, arch, fidelity=None):
            return Result(50.0, float("nan"))

    with pytest.raises(DataError, match="finite"):
        SimulatedExecutor(algorithms.get("rs", "nb201", 0), NaNCost(), 12000).run()


# -- one writer per run directory ------------------------------------------------------------------
def test_a_second_writer_is_refused_and_a_killed_writers_lock_does_not_block(tmp_path, capsys):
    from gradsign_nas.results import History

    out = tmp_path / "run"
    argv = [
        "table-search",
        "--variants",
        "vanilla",
        "--budget",
        "2000",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir()),
    ]
    with History(out / "rea-vanilla", None):
        assert main(argv) == 2
        assert "another run holds it" in capsys.readouterr().err
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from gradsign_nas.results import History; "
            f"h = History({str(out / 'rea-vanilla')!r}); print('locked', flush=True); import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert holder.stdout.readline().strip() == "locked"
    assert main(argv) == 2
    capsys.readouterr()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert main(argv) == 0  # the killed holder's lock is gone with it


def test_two_processes_on_one_run_directory_record_nothing_twice(tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "gradsign_nas",
        "table-search",
        "--variants",
        "vanilla",
        "--budget",
        "200000",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir()),
    ]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], results
    asks = [json.loads(line)["ask"] for line in (out / "rea-vanilla" / "history.jsonl").read_text().splitlines()]
    assert len(asks) == len(set(asks)) and asks == list(range(len(asks)))


# -- live searches: killed at random moments, resumed to the same history and best ------------------
LIVE = [
    "search",
    "--no-ray",
    "--variants",
    "assisted",
    "--trials",
    "5",
    "--epochs",
    "1",
    "--limit",
    "200",
    "--C",
    "4",
    "--k",
    "3",
    "--no-progress",
    "--device",
    "cpu",
]
STABLE = ("ask", "told_before", "arch", "index", "fidelity", "status", "metric", "proxy")


def _live(out: Path) -> list[str]:
    return [sys.executable, "-m", "gradsign_nas", *LIVE, "--out", str(out)]


def _stable(records):
    return [{k: r.get(k) for k in STABLE} for r in records]


@pytest.mark.slow
def test_live_search_killed_at_random_moments_resumes_to_the_same_result(tmp_path):
    from gradsign_nas.results import read_best, read_history

    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    ref = tmp_path / "ref"
    r = subprocess.run(_live(ref), capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    want = _stable(read_history(ref / "rea-assisted"))
    rng = random.Random(7)
    for i in range(3):
        out = tmp_path / f"kill{i}"
        p = subprocess.Popen(_live(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
        time.sleep(rng.uniform(2.0, 8.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        r = subprocess.run(_live(out), capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-2000:]
        got = read_history(out / "rea-assisted")
        assert _stable(got) == want  # nothing lost, nothing recorded twice
        assert read_best(out / "rea-assisted")["ask"] == read_best(ref / "rea-assisted")["ask"]
        assert not [q for q in (out / "rea-assisted").iterdir() if ".tmp" in q.name]


@pytest.mark.slow
def test_ctrl_c_stops_a_ray_live_search_keeps_what_finished_and_exits_130(tmp_path):
    from gradsign_nas.results import read_history

    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    argv = [
        sys.executable,
        "-m",
        "gradsign_nas",
        "search",
        "--trials",
        "30",
        "--epochs",
        "2",
        "--limit",
        "300",
        "--C",
        "4",
        "--no-progress",
        "--num-cpus",
        "2",
        "--out",
        str(tmp_path / "live"),
    ]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    hist = tmp_path / "live" / "rea-vanilla" / "history.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and (not hist.is_file() or len(hist.read_text().splitlines()) < 2):
        time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-2000:]
    assert "interrupted" in err
    assert not (tmp_path / "live" / "summary.json").exists()
    assert not (tmp_path / "live" / "rea-assisted").exists() or not read_history(tmp_path / "live" / "rea-assisted")
    done = read_history(tmp_path / "live" / "rea-vanilla")
    assert 2 <= len(done) < 30 and all(r["status"] == "completed" for r in done)


def test_a_failed_download_leaves_no_folder_behind(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    from gradsign_nas.benchmarks import _files

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    d = tmp_path / "data"
    with pytest.raises(DataError, match="could not download"):
        _files.download(d, keys=["nb201_test"], progress=False)
    assert not (d / "nb201").exists() and not d.exists()


@pytest.mark.parametrize("proxy", ["gradsign", "synflow", "snip", "jacob_cov", "naswot", "grasp"])
def test_proxies_refuse_bad_batches_with_one_sentence(proxy):
    import torch

    from gradsign_nas import proxies, search_spaces

    space = search_spaces.get("nb201", C=4, N=1)
    net = space.build(space.from_index(6111), 10)
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 3])
    fn = proxies.get(proxy)
    for bad_x, bad_y, what in [
        (x, torch.tensor([0, 1, 2, 10]), "class indices"),
        (torch.randn(4, 3, 1, 1), y, "forward pass"),
        (torch.randn(4, 3, 16, 16, device="meta"), y, "meta"),
    ]:
        with pytest.raises(InputError, match=what):
            fn(net, bad_x, bad_y)
    assert np.isfinite(float(proxies.get("jacob_cov")(net, x.clone().requires_grad_(True) * 1.0, y)))


# -- addresses: a cluster that is not there is one sentence within seconds, and nothing is written --
ADDRESS_CASES = [
    ["search", "--trials", "2"],
    ["table-search", "--variants", "vanilla", "--executor", "ray"],
    ["compare", "--runs", "2", "--workers", "2"],
    ["compare", "--live", "--runs", "1", "--trials", "2"],
    ["correlate", "--sample", "3"],
    ["score-space"],
    ["calibrate", "--data", "cifar10", "--cells", "3"],
]


@pytest.mark.parametrize("argv", ADDRESS_CASES, ids=[" ".join(a[:2]) for a in ADDRESS_CASES])
@pytest.mark.parametrize("address", ["127.0.0.1:1", "nonsense", "host:99999", "ray://127.0.0.1:1"])
def test_an_unreachable_or_malformed_address_is_refused_before_anything_is_written(argv, address, tmp_path, capsys):
    out = tmp_path / ("t.npz" if argv[0] == "score-space" else "out")
    full = [*argv, "--address", address, "--out", str(out)]
    if argv[0] != "search":
        full += ["--data-dir", str(data_dir())]
    start = time.monotonic()
    code = main(full)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, (full, err)
    assert len(err) == 1 and err[0].startswith("error: ") and "--address" in err[0], (full, err)
    assert time.monotonic() - start < 60  # refused without Ray's minutes of retries (a bound, not a speed claim)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []
