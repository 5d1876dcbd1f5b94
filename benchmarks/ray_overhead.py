"""Ray Tune's scheduling overhead on live trials that train for >= 10 s each.

overhead = (wall - ideal) / wall, where wall is the live search's wall time with Ray already started
(``ray.init`` is reported apart) and ideal is the makespan an overhead-free FIFO scheduler with the
same number of slots would reach on the trials' own measured training seconds, in trial order (so
uneven trial lengths are not counted as Ray's overhead). The plain sum / parallelism bound is
printed too.

    RAY_AUTH_MODE=disabled python benchmarks/ray_overhead.py --trials 16 --cpus 2 --epochs 45
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--epochs", type=int, default=30, help="epochs per trial (choose so one trial trains >= 10 s)")
    p.add_argument("--C", type=int, default=8)
    args = p.parse_args(argv)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    from gradsign_nas import algorithms, search_spaces
    from gradsign_nas.benchmarks.live import LiveTrainingEvaluator
    from gradsign_nas.execution import init_ray, run_live_search
    from gradsign_nas.results import read_history

    space = search_spaces.get("nb201", C=args.C, N=1, in_channels=1)
    ev = LiveTrainingEvaluator(space, "digits", fidelities=(args.epochs,), device="cpu", seed=0)
    alg = algorithms.get("rs", space, 0, fidelities=(args.epochs,))
    t0 = time.perf_counter()
    init_ray(args.cpus)
    init_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        t1 = time.perf_counter()
        run_live_search(alg, ev, trials=args.trials, out_dir=d, progress=False)
        wall = time.perf_counter() - t1
        records = read_history(d)
    ray.shutdown()
    done = sorted((r for r in records if r["status"] == "completed"), key=lambda r: r["trial_id"])
    train = [r["cost_s"] for r in done]
    slots = [0.0] * args.cpus
    for t in train:  # FIFO list scheduling: each trial starts on the first free slot
        i = slots.index(min(slots))
        slots[i] += t
    ideal = max(slots)
    overhead = (wall - ideal) / wall
    # per trial: seconds between the searcher's suggestion and the result, minus the training itself;
    # the first trial on each slot also pays for starting its worker process (torch import, data)
    extra = [(r["wall_time"] - r["wall_start"]) - r["cost_s"] for r in done]
    first, rest = extra[: args.cpus], extra[args.cpus :]
    print(
        f"trials {len(train)} on {args.cpus} CPUs, {args.epochs} epochs each; train s per trial: "
        + ", ".join(f"{t:.1f}" for t in train)
    )
    print(
        "per-trial time outside training: first trial per slot (worker start-up) "
        + ", ".join(f"{t:.2f}" for t in first)
        + " s; later trials median "
        + (f"{sorted(rest)[len(rest) // 2]:.2f} s (max {max(rest):.2f} s)" if rest else "n/a")
    )
    print(
        f"ray.init {init_s:.1f} s; search wall {wall:.1f} s; overhead-free FIFO makespan {ideal:.1f} s "
        f"(sum/parallelism {sum(train) / args.cpus:.1f} s); "
        f"overhead {100 * overhead:.1f}% (with ray.init: {100 * (wall + init_s - ideal) / (wall + init_s):.1f}%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
