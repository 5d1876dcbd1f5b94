"""A live comparison on a local multi-node Ray cluster: every search in one Tune experiment (the
multiplexed run, ``compare --live``) against the old one-search-at-a-time run, side by side.

Starts ``ray.cluster_utils.Cluster`` with ``--nodes`` nodes of ``--cpus`` CPUs each on this machine and
runs the same digits comparison (``--runs`` seeds x rs, rea x vanilla, assisted: 12 searches by
default) twice on it:

- multiplexed: ``gradsign_nas.compare(live=True, ...)``, every search in one Tune experiment, one trial
  in flight per search (``--concurrency``), Tune filling the cluster's trial slots;
- one at a time: what ``compare --live`` did before: the searches one after another, each its own Tune
  experiment with as many trials at once as the cluster has slots (``run_search`` per search).

With ``--local`` there is no multi-node cluster: the multiplexed run uses this machine's own Ray
(``--cpus-per-trial``, ``--gpus-per-trial``: 0.25 puts four trainings on a GPU) and is set against
``--no-ray --workers W`` (W local processes, each running whole searches), the same comparison on
the same devices: e.g. on one GPU, CIFAR-10:

    python benchmarks/multiplex_utilisation.py --local --data cifar10 --device cuda --gpus-per-trial 0.25 \
        --cpus-per-trial 4 --workers 4 --runs 5 --C 16 --epochs 3 --trials 8 --out /tmp/mux-gpu

For each: wall time from the first search opened to the last one finished, searches per hour, the
slot utilisation (busy trial-slot seconds / slot seconds from the first trial's start to the last
one's end, from the histories' trial intervals) and where the idle slot seconds went (before each
slot's first trial, between trials, after its last), plus a timeline per run, and the GPU's mean
utilisation from ``nvidia-smi`` where there is one. On a local cluster the machine's real cores
are shared by all the cluster's "nodes", so keep trials tiny (digits, 1 epoch): the point is how
full the slots are kept, not training speed.

    RAY_AUTH_MODE=disabled python benchmarks/multiplex_utilisation.py --out /tmp/mux
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _options(args, out: Path) -> dict:
    return dict(
        live=True,
        data=args.data,
        data_dir=args.data_dir,
        device=args.device,
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


class GpuSampler:
    """``nvidia-smi`` sampled every second while a run goes on (nothing without nvidia-smi)."""

    def __init__(self, path: Path) -> None:
        self.path, self.proc = path, None

    def __enter__(self) -> "GpuSampler":
        if shutil.which("nvidia-smi"):
            query = ["--query-gpu=index,utilization.gpu,memory.used", "--format=csv,noheader,nounits", "-l", "1"]
            self.proc = subprocess.Popen(["nvidia-smi", *query], stdout=self.path.open("w"))
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()

    def mean(self) -> dict:
        """Mean GPU utilisation (%) and peak memory (MiB) per GPU, or ``{}``."""
        if self.proc is None:
            return {}
        util: dict = {}
        for line in self.path.read_text().splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) == 3 and all(x.replace(".", "").isdigit() for x in parts):
                util.setdefault(parts[0], []).append((float(parts[1]), float(parts[2])))
        return {
            g: {"util_pct": round(sum(u for u, _ in v) / len(v), 1), "peak_mib": max(m for _, m in v)}
            for g, v in util.items()
        }


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
        searches_per_hour=round(len(hist) / (t1 - t0) * 3600, 1),
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
    p.add_argument("--order", default=None, help="which run goes first (default: multiplexed first)")
    p.add_argument("--local", action="store_true", help="this machine's Ray against --no-ray --workers W")
    p.add_argument("--data", default="digits")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--cpus-per-trial", type=float, default=1)
    p.add_argument("--gpus-per-trial", type=float, default=0)
    p.add_argument("--workers", type=int, default=4, help="local processes of the --no-ray run (--local)")
    args = p.parse_args(argv)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rows = run_local(args, out) if args.local else run_cluster(args, out)
    import ray

    info = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "cluster": "this machine's Ray"
        if args.local
        else f"{args.nodes} nodes x {args.cpus} CPUs (ray.cluster_utils.Cluster)",
        "command": "RAY_AUTH_MODE=disabled python benchmarks/multiplex_utilisation.py "
        + " ".join(argv or sys.argv[1:]),
        "ray": ray.__version__,
        "settings": vars(args),
        "runs": rows,
    }
    (out / "results.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info, indent=1))
    print(
        "\n| run | searches | trials | slots | slot utilisation | wall (s) | searches/h | to first trial (s) "
        "| idle: ramp / gaps (mean) / tail / unused (slot s) | proxy in driver (s) | GPU util | mean best valid acc |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        idle = r.get("idle") or {}
        gpu = ", ".join(f"{g['util_pct']} %" for g in (r.get("gpu") or {}).values()) or "-"
        print(
            f"| {name} | {r['searches']} | {r['trials']} | {r['slots']} | {100 * r['utilisation']:.1f} % | "
            f"{r['wall_s']} | {r['searches_per_hour']} | {r['start_s']} | {idle.get('ramp_s')} / {idle.get('gaps_s')} "
            f"({idle.get('mean_gap_s')}) / {idle.get('tail_s')} / {idle.get('unused_s')} | {r['proxy_s']} | {gpu} | "
            f"{r['mean_best_valid_acc']} |"
        )
    return 0


def run_local(args, out: Path) -> dict:
    """The comparison on this machine: multiplexed Ray trials against ``--no-ray --workers W``."""
    import gradsign_nas

    rows = {}
    for name in (args.order or "multiplexed,local-processes").split(","):
        opts = dict(_options(args, out / name), cpus_per_trial=args.cpus_per_trial)  # torch threads per trial
        if name == "multiplexed":
            opts.update(concurrency=args.concurrency, gpus_per_trial=args.gpus_per_trial)
        else:
            opts.update(no_ray=True, workers=args.workers)
        with GpuSampler(out / f"{name}-gpu.csv") as gpu:
            t0 = time.time()
            res = gradsign_nas.compare(**opts)
            t1 = time.time()
        slots = res.summary["utilisation"]["slots"]
        rows[name] = dict(measure(out / name, slots, t0, t1), wall_s=round(t1 - t0, 1), gpu=gpu.mean())
    return rows


def run_cluster(args, out: Path) -> dict:
    """The comparison on a local multi-node cluster: multiplexed against one search at a time."""
    import ray
    from ray.cluster_utils import Cluster

    import gradsign_nas
    from gradsign_nas.api.configs import CompareConfig

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.cpus, "include_dashboard": False})
    for _ in range(args.nodes - 1):
        cluster.add_node(num_cpus=args.cpus)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    slots = args.nodes * args.cpus
    rows = {}
    try:
        for name in (args.order or "multiplexed,one-at-a-time").split(","):
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
    return rows


if __name__ == "__main__":
    sys.exit(main())
