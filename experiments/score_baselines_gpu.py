"""Whole-space tables of the baseline proxies on a GPU machine, in parts that fit a time limit.

    # on the GPU machine (one part per command; 2 GPUs x 12 processes under CUDA MPS):
    .venv/bin/python experiments/score_baselines_gpu.py score --start 0 --end 7813 --gpu-procs 12 --out part0.npz
    .venv/bin/python experiments/score_baselines_gpu.py score --start 7813 --end 15625 --gpu-procs 12 --out part1.npz
    # or: a prioritised plan with a deadline, saved every 30 s; a later part skips what earlier ones hold
    .venv/bin/python experiments/score_baselines_gpu.py plan --plan cifar100=synflow,snip,zen --plan cifar10=zen \
        --deadline 500 --out partA.npz
    .venv/bin/python experiments/score_baselines_gpu.py plan --plan ... --exclude partA.npz --out partB.npz
    # anywhere: merge the parts into one table per proxy (gradsign_nas/tables/nb201_<proxy>.npz); a
    # dataset the table lacks is added beside the arrays it has, which stay as they are
    .venv/bin/python experiments/score_baselines_gpu.py merge part0.npz part1.npz --out-dir gradsign_nas/tables

``score`` scores every architecture with every proxy on the same seeded batch of 64 real images, after
``torch.manual_seed(seed)`` before each build, as ``gradsign-nas score-space`` does (the same code).
``plan`` gives the same scores with one build per architecture and dataset, shared by that dataset's
proxies (every proxy leaves the network it is given unchanged and draws nothing from the global RNG,
so each still sees the network ``torch.manual_seed(seed)`` + build makes); the seconds, as in
``score``, time the proxy call alone.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time
from pathlib import Path

import numpy as np

BASELINES = (
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


def score(args) -> int:
    from gradsign_nas.space_scoring import score_space

    res = score_space(
        range(args.start, args.end),
        args.datasets.split(","),
        64,
        0,
        args.data_dir,
        args.gpu_procs,
        args.cpu_procs,
        proxies=args.proxies.split(","),
    )
    arrays = {"indices": res["indices"]}
    for q, by_d in res["scores"].items():
        for d, arr in by_d.items():
            arrays[f"{q}__scores_{d}"] = arr
            arrays[f"{q}__seconds_{d}"] = res["seconds"][q][d]
    arrays["meta"] = np.asarray(
        json.dumps(
            {
                "wall_s": res["wall_s"],
                "by_worker": res["by_worker"],
                "gpu_procs": args.gpu_procs,
                "cpu_procs": args.cpu_procs,
            }
        )
    )
    np.savez_compressed(args.out, **arrays)
    print(
        json.dumps(
            {
                "n": len(res["indices"]),
                "wall_s": round(res["wall_s"], 1),
                "archs_per_s": round(len(res["indices"]) / res["wall_s"], 2),
            }
        )
    )
    return 0


# -- plan: one build per architecture and dataset, priorities, a deadline, checkpoints --------------------
def _plan_worker(device: str, tasks, results, datasets, batch_size: int, seed: int, data_dir: str) -> None:
    import torch

    torch.set_num_threads(1)
    from gradsign_nas import proxies
    from gradsign_nas.benchmarks import load_batch
    from gradsign_nas.benchmarks.images import NUM_CLASSES
    from gradsign_nas.search_spaces import get

    dev = torch.device(device)
    space = get("nb201")
    batches = {d: load_batch(d, batch_size, seed, data_dir, device=dev) for d in datasets}
    while True:
        task = tasks.get()
        if task is None:
            break
        d, names, chunk = task
        x, y = batches[d]
        out = []
        for index in chunk:
            torch.manual_seed(seed)
            net = space.build(space.from_index(index), num_classes=NUM_CLASSES[d]).to(dev)
            for q in names:
                t0 = time.perf_counter()
                s = float(proxies.get(q)(net, x, y))
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                out.append((q, d, int(index), s, time.perf_counter() - t0))
        results.put((device, out))


def _parse_plan(items) -> list[tuple[str, list[str]]]:
    from gradsign_nas import proxies

    plan = []
    for item in items:
        d, _, names = item.partition("=")
        qs = [q.strip() for q in names.split(",") if q.strip()]
        if d not in ("cifar10", "cifar100") or not qs:
            raise SystemExit(f"expected --plan DATASET=proxy,proxy,..., but got {item!r}")
        for q in qs:
            proxies.get(q)
        plan.append((d, qs))
    return plan


def _read_part(path) -> dict[tuple[str, str], dict[int, tuple[float, float]]]:
    """``{(proxy, dataset): {index: (score, seconds)}}`` of a part written by ``score`` or ``plan``."""
    z = np.load(path, allow_pickle=False)
    got: dict[tuple[str, str], dict[int, tuple[float, float]]] = {}
    for k in z.files:
        if k.endswith("__indices"):  # plan parts: <proxy>__<dataset>__indices / __scores / __seconds
            q, d, _ = k.split("__")
            got[(q, d)] = {
                int(i): (float(a), float(b)) for i, a, b in zip(z[k], z[f"{q}__{d}__scores"], z[f"{q}__{d}__seconds"])
            }
        elif "__scores_" in k:  # score parts: indices, <proxy>__scores_<dataset>, <proxy>__seconds_<dataset>
            q, d = k.split("__scores_")
            got[(q, d)] = {int(i): (float(a), float(b)) for i, a, b in zip(z["indices"], z[k], z[f"{q}__seconds_{d}"])}
    return got


def _write_plan_part(path, done, meta) -> None:
    from gradsign_nas._io import atomic_path

    arrays = {}
    for (q, d), rows in done.items():
        idx = np.fromiter(rows, dtype=np.int64, count=len(rows))
        arrays[f"{q}__{d}__indices"] = idx
        arrays[f"{q}__{d}__scores"] = np.asarray([rows[i][0] for i in idx], dtype=np.float64)
        arrays[f"{q}__{d}__seconds"] = np.asarray([rows[i][1] for i in idx], dtype=np.float64)
    arrays["meta"] = np.asarray(json.dumps(meta))
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def plan(args) -> int:
    import multiprocessing as mp

    import torch

    from gradsign_nas.benchmarks import data_dir as resolve

    t_start = time.perf_counter()
    plan_items = _parse_plan(args.plan)
    skip: dict[tuple[str, str], set[int]] = {}
    for path in args.exclude or []:
        for key, rows in _read_part(path).items():
            skip.setdefault(key, set()).update(rows)
    indices = range(args.start, args.end)
    if args.indices_file:
        keep = {int(i) for i in np.load(args.indices_file, allow_pickle=False)}
        indices = [i for i in indices if i in keep]
    tasks_list = []
    for d, names in plan_items:  # in priority order
        todo = [i for i in indices if not all(i in skip.get((q, d), ()) for q in names)]
        tasks_list += [(d, names, todo[k : k + args.chunk]) for k in range(0, len(todo), args.chunk)]
    n_gpu = torch.cuda.device_count()
    devices = [f"cuda:{g}" for g in range(n_gpu) for _ in range(args.gpu_procs)] + ["cpu"] * args.cpu_procs
    if not devices:
        raise SystemExit("no workers: no CUDA device is visible and --cpu-procs is 0")
    ctx = mp.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    for t in tasks_list:
        tasks.put(t)
    for _ in devices:
        tasks.put(None)
    datasets = sorted({d for d, _ in plan_items})
    dd = str(resolve(args.data_dir))
    procs = [
        ctx.Process(target=_plan_worker, args=(dev, tasks, results, datasets, 64, args.seed, dd), daemon=True)
        for dev in devices
    ]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    done: dict[tuple[str, str], dict[int, tuple[float, float]]] = {}
    by_task = {d: 0 for d, _ in plan_items}
    n_done, last_save, stopped = 0, time.perf_counter(), False
    meta = {
        "plan": args.plan,
        "gpus": n_gpu,
        "gpu_procs": args.gpu_procs,
        "cpu_procs": args.cpu_procs,
        "seed": args.seed,
        "batch_size": 64,
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if n_gpu else "cpu",
    }

    def save(final: bool) -> None:
        wall = time.perf_counter() - t0
        meta.update(
            wall_s=round(wall, 1),
            chunks_done=n_done,
            chunks=len(tasks_list),
            final=final,
            stopped_at_deadline=stopped,
            archs_by_dataset=by_task,
        )
        _write_plan_part(args.out, done, meta)

    try:
        while n_done < len(tasks_list):
            if args.deadline and time.perf_counter() - t_start > args.deadline:
                stopped = True
                break
            try:
                _who, out = results.get(timeout=2)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    raise RuntimeError("all scoring workers exited before the work was done") from None
                continue
            for q, d, index, sc, dt in out:
                done.setdefault((q, d), {})[index] = (sc, dt)
            by_task[out[0][1]] += len({r[2] for r in out})
            n_done += 1
            if time.perf_counter() - last_save > 30:
                save(False)
                last_save = time.perf_counter()
    finally:
        for p in procs:
            if stopped:
                p.terminate()
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
        save(True)
    wall = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "chunks_done": n_done,
                "chunks": len(tasks_list),
                "wall_s": round(wall, 1),
                "archs_by_dataset": by_task,
                "stopped_at_deadline": stopped,
                "archs_per_s": round(sum(by_task.values()) / wall, 2),
            }
        )
    )
    return 0


def merge(args) -> int:
    """One table per proxy from the parts. A table that exists keeps every array it has, unchanged;
    datasets it lacks are added when the parts cover all 15,625 architectures for them (a dataset it
    has is an error unless --replace)."""
    from gradsign_nas._io import atomic_path

    n = 15625
    rows: dict[tuple[str, str], dict[int, tuple[float, float]]] = {}
    wall: dict[tuple[str, str], float] = {}
    patched: dict[tuple[str, str], int] = {}
    for path in args.parts:
        meta = json.loads(str(np.load(path, allow_pickle=False)["meta"]))
        for key, got in _read_part(path).items():
            have = rows.setdefault(key, {})
            for i, v in got.items():
                if i in have and not (have[i][0] == v[0] or (np.isnan(have[i][0]) and np.isnan(v[0]))):
                    raise SystemExit(f"{key} index {i}: two parts disagree ({have[i][0]!r} vs {v[0]!r})")
                have.setdefault(i, v)
            wall[key] = wall.get(key, 0.0) + float(meta["wall_s"])
    for path in args.patch or []:  # rescored architectures replace what the parts hold for them
        for key, got in _read_part(path).items():
            if key not in rows:
                raise SystemExit(f"{path} patches {key}, which no part holds")
            rows[key].update(got)
            patched.setdefault(key, 0)
            patched[key] += len(got)
    only = set(args.proxies.split(",")) if args.proxies else None
    for (q, d), got in sorted(rows.items()):
        if only is not None and q not in only:
            continue
        if sorted(got) != list(range(n)):
            print(f"skipped {q}/{d}: the parts hold {len(got)} of the {n} architectures")
            continue
        path = Path(args.out_dir) / f"nb201_{q}.npz"
        arrays: dict[str, np.ndarray] = {}
        meta: dict = {}
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays.pop("meta")))
            if f"scores_{d}" in arrays and not args.replace:
                raise SystemExit(f"{path} already has {d}; pass --replace to overwrite it")
        old = list(meta.get("datasets", []))
        if not isinstance(meta.get("wall_s"), dict):  # one run made the datasets it has
            meta["wall_s"] = {e: meta["wall_s"] for e in old} if "wall_s" in meta else {}
        if meta and not isinstance(meta.get("workers"), dict):
            meta["workers"] = {e: meta["workers"] for e in old} if "workers" in meta else {}
        scores = np.asarray([got[i][0] for i in range(n)], dtype=np.float64)
        seconds = np.asarray([got[i][1] for i in range(n)], dtype=np.float32)
        ref = arrays.get(f"scores_{old[0]}") if old else None
        arrays[f"scores_{d}"] = scores.astype(ref.dtype if ref is not None else np.float64)
        arrays[f"seconds_{d}"] = seconds
        meta = {
            "proxy": q,
            "batch_size": 64,
            "batch_seed": 0,
            "init": "torch.manual_seed(0) before each build",
            "index": "NB201 official index",
            **meta,
            "datasets": old + ([d] if d not in old else []),
        }
        meta["wall_s"] = {**meta.get("wall_s", {}), d: round(wall[(q, d)], 1)}
        meta["workers"] = {**meta.get("workers", {}), d: args.workers}
        if (q, d) in patched:
            meta.setdefault("patched", {})[d] = f"{patched[(q, d)]} architectures rescored: {args.patch_note}"
        arrays["meta"] = np.asarray(json.dumps(meta))
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez_compressed(tmp, **arrays)
        print(f"{path}: {', '.join(meta['datasets'])}")
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
    s.add_argument(
        "--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"), help="data directory (default: $GRADSIGN_NAS_DATA)"
    )
    s.add_argument("--out", required=True, help="the part's npz")
    q = sub.add_parser(
        "plan",
        help="score (dataset, proxies) entries in priority order, one build per "
        "architecture and dataset, until done or a deadline",
    )
    q.add_argument(
        "--plan",
        action="append",
        required=True,
        metavar="DATASET=P1,P2",
        help="a dataset and the proxies to score on it; repeat, highest priority first",
    )
    q.add_argument("--start", type=int, default=0, help="first index (default 0)")
    q.add_argument("--end", type=int, default=15625, help="one past the last index (default 15625)")
    q.add_argument(
        "--indices-file", default=None, metavar="NPY", help="only these indices (an npy array) within the range"
    )
    q.add_argument("--exclude", action="append", metavar="PART", help="skip what this part already holds; repeatable")
    q.add_argument(
        "--deadline", type=float, default=0, help="stop after this many seconds and save what is done (0: none)"
    )
    q.add_argument("--chunk", type=int, default=8, help="architectures per task (default 8)")
    q.add_argument("--seed", type=int, default=0, help="batch and init seed (default 0)")
    q.add_argument("--gpu-procs", type=int, default=12, help="processes per GPU (default 12)")
    q.add_argument("--cpu-procs", type=int, default=0, help="CPU processes (default 0)")
    q.add_argument(
        "--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"), help="data directory (default: $GRADSIGN_NAS_DATA)"
    )
    q.add_argument("--out", required=True, help="the part's npz (rewritten every 30 s)")
    m = sub.add_parser("merge", help="merge parts into one table per proxy, adding datasets to existing tables")
    m.add_argument("parts", nargs="+", help="the parts' npz files (from score or plan)")
    m.add_argument("--out-dir", required=True, help="folder for nb201_<proxy>.npz")
    m.add_argument(
        "--proxies", default=None, help="comma-separated: merge only these proxies (default: all in the parts)"
    )
    m.add_argument("--replace", action="store_true", help="overwrite a dataset a table already has")
    m.add_argument(
        "--patch",
        action="append",
        metavar="PART",
        help="a part whose scores replace the parts' for its architectures (a rescore after a fix); repeatable",
    )
    m.add_argument("--patch-note", default="", help="what the patch was, for the meta")
    m.add_argument("--workers", default="2 H200 x 12 processes under MPS", help="how the parts were made, for the meta")
    args = p.parse_args(argv)
    return {"score": score, "plan": plan, "merge": merge}[args.cmd](args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
