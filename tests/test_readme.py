"""Every command and every Python block of README.md and of the docs (docs/**/*.md), run the way a
user runs them, at small sizes.

Commands are read from the pages themselves (indented code blocks; a trailing backslash continues a
line), run as ``python -m gradsign_nas ...`` in a fresh working folder with a few options appended
that make them small (argparse keeps the last value of an option). A command these tests do not know
fails ``test_every_readme_command_is_covered``, and so does a fenced block in a language they do not
run, so a new command cannot go untested, and a refactor that breaks a documented command turns CI
red.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, data_dir

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md")), ROOT / "CHANGELOG.md"]
FENCES = ("python", "text", "toml")  # fenced blocks: python runs; text and toml are shown, not run

# what each gradsign-nas command gets appended to make it small
SMALL = {
    "search": ["--trials", "2", "--epochs", "1", "--no-progress"],
    "table-search": ["--budget", "3000"],
    "compare": ["--runs", "2", "--budget", "1500", "--workers", "1", "--no-progress"],
    "correlate": ["--sample", "4", "--score-batch-size", "8", "--workers", "1", "--no-progress", "--no-cache"],
    "score-space": ["--gpu-procs", "0", "--cpu-procs", "1", "--first", "2"],  # and no --out (a whole-space table)
    "calibrate": ["--cells", "3", "--epoch-counts", "1", "--limit", "300", "--C", "4", "--no-ray", "--no-progress"],
    "data": [],
}
NOT_RUN_HERE = (
    "python3 -m venv",  # the set-up: .ci/run performs it before this suite runs
    "GRADSIGN_NAS_DATA=../shared/data .venv/bin/python -m pytest",  # this suite itself
    ".venv/bin/python -m pytest",  # the same suite, on data that `data download` fetched
    "export ",
    ".venv/bin/ray start",  # the cluster guide's nodes: test_cluster_guide_command starts such a cluster
    "pip install",  # the docs extra
)


def _blocks() -> tuple[list[str], list[str]]:
    """(shell commands, python blocks) of README.md and the docs, in order."""
    text = "\n".join(p.read_text() for p in PAGES)
    python = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    commands, current = [], ""
    for line in text.splitlines():
        if not line.startswith("    ") or not line.strip():
            continue
        body = line[4:]
        if current:
            current += " " + body.strip()
        elif re.match(r"(\.venv/bin/|bash |python3 |GRADSIGN_NAS_DATA=|export )", body):
            current = body.strip()
        else:
            continue
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        commands.append(re.sub(r"\s+#.*$", "", current))
        current = ""
    return commands, python


COMMANDS, PYTHON = _blocks()
COMMANDS = list(dict.fromkeys(COMMANDS))  # a command shown on two pages runs once
CLUSTER = "HEAD:6379"  # the cluster guide's address: test_cluster_guide_command starts such a cluster


def _cli(cmd: str) -> list[str] | None:
    """``gradsign-nas`` arguments of a README command line, or None if it is not one."""
    argv = shlex.split(cmd)
    if argv and argv[0].endswith("gradsign-nas"):
        return argv[1:]
    return None


def _scripts() -> list[str]:
    return [c for c in COMMANDS if re.match(r"\.venv/bin/python (benchmarks|experiments)/", c)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Where the README's commands run, as from a checkout: with the repository's examples/."""
    d = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", d / "examples")
    return d


def _env() -> dict:
    env = dict(os.environ, GRADSIGN_NAS_DATA=str(data_dir()), RAY_AUTH_MODE="disabled")
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_cli(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gradsign_nas", *argv], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900
    )


