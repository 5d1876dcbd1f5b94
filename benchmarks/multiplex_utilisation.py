"""A live comparison on a local multi-node Ray cluster: every search in one Tune experiment (the
multiplexed run, ``compare --live``) against the old one-search-at-a-time run, side by side.

Starts ``ray.cluster_utils.Cluster`` with ``--nodes`` nodes of ``--cpus`` CPUs each on this machine and
runs the same digits comparison (``--runs`` seeds x rs, rea x vanilla, assisted: 12 searches by
default) twice on it:

- multiplexed: ``gradsign_nas.compare(live=True, ...)``, every search in one Tune experiment, one trial
  in flight per search (``--concurrency``), Tune filling the cluster's trial slots;
- one at a time: what ``compare --live`` did before: the searches one after another, each its own Tune
  experiment with as many trials at once as the cluster has slots (``run_search`` per search).

For each: wall time from the first search opened to the last one finished, and the slot utilisation
(busy trial-slot seconds / slot seconds from the first trial's start to the last one's end, from the
histories' trial intervals), plus a timeline per run. The machine's real cores are shared by all the
cluster's "nodes", so keep trials tiny (digits, 1 epoch): the point is how full the slots are kept,
not training speed.

    RAY_AUTH_MODE=disabled python benchmarks/multiplex_utilisation.py --out /tmp/mux
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _options(args, out: Path) -> dict:
    return dict(
        live=True,
        data="digits",
        algorithms="rs,rea",
        algorithm_options="rea.population_size=3",
        runs=args.runs,
        trials=args.trials,
        epochs=args.epochs,
        C=args.C,
        N=1,
        seed=args.seed,
        out=str(out),
        no_progress=True,
    )


def one_at_a_time(cfg) -> float:
    """The comparison's searches as ``compare --live`` ran them before: one after another, each its
    own Tune experiment with every trial slot (returns the wall seconds)."""
    from gradsign_nas.api._compare_common import check_lists
    from gradsign_nas.api._compare_live import comparison, search_config
    from gradsign_nas.api._search import open_search, run_search
    from gradsign_nas.execution.fanout import run_seed

    algos, variants = check_lists(cfg)
    t0 = time.perf_counter()
    for r in range(cfg.runs):
        for a in algos:
            scfg = search_config(cfg, a, variants, r, run_seed(cfg.seed, r))
            for v in variants:
                alg, ev, run_dir, history = open_search(scfg, v, comparison(cfg, r, cfg.runs))
                run_search(scfg, alg, ev, run_dir, f"seed {r} {a} {v}", history, False)
    return time.perf_counter() - t0


def measure(out: Path, slots: int, t0: float, t1: float) -> dict:
    """The run in ``out``'s utilisation and where its wall time went: ``start_s`` from the call to the
    first trial's start (opening the searches, Tune, the first actors), ``end_s`` from the last trial's
    end to the return, ``proxy_s`` seconds of proxy scoring in the driver (``t0``, ``t1``: epoch
    seconds of the call and its return)."""
    from gradsign_nas.api._utilisation import intervals, pack_rows, slot_utilisation
    from gradsign_nas.plots import plot_timeline
    from gradsign_nas.results import read_history

    hist = {
        str(h.parent.relative_to(out)): read_history(h.parent) for h in sorted(out.glob("searches/*/*/history.jsonl"))
    }
    spans = intervals(hist)
    use = slot_utilisation(spans, slots)
    plot_timeline(spans, pack_rows(spans), out / "timeline.png", title=f"utilisation {100 * use['utilisation']:.1f} %")
    best = [max(r["metric"] for r in recs if r["status"] == "completed") for recs in hist.values()]
    proxy = sum(r.get("proxy_cost_s") or 0.0 for recs in hist.values() for r in recs)
    return dict(
        use,
        searches=len(hist),
        mean_best_valid_acc=round(sum(best) / len(best), 2),
        start_s=round(min(s["start"] for s in spans) - t0, 1),
        end_s=round(t1 - max(s["end"] for s in spans), 1),
        proxy_s=round(proxy, 1),
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--cpus", type=int, default=2, help="CPUs per node")
    p.add_argument("--runs", type=int, default=3, help="seeds (x 2 algorithms x 2 variants searches)")
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--C", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--out", default="multiplex-utilisation")
    p.add_argument("--order", default="multiplexed,one-at-a-time", help="which run goes first")
    args = p.parse_args(argv)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    from ray.cluster_utils import Cluster

    import gradsign_nas
    from gradsign_nas.api.configs import CompareConfig

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.cpus, "include_dashboard": False})
    for _ in range(args.nodes - 1):
        cluster.add_node(num_cpus=args.cpus)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    slots = args.nodes * args.cpus
    rows = {}
    try:
        for name in args.order.split(","):
            t0 = time.time()
            if name == "multiplexed":  # the wall time includes statistics and plots (about a second)
                opts = _options(args, out / name)
                gradsign_nas.compare(address=cluster.address, concurrency=args.concurrency, **opts)
            else:
                one_at_a_time(CompareConfig(address=cluster.address, **_options(args, out / name)))
            t1 = time.time()
            rows[name] = dict(measure(out / name, slots, t0, t1), wall_s=round(t1 - t0, 1))
    finally:
        ray.shutdown()
        cluster.shutdown()
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "cluster": f"{args.nodes} nodes x {args.cpus} CPUs (ray.cluster_utils.Cluster), {slots} trial slots",
        "command": "RAY_AUTH_MODE=disabled python benchmarks/multiplex_utilisation.py "
        + " ".join(argv or sys.argv[1:]),
        "ray": ray.__version__,
        "settings": vars(args),
        "runs": rows,
    }
    (out / "results.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info, indent=1))
    print(
        "\n| run | searches | trials | slots | slot utilisation | wall (s) | to first trial (s) | after last (s) "
        "| proxy in driver (s) | mean best valid acc |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['searches']} | {r['trials']} | {r['slots']} | {100 * r['utilisation']:.1f} % | "
            f"{r['wall_s']} | {r['start_s']} | {r['end_s']} | {r['proxy_s']} | {r['mean_best_valid_acc']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
