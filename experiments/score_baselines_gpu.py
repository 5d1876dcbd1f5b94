"""Whole-space tables of the baseline proxies on a GPU machine, in parts that fit a time limit.

    # on the GPU machine (one part per command; 2 GPUs x 12 processes under CUDA MPS):
    .venv/bin/python experiments/score_baselines_gpu.py score --start 0 --end 7813 --gpu-procs 12 --out part0.npz
    .venv/bin/python experiments/score_baselines_gpu.py score --start 7813 --end 15625 --gpu-procs 12 --out part1.npz
    # anywhere: merge the parts into one table per proxy (gradsign_nas/tables/nb201_<proxy>.npz)
    .venv/bin/python experiments/score_baselines_gpu.py merge part0.npz part1.npz --out-dir gradsign_nas/tables

Scores every architecture with every proxy on the same seeded batch of 64 real images, after
``torch.manual_seed(seed)`` before each build, as ``gradsign-nas score-space`` does (the same code).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

BASELINES = ("synflow", "snip", "grad_norm", "fisher", "grasp", "jacob_cov", "naswot", "plain", "l2_norm", "params",
             "flops")


def score(args) -> int:
    from gradsign_nas.space_scoring import score_space

    res = score_space(range(args.start, args.end), args.datasets.split(","), 64, 0, args.data_dir, args.gpu_procs,
                      args.cpu_procs, 4, proxies=args.proxies.split(","))
    arrays = {"indices": res["indices"]}
    for q, by_d in res["scores"].items():
        for d, arr in by_d.items():
            arrays[f"{q}__scores_{d}"] = arr
            arrays[f"{q}__seconds_{d}"] = res["seconds"][q][d]
    arrays["meta"] = np.asarray(json.dumps({"wall_s": res["wall_s"], "by_worker": res["by_worker"],
                                            "gpu_procs": args.gpu_procs, "cpu_procs": args.cpu_procs}))
    np.savez_compressed(args.out, **arrays)
    print(json.dumps({"n": len(res["indices"]), "wall_s": round(res["wall_s"], 1),
                      "archs_per_s": round(len(res["indices"]) / res["wall_s"], 2)}))
    return 0


def merge(args) -> int:
    from gradsign_nas.space_scoring import write_table

    parts = [np.load(p, allow_pickle=False) for p in args.parts]
    indices = np.concatenate([z["indices"] for z in parts])
    keys = [k for k in parts[0].files if "__scores_" in k]
    proxies = sorted({k.split("__")[0] for k in keys})
    datasets = sorted({k.split("__scores_")[1] for k in keys})
    wall = sum(json.loads(str(z["meta"]))["wall_s"] for z in parts)
    for q in proxies:
        res = {"indices": indices, "wall_s": wall,
               "scores": {q: {d: np.concatenate([z[f"{q}__scores_{d}"] for z in parts]) for d in datasets}},
               "seconds": {q: {d: np.concatenate([z[f"{q}__seconds_{d}"] for z in parts]) for d in datasets}}}
        path = write_table(Path(args.out_dir) / f"nb201_{q}.npz", res, datasets, 64, 0,
                           {"workers": "2 H200 x 12 processes under MPS"}, proxy=q)
        print(path)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("score", help="score a range of indices")
    s.add_argument("--start", type=int, required=True, help="first index")
    s.add_argument("--end", type=int, required=True, help="one past the last index")
    s.add_argument("--proxies", default=",".join(BASELINES), help="comma-separated (default: the 11 baselines)")
    s.add_argument("--datasets", default="cifar10", help="comma-separated (default cifar10)")
    s.add_argument("--gpu-procs", type=int, default=12, help="processes per GPU (default 12)")
    s.add_argument("--cpu-procs", type=int, default=0, help="CPU processes (default 0)")
    s.add_argument("--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"), help="data directory (default: $GRADSIGN_NAS_DATA)")
    s.add_argument("--out", required=True, help="the part's npz")
    m = sub.add_parser("merge", help="merge parts into one table per proxy")
    m.add_argument("parts", nargs="+", help="the parts' npz files")
    m.add_argument("--out-dir", required=True, help="folder for nb201_<proxy>.npz")
    args = p.parse_args(argv)
    return score(args) if args.cmd == "score" else merge(args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