def small(argv: list[str]) -> list[str]:
    if argv[0] == "score-space" and "--out" in argv:
        i = argv.index("--out")
        argv = argv[:i] + argv[i + 2 :]
    extra = SMALL[argv[0]]
    if argv[0] == "compare" and "--live" in argv:  # live searches: 2 seeds x 2 trials x 1 epoch here
        extra = ["--runs", "2", "--trials", "2", "--epochs", "1", "--no-progress"]
        extra += ["--final-epochs", "1"] if "--final-epochs" in argv else []
        extra += ["--limit", "300"] if "--limit" in argv else []
    if argv[0] == "correlate" and "--all" in argv:
        if "table" in argv:  # --all from the packaged tables is instant anyway
            extra = [a for a in extra if a not in ("--sample", "4")]
        else:  # every network of a space, computed: a few here
            argv = [a for a in argv if a != "--all"]
            extra = [a if a != "4" else "3" for a in extra]
    import torch

    if not torch.cuda.is_available():  # CI has no GPU: the same command on the CPU, uncompiled
        argv = [a for a in argv if a != "--compile"]
        if "--device" in argv and argv[argv.index("--device") + 1].startswith("cuda"):
            argv[argv.index("--device") + 1] = "cpu"
    return argv + extra


def test_every_readme_command_is_covered():
    assert any(_cli(c) == ["search"] for c in COMMANDS), "the README's main command is gone"
    for page in PAGES:
        for lang in re.findall(
            r"^```(\w*)\n",
            re.sub(r"```\w*\n.*?```", lambda m: m.group(0)[: m.group(0).index("\n") + 1], page.read_text(), flags=re.S),
            flags=re.M,
        ):
            assert lang in FENCES, f"{page.name}: a fenced block in {lang or 'no language'} is not run by these tests"
    for c in COMMANDS:
        argv = _cli(c)
        if argv is not None:
            assert argv and argv[0] in SMALL, f"README command not under test: {c}"
        else:
            script = re.sub(r"^(\w+=\S+\s+)+", "", c)  # without leading VAR=value settings
            assert c.startswith(NOT_RUN_HERE) or c in _scripts() or script.startswith("bash experiments/"), (
                f"README command not under test: {c}"
            )
    assert len(PYTHON) >= 3  # load_best, the tour, your own search space


