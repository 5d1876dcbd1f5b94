"""Live search, vanilla vs GradSign-assisted, every trial a real training run.

Defaults reproduce the embedded default of ``gradsign-nas search`` (REA on the digits-sized NB201
space, 20 trials x 3 epochs per variant, Ray Tune on all local cores). On a GPU machine without Ray:

    python3 experiments/live_digits.py --device cuda --dataset cifar10 --epochs 5 --trials 20 --no-ray \\
        --data-dir ../shared/data --out live-cifar10

(CIFAR-10: the 10,000-image npz, 20% held out for validation, NB201 at C=16, N=5 unless --C/--N.)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    from gradsign_nas.commands.live_search import add_live_arguments, run_live

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_live_arguments(p)
    p.add_argument("--dataset", dest="data", help="alias of --data")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    rc = run_live(args)
    print(f"experiment wall time: {time.perf_counter() - t0:.1f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
