"""Live search, vanilla vs GradSign-assisted, every trial a real training run, timed as a whole.

The options are those of ``gradsign-nas search`` (the same code: ``gradsign_nas.commands.search``);
the defaults reproduce its main command. On a GPU machine without Ray, e.g.:

    python3 experiments/live_digits.py --device cuda --data cifar10 --epochs 4 --trials 10 --no-ray \\
        --data-dir "$GRADSIGN_NAS_DATA" --out live-cifar10

(CIFAR-10: the 10,000-image npz, 20% held out for validation, NB201 at C=16, N=5 unless --C/--N.)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    from gradsign_nas.commands import search

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    search.add_arguments(p)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    rc = search.run(args)
    print(f"experiment wall time: {time.perf_counter() - t0:.1f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