def test_main_command_resume_and_load_best(workdir):
    """The README's main command (2 trials x 1 epoch, through Ray as by default), its resume, and the
    README's load_best block on its output."""
    main = small(["search"])
    first = run_cli(main, workdir)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "best assisted" in first.stdout
    for variant in ("vanilla", "assisted"):
        run_dir = workdir / "live-search" / f"rea-{variant}"
        assert len((run_dir / "history.jsonl").read_text().splitlines()) == 2
        assert {"run.json", "best.json", "best_model.pt"} <= {p.name for p in run_dir.iterdir()}
        assert not [
            p for p in run_dir.iterdir() if p.name.startswith(".") and p.name != ".lock"
        ]  # no Tune or temp files
    again = run_cli(main, workdir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "2 recorded trials replayed" in again.stderr
    assert len((workdir / "live-search" / "rea-vanilla" / "history.jsonl").read_text().splitlines()) == 2
    load = next(b for b in PYTHON if "live-search/" in b)
    r = subprocess.run(
        [sys.executable, "-c", load], cwd=workdir, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "parameters" in r.stdout


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if _cli(c) not in (None, ["search"]) and CLUSTER not in c])
def test_readme_command(cmd, workdir):
    argv = small(_cli(cmd))
    r = run_cli(argv, workdir)
    assert r.returncode == 0, f"{cmd}\n{r.stderr[-3000:]}"
    if argv[0] == "table-search" and "--out" in argv:  # and it resumes from its record
        again = run_cli(argv + ["--json"], workdir)
        assert again.returncode == 0 and "replayed" in again.stderr
    if "--json" in argv:
        import json

        json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_cluster_guide_command(workdir):
    """The cluster guide's comparison, on a real 2-node Ray cluster started here (head + 1 worker)."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cmds = [c for c in COMMANDS if CLUSTER in c and _cli(c) is not None]
    assert cmds, "the cluster guide's command is gone"
    os.environ["RAY_AUTH_MODE"] = "disabled"
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        c.add_node(num_cpus=1)
        for cmd in cmds:
            argv = [a if a != CLUSTER else c.address for a in small(_cli(cmd))]
            r = run_cli(argv, workdir)
            assert r.returncode == 0, f"{cmd}\n{r.stderr[-3000:]}"
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.mark.parametrize("i", range(len(PYTHON)))
def test_readme_python_block(i, workdir):
    block = PYTHON[i]
    if "live-search/" in block:
        pytest.skip("run on the main command's output in test_main_command_resume_and_load_best")
    r = subprocess.run(
        [sys.executable, "-c", block], cwd=workdir, env=_env(), capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("cmd", _scripts())
def test_readme_script_parses_its_options(cmd):
    """The scripts behind the README's tables take minutes to hours; here they must at least start."""
    script = shlex.split(cmd)[1]
    r = subprocess.run(
        [sys.executable, script, "--help"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]


def test_gpu_live_compare_script_runs_small_on_the_cpu(tmp_path):
    """experiments/gpu_live_compare.sh end to end at a small size: on the CPU (DEVICE=cpu), with an
    nvidia-smi stand-in that reports one GPU at 50 %."""
    import json

    assert any("experiments/gpu_live_compare.sh" in c for c in COMMANDS)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "nvidia-smi").write_text("#!/bin/sh\necho '0, 50, 1000'\nsleep 60\n")
    (fake / "nvidia-smi").chmod(0o755)
    env = dict(_env(), DEVICE="cpu", PYTHON=sys.executable, PATH=f"{fake}:{os.environ['PATH']}")
    out = tmp_path / "out"
    r = subprocess.run(
        [
            "bash",
            str(ROOT / "experiments" / "gpu_live_compare.sh"),
            "0",
            "1",
            "2",
            str(out),
            "--C",
            "4",
            "--trials",
            "2",
            "--epochs",
            "1",
            "--limit",
            "300",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["searches"] == 4 and last["trials"] == 8 and last["gpu_util_mean"] == {"0": 50.0}
    assert set(json.loads((out / "line.json").read_text())["results"]) == {"rs", "rea"}
    # the statistics again from the records alone, as the README's GPU comparison was summarised
    assert any("experiments/summarize_live_compare.py" in c for c in COMMANDS)
    summary = tmp_path / "summary"
    r = subprocess.run(
        [sys.executable, "experiments/summarize_live_compare.py", str(out / "compare"), "--runs", "1"]
        + ["--data-dir", str(data_dir()), "--write", str(summary)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    mine, theirs = json.loads((summary / "summary.json").read_text()), json.loads((out / "line.json").read_text())
    assert mine["results"] == theirs["results"] and mine["reward_rank_agreement"] == theirs["reward_rank_agreement"]


def test_gpu_script_fails_loudly_without_its_data(tmp_path):
    env = {k: v for k, v in _env().items() if k != "GRADSIGN_NAS_DATA"}
    r = subprocess.run(
        ["bash", str(ROOT / "experiments" / "gpu_score_space.sh"), "probe"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "GRADSIGN_NAS_DATA" in r.stderr


def test_headline_numbers_are_on_the_results_pages_they_link_to():
    """Every number of the README's headline section appears on a Results page that section links to
    (a headline cannot drift from its measurement)."""
    text = README.read_text()
    start = text.index("## Does the assistance help?")
    section = text[start : text.index("\n## ", start + 3)]
    pages = re.findall(r"\]\((docs/results/[\w./-]+\.md)\)", section)
    assert pages, "the headline section links to no Results page"
    body = "\n".join((ROOT / p).read_text() for p in pages)
    numbers = re.findall(r"[+-]?\d+\.\d+(?:e[+-]?\d+)?", section)
    assert len(numbers) >= 20
    missing = [n for n in numbers if n not in body]
    assert not missing, f"headline numbers not on {pages}: {missing}"
