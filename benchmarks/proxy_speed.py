"""GradSign speed and memory, side by side on the same NB201 networks and the same real batch.

Methods (each on a freshly built network, ``torch.manual_seed(seed)`` before every build):

- ``gradsign``: the shipped batched implementation (``torch.func.vmap(grad)``),
- ``gradsign_hooks``: one batched pass with per-sample BatchNorm and per-sample weight gradients
  from hooks (``gradsign_nas.proxies._gradsign_hooks``), when that module exists,
- ``gradsign_reference``: the per-sample loop (one forward/backward per sample; the specification),
- ``plain``: one ordinary batched forward+backward of the same batch (not GradSign; the floor).

Times: one subprocess runs every method on every architecture, interleaved arch by arch (so load
from other processes hits all methods alike), ``--repeats`` times; per arch the median over repeats,
then the median over archs. Peak memory: a fresh subprocess per method (peak RSS from
``resource.getrusage``, which sees torch's CPU allocations; on CUDA ``torch.cuda.max_memory_allocated``).
Exactness: float64 scores of every GradSign implementation compared with the loop's for equality.

Usage:
    python benchmarks/proxy_speed.py                      # 10 random NB201 archs, batch 64, CPU
    python benchmarks/proxy_speed.py --device cuda --archs 20
    python benchmarks/proxy_speed.py --threads 1 --chunk-size 64

Prints a Markdown table; ``--json FILE`` also writes the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

METHODS = ("gradsign", "gradsign_hooks", "gradsign_reference", "plain")


def _have_hooks() -> bool:
    try:
        from gradsign_nas.proxies import _gradsign_hooks  # noqa: F401
    except ImportError:
        return False
    return True


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _method(name: str, chunk_size):
    import torch.nn.functional as F

    from gradsign_nas import proxies

    if name == "gradsign":
        return lambda m, x, y: proxies.gradsign(m, x, y, chunk_size=chunk_size, method="vmap")
    if name == "gradsign_hooks":
        return lambda m, x, y: proxies.gradsign(m, x, y, chunk_size=chunk_size, method="hooks")
    if name == "gradsign_reference":
        return proxies.gradsign_reference
    if name == "plain":
        def plain(m, x, y):
            m.train()
            m.zero_grad(set_to_none=True)
            F.cross_entropy(m(x), y).backward()
            return float("nan")
        return plain
    raise ValueError(f"expected a method of {METHODS}, but got {name!r}")


def _setup(args):
    import torch

    from gradsign_nas import search_spaces
    from gradsign_nas.benchmarks import load_batch

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    space = search_spaces.get("nb201")
    x, y = load_batch("cifar10", args.batch_size, args.seed, args.data_dir, device=device)
    archs = [space.from_index(int(i)) for i in args.indices]
    return torch, space, x, y, archs, device


def _build(torch, space, arch, seed, device, dtype=None):
    torch.manual_seed(seed)
    model = space.build(arch, 10).to(device)
    return model.to(dtype) if dtype is not None else model


def _sync(torch, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def worker_times(args) -> dict:
    """All methods, interleaved per arch, ``repeats`` times: seconds[method][arch][repeat], scores."""
    torch, space, x, y, archs, device = _setup(args)
    fns = {m: _method(m, args.chunk_size) for m in args.methods}
    for m, fn in fns.items():  # warm-up: first calls pay one-off costs (torch.func, allocator)
        fn(_build(torch, space, archs[0], args.seed, device), x[:4], y[:4])
    secs = {m: [[] for _ in archs] for m in fns}
    scores = {m: [None] * len(archs) for m in fns}
    for _ in range(args.repeats):
        for i, arch in enumerate(archs):
            for m, fn in fns.items():
                model = _build(torch, space, arch, args.seed, device)
                _sync(torch, device)
                t0 = time.perf_counter()
                s = fn(model, x, y)
                _sync(torch, device)
                secs[m][i].append(time.perf_counter() - t0)
                scores[m][i] = s
    return {"seconds": secs, "scores": scores, "threads": torch.get_num_threads()}


def worker_memory(args) -> dict:
    """One method on every arch in a fresh process: peak RSS (and CUDA peak) in MB."""
    torch, space, x, y, archs, device = _setup(args)
    (m,) = args.methods
    fn = _method(m, args.chunk_size)
    base = _rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for arch in archs:
        fn(_build(torch, space, arch, args.seed, device), x, y)
    out = {"rss_before_mb": base, "peak_rss_mb": _peak_rss_mb()}
    if device.type == "cuda":
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def worker_equality(args) -> dict:
    """float64 scores of each GradSign method and of the loop, per arch."""
    torch, space, x, y, archs, device = _setup(args)
    x64 = x.double()
    out = {m: [] for m in args.methods}
    for arch in archs[: args.equality_archs]:
        for m in args.methods:
            fn = _method(m, args.chunk_size)
            out[m].append(fn(_build(torch, space, arch, args.seed, device, torch.float64), x64, y))
    return out


def _spawn(args, mode: str, methods) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--_worker", mode, "--methods", ",".join(methods),
           "--indices", ",".join(map(str, args.indices)), "--seed", str(args.seed),
           "--batch-size", str(args.batch_size), "--device", args.device, "--repeats", str(args.repeats),
           "--equality-archs", str(args.equality_archs), "--threads", str(args.threads or 0)]
    if args.chunk_size is not None:
        cmd += ["--chunk-size", str(args.chunk_size)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stderr)
        raise SystemExit(f"benchmark worker {mode} {methods} failed with exit code {res.returncode}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--archs", type=int, default=10, help="random NB201 architectures (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seeds the arch sample, the batch and each build")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's default)")
    p.add_argument("--chunk-size", type=lambda s: None if s == "none" else int(s), default=32,
                   help="samples per batched chunk for gradsign / gradsign_hooks ('none': whole batch)")
    p.add_argument("--repeats", type=int, default=3, help="timed passes over the archs (default 3)")
    p.add_argument("--equality-archs", type=int, default=None, help="archs checked in float64 (default all)")
    p.add_argument("--methods", default=None, help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"))
    p.add_argument("--json", default=None, metavar="FILE", help="also write the raw numbers here")
    p.add_argument("--no-memory", action="store_true", help="skip the per-method memory subprocesses")
    p.add_argument("--_worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--indices", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args._worker:
        args.methods = args.methods.split(",")
        args.indices = [int(i) for i in args.indices.split(",")]
        args.threads = args.threads or None
        fn = {"times": worker_times, "memory": worker_memory, "equality": worker_equality}[args._worker]
        print(json.dumps(fn(args)))
        return 0

    methods = [m for m in (args.methods.split(",") if args.methods else METHODS)
               if m != "gradsign_hooks" or args.methods or _have_hooks()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"expected methods from {', '.join(METHODS)}, but got {', '.join(unknown)}")
    args.indices = sorted(np.random.default_rng(args.seed).choice(15625, size=args.archs, replace=False).tolist())
    args.equality_archs = args.archs if args.equality_archs is None else args.equality_archs

    t0 = time.perf_counter()
    times = _spawn(args, "times", methods)
    memory = {} if args.no_memory else {m: _spawn(args, "memory", [m]) for m in methods}
    exact_methods = [m for m in methods if m != "plain"]
    equality = _spawn(args, "equality", exact_methods) if args.equality_archs and "gradsign_reference" in methods else {}
    wall = time.perf_counter() - t0

    med = {m: float(np.median([np.median(s) for s in times["seconds"][m]])) for m in methods}
    lines = [f"NB201, {args.archs} random archs (seed {args.seed}, indices {args.indices}), batch {args.batch_size} "
             f"real CIFAR-10 images, device {args.device}, torch threads {times['threads']}, "
             f"chunk_size {args.chunk_size}, {args.repeats} repeats; {wall:.0f} s in all", "",
             "| method | median s / arch | vs plain fwd+bwd | loop / method | peak RSS MB | RSS over start MB"
             + (" | CUDA peak MB |" if args.device.startswith("cuda") else " |"),
             "|---|---|---|---|---|---|" + ("---|" if args.device.startswith("cuda") else "")]
    for m in methods:
        mem = memory.get(m, {})
        row = [m, f"{med[m]:.3f}",
               f"{med[m] / med['plain']:.2f}x" if "plain" in med else "-",
               f"{med['gradsign_reference'] / med[m]:.2f}x" if "gradsign_reference" in med else "-",
               f"{mem['peak_rss_mb']:.0f}" if mem else "-",
               f"{mem['peak_rss_mb'] - mem['rss_before_mb']:.0f}" if mem else "-"]
        if args.device.startswith("cuda"):
            row.append(f"{mem['cuda_peak_mb']:.0f}" if "cuda_peak_mb" in mem else "-")
        lines.append("| " + " | ".join(row) + " |")
    checks = []
    if "gradsign_reference" in med and "gradsign" in med:
        checks.append(f"loop / gradsign = {med['gradsign_reference'] / med['gradsign']:.2f}x (target >= 3)")
    if "plain" in med and "gradsign" in med:
        checks.append(f"gradsign / plain = {med['gradsign'] / med['plain']:.2f}x (target <= 1.5)")
    float32 = {}
    if "gradsign_reference" in times["scores"]:
        ref = np.asarray(times["scores"]["gradsign_reference"], dtype=float)
        for m in exact_methods:
            if m != "gradsign_reference":
                got = np.asarray(times["scores"][m], dtype=float)
                float32[m] = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1)))
                checks.append(f"float32 {m} vs loop: max relative difference {float32[m]:.2e}")
    exact = {}
    if equality:
        ref = equality["gradsign_reference"]
        for m in exact_methods:
            if m != "gradsign_reference":
                exact[m] = sum(a == b for a, b in zip(equality[m], ref))
                checks.append(f"float64 {m} == loop on {exact[m]} of {len(ref)} archs")
    lines += [""] + [f"- {c}" for c in checks]
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items() if not k.startswith("_")}, "median_s": med,
                       "times": times, "memory": memory, "float64": equality, "float64_equal": exact,
                       "float32_max_rel_diff": float32, "wall_s": wall}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
