"""Reproduce the README's NAS-Bench-201 comparison table.

Runs `gradsign-nas compare` with the settings of the README: seed 0, 500 runs per algorithm and
variant, 12,000 simulated seconds, the NAS-Bench-201 protocol on the 12-epoch fidelity, GradSign
scores from the packaged table, K = 10; then BOHB again over both fidelities (12 and 200 epochs).

Usage:
    nice .venv/bin/python experiments/compare_nb201.py --out experiments/results/nb201
    (--variants vanilla when the packaged score table does not exist yet; --runs N for a quicker look)

Writes <out>/fidelity12/ and <out>/bohb_fidelity12_200/ (results.md, results.csv, curves.png,
runs.csv, runs.json, summary.json) and prints both tables.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

SETTINGS = {"seed": "0", "runs": "500", "budget": "12000", "k": "10"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Reproduce the README's NB201 comparison table.")
    p.add_argument(
        "--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"), help="data directory (default: $GRADSIGN_NAS_DATA)"
    )
    p.add_argument("--out", default="experiments/results/nb201")
    p.add_argument("--runs", default=SETTINGS["runs"])
    p.add_argument("--variants", default="vanilla,assisted")
    p.add_argument("--workers", default=None, help="local processes (default all cores)")
    p.add_argument("--skip-two-fidelity", action="store_true", help="only the 12-epoch comparison")
    args = p.parse_args(argv)

    from gradsign_nas.cli import main as cli

    jobs = [("fidelity12", "rs,rea,reinforce,bohb", "12")]
    if not args.skip_two_fidelity:
        jobs.append(("bohb_fidelity12_200", "bohb", "12,200"))
    for name, algos, fids in jobs:
        out = Path(args.out) / name
        argv_ = [
            "compare",
            "--space",
            "nb201",
            "--algorithms",
            algos,
            "--variants",
            args.variants,
            "--runs",
            str(args.runs),
            "--budget",
            SETTINGS["budget"],
            "--seed",
            SETTINGS["seed"],
            "--k",
            SETTINGS["k"],
            "--fidelities",
            fids,
            "--data-dir",
            args.data_dir,
            "--out",
            str(out),
        ]
        if args.workers:
            argv_ += ["--workers", str(args.workers)]
        print(f"$ gradsign-nas {' '.join(argv_)}", flush=True)
        t = time.perf_counter()
        code = cli(argv_)
        print(f"({time.perf_counter() - t:.1f} s)\n", flush=True)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
