"""GradSign per NB201 architecture: one network at a time against many networks stacked in one pass.

Side by side in one run, on the same random NB201 architectures and the same real batch:

- ``plain``: one ordinary batched forward+backward of the network (not GradSign; the floor the
  issue measures against), one network at a time;
- ``hooks`` / ``vmap``: ``gradsign(method=...)`` on a built network, one network at a time;
- ``loop`` (``--loop``): the per-sample loop, one forward/backward per sample (the specification);
- ``stacked M=...``: ``gradsign_nb201`` on M networks at once (their weights drawn beforehand), time
  per architecture; with ``--pipeline``, also the throughput with the weight draws on the CPU
  overlapping the GPU work (what the scoring engine does).

Also: float32 scores against float64 ones of the same networks (Spearman and largest relative
difference), and with ``--tf32`` whether TF32 convolutions change the ranks.

Usage:
    python benchmarks/stacked_speed.py --device cuda --archs 256 --stacks 1,8,32,64,128
    python benchmarks/stacked_speed.py --archs 8 --stacks 1,2,4        # CPU

Prints a Markdown table; ``--json FILE`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--archs", type=int, default=64)
    p.add_argument("--per-network", type=int, default=16, help="archs timed one network at a time")
    p.add_argument("--stacks", default="1,8,32,64")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--loop", action="store_true", help="also time the per-sample loop (the specification)")
    p.add_argument("--tf32", action="store_true", help="also compare ranks with TF32 convolutions on")
    p.add_argument("--exact-archs", type=int, default=32, help="archs scored in float32 and float64")
    p.add_argument("--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"))
    p.add_argument("--json", default=None)
    p.add_argument("--impl", choices=("auto", "conv", "matmul"), default="auto", help="gradsign_nb201's impl")
    args = p.parse_args()

    import torch
    import torch.nn.functional as F
    from scipy.stats import spearmanr

    from gradsign_nas import proxies, search_spaces
    from gradsign_nas.benchmarks import load_batch
    from gradsign_nas.proxies._gradsign_nb201 import draw_weights, finish, gradsign_nb201

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    device = torch.device(args.device)
    space = search_spaces.get("nb201")
    rng = np.random.default_rng(args.seed)
    indices = rng.choice(15625, args.archs, replace=False)
    archs = [space.from_index(int(i)) for i in indices]
    x, y = load_batch("cifar10", args.batch_size, args.seed, args.data_dir, device=device)
    out: dict = {
        "impl": args.impl,
        "device": str(device),
        "batch_size": args.batch_size,
        "archs": args.archs,
        "rows": [],
    }
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)

    def plain(net):
        net.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()

    def hooks(net):
        proxies.gradsign(net, x, y, method="hooks")

    def stacked1(net, arch):
        finish(gradsign_nb201([arch.ops], x, y, seed=args.seed, device=device, impl=args.impl))

    per_net = archs[: args.per_network]
    times: dict[str, list[float]] = {"plain": [], "hooks": [], "vmap": [], "stacked M=1": []}
    if args.loop:
        times["loop"] = []
    for rep in range(2):  # the first pass warms up
        for arch in per_net:
            for name in times:
                torch.manual_seed(args.seed)
                net = space.build(arch, 10).to(device)
                _sync(device)
                t0 = time.perf_counter()
                if name == "plain":
                    plain(net)
                elif name == "hooks":
                    hooks(net)
                elif name == "vmap":
                    proxies.gradsign(net, x, y, method="vmap")
                elif name == "loop":
                    proxies.gradsign_reference(net, x, y)
                else:
                    stacked1(net, arch)
                _sync(device)
                if rep:
                    times[name].append(time.perf_counter() - t0)
    base = float(np.median(times["plain"]))
    for name, ts in times.items():
        med = float(np.median(ts))
        out["rows"].append({"method": name, "ms_per_arch": med * 1e3, "x_plain": med / base})

    for m in [int(s) for s in args.stacks.split(",")]:
        groups = [archs[i : i + m] for i in range(0, len(archs), m)]
        weights = [draw_weights([a.ops for a in g], args.seed) for g in groups]
        finish(
            gradsign_nb201([a.ops for a in groups[0]], x, y, seed=args.seed, device=device, impl=args.impl)
        )  # warm-up
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        _sync(device)
        t0 = time.perf_counter()
        for g, w in zip(groups, weights):
            finish(gradsign_nb201([a.ops for a in g], x, y, seed=args.seed, device=device, impl=args.impl, weights=w))
        gpu_only = (time.perf_counter() - t0) / len(archs)
        t0 = time.perf_counter()
        pending = None
        for g in groups:  # draw the next group's weights while the device works on this one
            w = draw_weights([a.ops for a in g], args.seed)
            res = gradsign_nb201([a.ops for a in g], x, y, seed=args.seed, device=device, impl=args.impl, weights=w)
            if pending is not None:
                finish(pending)
            pending = res
        finish(pending)
        piped = (time.perf_counter() - t0) / len(archs)
        row = {
            "method": f"stacked M={m}",
            "ms_per_arch": gpu_only * 1e3,
            "x_plain": gpu_only / base,
            "pipelined_archs_per_s": 1 / piped,
        }
        if device.type == "cuda":
            row["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
        out["rows"].append(row)

    ex = archs[: args.exact_archs]
    ops = [a.ops for a in ex]
    s32 = np.array(finish(gradsign_nb201(ops, x, y, seed=args.seed, device=device, impl=args.impl)))
    s64 = np.array(
        finish(gradsign_nb201(ops, x, y, seed=args.seed, device=device, impl=args.impl, dtype=torch.float64))
    )
    ok = s64 > 0
    out["float32_vs_float64"] = {
        "spearman": float(spearmanr(s32, s64).statistic),
        "max_rel_diff": float(np.max(np.abs(s32[ok] - s64[ok]) / s64[ok])) if ok.any() else 0.0,
        "archs": len(ex),
    }
    if args.tf32:
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cuda.matmul.allow_tf32 = True
        s_tf = np.array(finish(gradsign_nb201(ops, x, y, seed=args.seed, device=device, impl=args.impl)))
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        out["tf32_vs_float32"] = {
            "spearman": float(spearmanr(s_tf, s32).statistic),
            "max_rel_diff": float(np.max(np.abs(s_tf[ok] - s32[ok]) / s32[ok])) if ok.any() else 0.0,
        }

    print(f"GradSign per architecture, {out.get('gpu', device)}, batch {args.batch_size}, impl {args.impl}")
    print("| method | ms / arch | x plain pass | pipelined archs/s | peak GiB |")
    print("|---|---|---|---|---|")
    for r in out["rows"]:
        piped = f"{r['pipelined_archs_per_s']:.0f}" if "pipelined_archs_per_s" in r else ""
        peak = f"{r['peak_gib']:.1f}" if "peak_gib" in r else ""
        print(f"| {r['method']} | {r['ms_per_arch']:.2f} | {r['x_plain']:.2f} | {piped} | {peak} |")
    print("float32 vs float64:", out["float32_vs_float64"])
    if "tf32_vs_float32" in out:
        print("TF32 vs float32:", out["tf32_vs_float32"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
