"""Where the time of the stacked NB201 GradSign pass goes, block by block (ours; a diagnostic).

Scores the first ``--blocks`` whole cosets of the space (``coset_blocks``, 125 networks each) with the
compiled pass (``--mode compiled``, as ``score-space --compile``) or the uncompiled stacked pass
(``--mode eager``), and prints the seconds of each phase: importing torch, starting CUDA, the data,
drawing the weights' streams, the first block (for the compiled pass: tracing, compiling or loading
the compiled code), the second, and the rest. For the compiled pass it also prints torch.compile's
own split of its time (``torch._dynamo.utils.compile_times``). Run it twice on one machine: the first
run fills the inductor cache (``TORCHINDUCTOR_CACHE_DIR``), the second shows the warm start.

``--profile`` adds a torch profiler table of one block after the timed ones (kernels by their own
GPU time); ``--cprofile`` runs the first block under cProfile and prints its top functions.

    .venv/bin/python experiments/compiled_pass_probe.py --device cuda --blocks 8 --profile
"""

from __future__ import annotations

import argparse
import sys
import time

T0 = time.perf_counter()
import torch  # noqa: E402

IMPORT_S = time.perf_counter() - T0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("compiled", "eager"), default="compiled")
    p.add_argument("--blocks", type=int, default=8, help="blocks of 125 networks, at least 3")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--profile", action="store_true", help="a profiler table of one more block")
    p.add_argument("--cprofile", action="store_true", help="the first block under cProfile")
    args = p.parse_args(argv)
    if args.blocks < 3:
        p.error(f"--blocks must be at least 3 (first, second and the rest), but got {args.blocks}")

    from gradsign_nas import search_spaces
    from gradsign_nas.benchmarks import load_batch
    from gradsign_nas.proxies._gradsign_nb201 import coset_blocks, draw_weights, finish, gradsign_nb201
    from gradsign_nas.scoring import _exact_float32

    dev = torch.device(args.device)
    cuda = dev.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(dev)

    def lap(label: str, t: float) -> float:
        now = time.perf_counter()
        print(f"{label:34s} {now - t:8.3f} s", flush=True)
        return now

    print(f"torch {torch.__version__}, import {IMPORT_S:.3f} s, mode {args.mode}, device {dev}", flush=True)
    t = time.perf_counter()
    torch.zeros(1, device=dev)
    sync()
    t = lap("device start", t)
    space = search_spaces.get("nb201")
    whole, _ = coset_blocks([space.from_index(i) for i in range(15625)])
    x, y = load_batch(args.dataset, args.batch, args.seed, args.data_dir, device=dev)
    t = lap("data and blocks", t)
    n = args.blocks + int(args.profile)
    ops = [[a.ops for a in whole[i]] for i in range(n)]
    weights = [draw_weights(o, args.seed, space.C, space.N, 3, 10, dev) for o in ops]  # streams only
    t = lap(f"weights' streams, {n} blocks", t)
    impl = "compiled" if args.mode == "compiled" else "auto"

    def block(i: int) -> list[float]:
        return finish(gradsign_nb201(ops[i], x, y, seed=args.seed, device=dev, weights=weights[i], impl=impl))

    with _exact_float32():
        if args.cprofile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            block(0)
            sync()
            prof.disable()
            t = lap("first block (under cProfile)", t)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        else:
            block(0)
            sync()
            t = lap("first block", t)
        if args.mode == "compiled":
            from torch._dynamo.utils import compile_times

            print(compile_times(repr="str", aggregate=True), flush=True)
        block(1)
        sync()
        t = lap("second block", t)
        for i in range(2, args.blocks):
            block(i)
        sync()
        rest = time.perf_counter() - t
        t = lap(f"blocks 3-{args.blocks}", t)
        print(f"{'per block after the second':34s} {rest / (args.blocks - 2):8.3f} s", flush=True)
        if args.profile:
            from torch.profiler import ProfilerActivity, profile

            activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
            with profile(activities=activities) as pr:
                block(args.blocks)
                sync()
            key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
            print(pr.key_averages().table(sort_by=key, row_limit=40, max_name_column_width=80), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
