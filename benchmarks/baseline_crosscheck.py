"""Cross-check the baseline proxies against published proxy values by rank correlation.

For a seeded sample of architectures of each space, scores every baseline proxy with this project's
code (one batch of real CIFAR-10 training images, ``torch.manual_seed(seed)`` before each build) and
reports Spearman's rho against the values published for the same architectures:

- nb101 / darts: NAS-Bench-Suite-Zero's 500-architecture subsets (NASLib's values; their ``jacov``
  is our ``jacob_cov``); parameter counts are compared for all 500 architectures.
- nb201: Mintal's zero-cost table for NB201 indices 0-199 and the NASWOT column and parameter counts
  of ``reference/nb201_params_naswot.csv``.

Also prints each proxy's Spearman rho against the benchmark accuracy. Usage::

    python benchmarks/baseline_crosscheck.py --n 40 --batch-size 32 --out crosscheck.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

FILE_NAME = {"jacob_cov": "jacov"}  # our name -> NAS-Bench-Suite-Zero's
PROXIES = (
    "synflow",
    "snip",
    "grad_norm",
    "fisher",
    "grasp",
    "jacob_cov",
    "naswot",
    "plain",
    "l2_norm",
    "params",
    "flops",
)


def _rho(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    return float(spearmanr(a[ok], b[ok]).statistic)


def _score(space, archs, x, y, seed, device, proxies):
    import torch

    from gradsign_nas.proxies import get

    out = {p: [] for p in proxies}
    seconds = {p: 0.0 for p in proxies}
    for arch in archs:
        torch.manual_seed(seed)
        model = space.build(arch).to(device)
        for p in proxies:
            t = time.perf_counter()
            out[p].append(get(p)(model, x, y))
            seconds[p] += time.perf_counter() - t
    return {p: np.array(v) for p, v in out.items()}, {p: s / len(archs) for p, s in seconds.items()}


def _nb201_reference(data: Path):
    with open(data / "reference/zero_cost/mintal_zc_cifar10_200archs.csv") as f:
        mintal = list(csv.DictReader(f))
    with open(data / "reference/nb201_params_naswot.csv") as f:
        rows = list(csv.DictReader(f))
    with open(data / "nb201/vtao_nats_bench.csv") as f:
        test = list(csv.DictReader(f))
    return mintal, rows, test


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", nargs="+", default=["nb201", "nb101", "darts"])
    ap.add_argument("--n", type=int, default=40, help="architectures per space")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument(
        "--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"), help="data directory (default: $GRADSIGN_NAS_DATA)"
    )
    ap.add_argument("--proxies", nargs="+", default=list(PROXIES))
    ap.add_argument("--out", default=None, help="write all results as JSON here")
    args = ap.parse_args(argv)

    import torch

    from gradsign_nas.benchmarks import load_batch
    from gradsign_nas.benchmarks.subsets import load_subset
    from gradsign_nas.search_spaces import get as get_space

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device == "cpu":
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    data = Path(args.data_dir)
    x, y = load_batch("cifar10", args.batch_size, args.seed, data, device=device)
    rng = np.random.default_rng(args.seed)
    results = {"device": device, "batch_size": args.batch_size, "seed": args.seed, "n": args.n, "spaces": {}}

    for name in args.spaces:
        space = get_space(name)
        res: dict = {}
        if name == "nb201":
            mintal, rows, test = _nb201_reference(data)
            pick = np.sort(rng.choice(len(mintal), size=min(args.n, len(mintal)), replace=False))
            archs = [space.parse(mintal[i]["arch_str"]) for i in pick]
            idx = [int(mintal[i]["nb201_index"]) for i in pick]
            assert all(space.index(a) == j for a, j in zip(archs, idx))
            ref = {
                k: np.array([float(mintal[i][k]) for i in pick])
                for k in ("grad_norm", "snip", "grasp", "fisher", "jacob_cov", "plain", "synflow")
            }
            naswot_v1 = np.array([float(rows[j]["naswot_v1"]) if rows[j]["naswot_v1"] else np.nan for j in idx])
            acc = np.array([float(test[j]["CIFAR10TestAccuracy200Epochs"]) for j in idx])
            # parameter counts over all 200 Mintal archs
            counts = np.array(
                [
                    sum(p.numel() for p in space.build(space.from_index(int(m["nb201_index"]))).parameters()) / 1e6
                    for m in mintal
                ]
            )
            table = np.array([float(rows[int(m["nb201_index"])]["params"]) for m in mintal])
            res["params_exact"] = f"{int(np.sum(np.abs(counts - table) < 5e-7))}/{len(mintal)}"
        else:
            all_archs, all_acc, all_ref = load_subset(name, data)
            if name == "darts":
                counts = np.array(
                    [sum(p.numel() for p in space.build(a, op_affine=False).parameters()) / 1e6 for a in all_archs]
                )
                res["params_note"] = "op_affine=False (NASLib's network); the default affine network has more"
            else:
                counts = np.array([sum(p.numel() for p in space.build(a).parameters()) / 1e6 for a in all_archs])
            res["params_exact"] = f"{int(np.sum(np.abs(counts - all_ref['params']) < 5e-7))}/{len(all_archs)}"
            pick = np.sort(rng.choice(len(all_archs), size=min(args.n, len(all_archs)), replace=False))
            archs = [all_archs[i] for i in pick]
            acc = all_acc[pick]
            ref = {p: all_ref[FILE_NAME.get(p, p)][pick] for p in args.proxies if FILE_NAME.get(p, p) in all_ref}
            naswot_v1 = None
        t0 = time.perf_counter()
        ours, sec = _score(space, archs, x, y, args.seed, device, args.proxies)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        res["n"] = len(archs)
        res["rho_vs_reference"] = {p: _rho(ours[p], ref[p]) for p in args.proxies if p in ref}
        if naswot_v1 is not None:
            res["rho_vs_naswot_v1_column"] = {p: _rho(ours[p], naswot_v1) for p in ("naswot", "jacob_cov") if p in ours}
        res["rho_vs_accuracy"] = {p: _rho(ours[p], acc) for p in args.proxies}
        res["reference_rho_vs_accuracy"] = {p: _rho(ref[p], acc) for p in ref}
        res["seconds_per_arch"] = {p: round(s, 4) for p, s in sec.items()}
        results["spaces"][name] = res
        print(json.dumps({name: res}, indent=1), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
