"""Probe (not part of the package, not in the README): can torch.compile (inductor) speed up the
stacked NB201 GradSign pass? The starting point for compiling the kernel.

Measured once on one H200 (torch 2.11, float32, TF32 off, C=16, N=5, batch 64, blocks of 125):
``ref_coset`` (the package's kernel) 5.95 ms per architecture; ``cell_static`` 2.95 ms (2.02x faster;
Spearman 0.99999 against ref, largest relative difference 6.4e-4) after 144 s of compiling;
``full_static`` did not finish compiling within the time left.

Self-contained benchmark (only reads gradsign_nas). Run from the repository root, e.g.

    python3 experiments/stacked_compile_probe.py --device cuda --M 64 --C 16 --N 5 --batch 64 --warmup 1 \
        --stacks 3 --variants ref_coset,cell_static

Variants (``--variants``, comma list; default: all):

  on random stacks of --M architectures ("random" set):
    ref          the current ``gradsign_nb201`` (impl --ref-impl), uncompiled; its scores are the reference
    eager        this file's copy of the pass, uncompiled (checks the copy; per-layer output gradients are
                 taken with the "zero tap" trick: out = conv(...) + z, z a stride-0 zero leaf, dL/dz = dL/dout)
    cell_dyn     one compiled function per block (stem, reduction, cell, head; dynamic=True, small graphs,
                 a cell graph is reused by all 3N cells), autograd.grad outside, compiled sign-sum
    fwd_dyn      the whole forward up to the loss as one compiled graph (dynamic=True), autograd.grad outside,
                 compiled sign-sum (dynamic=True)
    full_dyn     ONE compiled function: forward + backward (torch.func.grad w.r.t. the zero taps) + sign sums

  on "coset" stacks of 5**--coset-d architectures (default 125), each stack a coset of a d-dimensional
  subspace of Z_5^6 on which every op appears exactly 5**(d-1) times on every edge: all stacks have the
  same shapes, only index tensors / weights (data) change -> static shapes, no recompiles:
    ref_coset    the current gradsign_nb201 on those stacks (baseline at that M)
    cell_static  as cell_dyn, dynamic=False
    fwd_static   as fwd_dyn, dynamic=False
    full_static  as full_dyn, dynamic=False
    full_cg      as full_static with mode="reduce-overhead" (CUDA graphs; only meaningful on CUDA)

Every variant is compared with the reference scores of the same stacks (same weights, same inputs).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import traceback

import numpy as np
import torch
import torch._dynamo
import torch.nn.functional as F

from gradsign_nas.proxies._gradsign_nb201 import (
    _cell,
    _head_block,
    _im2col,
    _instance_norm,
    _reduction,
    _SameConv3x3,
    _sign_scores,
    _unfold,
    draw_weights,
    gradsign_nb201,
)

try:
    from gradsign_nas.proxies._gradsign_nb201 import _OPS as OPS
except ImportError:  # pragma: no cover
    OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EPS = 1e-5

RANDOM_VARIANTS = ["ref", "eager", "cell_dyn", "fwd_dyn", "full_dyn"]
COSET_VARIANTS = ["ref_coset", "cell_static", "fwd_static", "full_static", "full_cg"]


# ----------------------------------------------------------------------------------------------------
# architectures
# ----------------------------------------------------------------------------------------------------
def random_stacks(M: int, count: int, seed: int) -> list[list[tuple]]:
    rng = np.random.default_rng(seed)
    idx = rng.choice(5**6, M * count, replace=False)
    archs = [tuple(OPS[(int(i) // 5**e) % 5] for e in range(6)) for i in idx]
    return [archs[k * M : (k + 1) * M] for k in range(count)]


def coset_basis(d: int) -> list[tuple[int, ...]]:
    """d vectors of Z_5^6, pivots on coordinates 0..d-1; every coordinate is non-zero on some vector,
    so every coordinate functional maps the span onto Z_5 (each op 5**(d-1) times per edge)."""
    assert 1 <= d <= 6
    rows = []
    for i in range(d):
        v = [0] * 6
        v[i] = 1
        for j in range(d, 6):
            v[j] = (1 + i * (j - d + 1)) % 5 or 1
        rows.append(tuple(v))
    return rows


def coset_stacks(d: int, count: int, offset: int = 0) -> list[list[tuple]]:
    """The first ``count`` cosets (after ``offset``) of the partition of all 5**6 architectures."""
    basis = coset_basis(d)
    span = []
    for t in itertools.product(range(5), repeat=d):
        span.append(tuple(sum(t[i] * basis[i][j] for i in range(d)) % 5 for j in range(6)))
    reps = [(0,) * d + r for r in itertools.product(range(5), repeat=6 - d)]  # complement: zero pivots
    out = []
    for rep in reps[offset : offset + count]:
        block = [tuple(OPS[(rep[j] + s[j]) % 5] for j in range(6)) for s in span]
        for e in range(6):
            cnt = [sum(1 for a in block if a[e] == o) for o in OPS]
            assert cnt == [5 ** (d - 1)] * 5, cnt
        out.append(block)
    return out


def check_coset_partition(d: int) -> None:
    allb = coset_stacks(d, 5 ** (6 - d))
    flat = [a for b in allb for a in b]
    assert len(set(flat)) == 5**6 == len(flat), "cosets do not partition the space"


# ----------------------------------------------------------------------------------------------------
# the pass, rewritten functionally (weights 5-D as drawn by draw_weights)
# ----------------------------------------------------------------------------------------------------
# the package's im2col (F.unfold with the batch folded into the channels) and its 3x3 convolution
# (an autograd.Function whose input gradient avoids col2im), and the shifted-slice im2col that its
# compiled pass uses
im2col_unfold = _unfold
SameConv3x3 = _SameConv3x3
im2col_shift = _im2col


class Cfg:
    """How convolutions are formed: conv3 'func' (custom autograd.Function, as the module) or 'plain'
    (im2col + matmul, autograd does the rest); im2col 'unfold' (F.unfold) or 'shift' (slices)."""

    def __init__(self, conv3="func", im2col="unfold"):
        self.conv3, self.im2col = conv3, im2col

    def cols(self, t, k, pad, stride):
        return (im2col_shift if self.im2col == "shift" else im2col_unfold)(t, k, pad, stride)


def tap_conv(cfg, zs, cols_out):
    """The ``conv`` of the package's ``_cell``/``_reduction`` as this probe forms it (``cfg``): its output
    plus the next zero tap of ``zs`` (the "zero tap" trick), its columns appended to ``cols_out``."""
    it = iter(zs)

    def conv(inp, w, n, k, stride, pad, who):
        B, _, H, W = inp.shape
        Ho, Wo = (H + 2 * pad - k) // stride + 1, (W + 2 * pad - k) // stride + 1
        if k == 3 and stride == 1 and pad == 1 and cfg.conv3 == "func":
            out, cols = SameConv3x3.apply(inp, w)
        else:
            cols = cfg.cols(inp, k, pad, stride).view(B, n, -1, Ho * Wo)
            out = torch.matmul(w.reshape(n, w.shape[1], -1), cols)
        cols_out.append(cols.detach())
        return (out + next(it)).view(B, -1, Ho, Wo)

    return conv


def cell_fwd(cfg, h, slots, groups, zs, M, c):
    """One cell (the package's ``_cell``); zs the cell's taps in record order. Returns (new h, cols)."""
    cols: list = []
    return _cell(h, slots, groups, c, M, tap_conv(cfg, zs, cols), _instance_norm), cols


def red_fwd(cfg, h, wa, wb, wd, za, zb, zd):
    """A reduction block (the package's ``_reduction``). Returns (new h, cols)."""
    cols: list = []
    return _reduction(h, wa, wb, wd, wa.shape[0], tap_conv(cfg, (za, zb, zd), cols), _instance_norm), cols


def stem_fwd(cfg, x, stem, z):
    B, cin, H, W = x.shape
    stem_cols = cfg.cols(x, 3, 1, 1)  # [B, cin*9, L]
    so = torch.matmul(stem.reshape(-1, cin * 9), stem_cols) + z  # [B, M*C, L]
    return F.instance_norm(so.view(B, -1, H, W), eps=EPS), stem_cols


head_fwd = _head_block  # (loss, feat) from the last cell's output, with the logits' tap


def forward_loss(cfg, x, y, W, groups, zs, fns=None):
    """W: dict(stem, reds[(wa, wb, wd)], cells[{(edge, op): w} per cell, as drawn], fc_w, fc_b);
    zs: flat taps in record order (stem, per stage (reductions a, b, d, cells' convs), logits).
    Returns (loss, stem_cols, feat, flat cols of the conv records)."""
    stem_f, red_f, cell_f, head_f = fns or (stem_fwd, red_fwd, cell_fwd, head_fwd)
    M = W["stem"].shape[0]
    C = W["stem"].shape[1]
    N = len(W["cells"]) // 3
    pos = 1
    h, stem_cols = stem_f(cfg, x, W["stem"], zs[0])
    cols = []
    cell = 0
    for stage in range(3):
        c = C << stage
        if stage > 0:
            wa, wb, wd = W["reds"][stage - 1]
            h, cc = red_f(cfg, h, wa, wb, wd, zs[pos], zs[pos + 1], zs[pos + 2])
            pos += 3
            cols += cc
        for _ in range(N):
            k = sum(1 for e in range(6) for op, _who, _n in groups[e] if op in (2, 3))
            h, cc = cell_f(cfg, h, W["cells"][cell], groups, zs[pos : pos + k], M, c)
            pos += k
            cols += cc
            cell += 1
    loss, feat = head_f(h, W["fc_w"], W["fc_b"], y, zs[pos])
    return loss, stem_cols, feat, cols


sign_scores = _sign_scores  # GradSign per network from the output gradients (taps) and the columns


class Plan:
    """Per stack: device weights in the layout forward_loss wants, groups, tap shapes, record whos."""

    def __init__(self, st, x, y, device, dtype):
        st.to(device, dtype)
        M, C, N, K = st.M, st.C, st.N, st.K
        self.M = M
        self.groups = [
            [
                (op, None if len(ms) == M else torch.tensor(ms, device=device), len(ms))
                for op, ms in st.users[e].items()
                if ms and op != 0
            ]
            for e in range(6)
        ]
        self.W = dict(
            stem=st.stem,
            reds=[tuple(r) for r in st.reductions],
            cells=st.cells,
            fc_w=st.fc_w,
            fc_b=st.fc_b,
        )
        B, _, H, Wd = x.shape
        shapes = [(B, M * C, H * Wd)]
        whos = []
        h, w = H, Wd
        for stage in range(3):
            c = C << stage
            if stage > 0:
                h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
                shapes += [(B, M, c, h * w)] * 3
                whos += [None] * 3
            for _ in range(N):
                for e in range(6):
                    for op, who, n in self.groups[e]:
                        if op in (2, 3):
                            shapes.append((B, n, c, h * w))
                            whos.append(who)
        shapes.append((M, B, K))
        self.shapes, self.whos = shapes, whos
        self.x, self.y = x, y

    def taps(self, requires_grad=True):
        z0 = torch.zeros((), device=self.x.device, dtype=self.x.dtype)
        return [z0.expand(s).requires_grad_(requires_grad) for s in self.shapes]


# ----------------------------------------------------------------------------------------------------
# variants: each returns a function st -> scores [M] float64 on the device
# ----------------------------------------------------------------------------------------------------
def make_runner(kind, args, cfg, compile_kw):
    dev, dtype = torch.device(args.device), DTYPE[args.dtype]

    def comp(fn, **kw):
        opts = dict(compile_kw)
        opts.update(kw)
        return torch.compile(fn, **opts)

    if kind == "ref":

        def run(st, x, y):
            ops = [tuple(OPS[o] for o in a) for a in st.ops]
            return gradsign_nb201(
                ops, x, y, C=st.C, N=st.N, num_classes=st.K, device=dev, dtype=dtype, weights=st, impl=args.ref_impl
            )

        return run

    if kind in ("eager", "fwd", "cell"):
        fns = None
        fwd = lambda *a: forward_loss(cfg, *a)  # noqa: E731
        signs = sign_scores
        if kind == "fwd":
            fwd = comp(lambda x, y, W, groups, zs: forward_loss(cfg, x, y, W, groups, zs))
            signs = comp(sign_scores)
        elif kind == "cell":
            fns = (
                comp(stem_fwd),
                comp(red_fwd),
                comp(cell_fwd),
                comp(head_fwd),
            )
            fwd = lambda *a: forward_loss(cfg, *a, fns=fns)  # noqa: E731
            signs = comp(sign_scores)

        def run(st, x, y):
            p = Plan(st, x, y, dev, dtype)
            zs = p.taps(True)
            with torch.enable_grad():
                loss, stem_cols, feat, cols = fwd(x, y, p.W, p.groups, zs)
                gs = torch.autograd.grad(loss, zs)
            return signs(p.M, gs[0], stem_cols, gs[-1], feat, list(gs[1:-1]), cols, p.whos)

        return run

    if kind == "full":

        def full_fn(x, y, W, groups, zs, whos):
            M = W["stem"].shape[0]

            def f(zs_):
                loss, stem_cols, feat, cols = forward_loss(cfg, x, y, W, groups, zs_)
                return loss, (stem_cols, feat, cols)

            gs, (stem_cols, feat, cols) = torch.func.grad(f, has_aux=True)(zs)
            return sign_scores(M, gs[0], stem_cols, gs[-1], feat, list(gs[1:-1]), cols, whos)

        cf = comp(full_fn)
        cg = compile_kw.get("mode") == "reduce-overhead"

        def run(st, x, y):
            p = Plan(st, x, y, dev, dtype)
            with torch.enable_grad():
                s = cf(x, y, p.W, p.groups, p.taps(False), p.whos)
            return s.clone() if cg else s

        return run

    raise ValueError(kind)


VARIANT_SPEC = {  # name: (stack set, kind, compile kwargs overrides)
    "ref": ("random", "ref", None),
    "eager": ("random", "eager", None),
    "cell_dyn": ("random", "cell", {"dynamic": True}),
    "fwd_dyn": ("random", "fwd", {"dynamic": True}),
    "full_dyn": ("random", "full", {"dynamic": True}),
    "ref_coset": ("coset", "ref", None),
    "cell_static": ("coset", "cell", {"dynamic": False}),
    "fwd_static": ("coset", "fwd", {"dynamic": False}),
    "full_static": ("coset", "full", {"dynamic": False}),
    "full_cg": ("coset", "full", {"dynamic": False, "mode": "reduce-overhead"}),
}
DTYPE = {"float32": torch.float32, "float64": torch.float64}


# ----------------------------------------------------------------------------------------------------
def spearman(a, b):
    try:
        from scipy.stats import spearmanr

        return float(spearmanr(a, b).correlation)
    except Exception:
        ra = np.argsort(np.argsort(a, kind="stable"), kind="stable").astype(float)
        rb = np.argsort(np.argsort(b, kind="stable"), kind="stable").astype(float)
        return float(np.corrcoef(ra, rb)[0, 1])


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def dynamo_counts():
    try:
        from torch._dynamo.utils import counters

        return (
            int(counters["stats"].get("unique_graphs", 0)),
            int(sum(counters["graph_break"].values())),
            dict(counters["graph_break"]),
        )
    except Exception:
        return (0, 0, {})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--M", type=int, default=64, help="networks per stack (random set)")
    ap.add_argument("--coset-d", type=int, default=3, help="coset stacks have 5**d networks (default 125)")
    ap.add_argument("--stacks", type=int, default=3, help="stacks timed after warm-up (per set)")
    ap.add_argument("--warmup", type=int, default=2, help="warm-up / compile stacks (per set, not timed)")
    ap.add_argument("--C", type=int, default=16)
    ap.add_argument("--N", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hw", type=int, default=32, help="image side")
    ap.add_argument("--num-classes", type=int, default=10)
    ap.add_argument("--variants", default=",".join(RANDOM_VARIANTS + COSET_VARIANTS))
    ap.add_argument("--dtype", default="float32", choices=list(DTYPE))
    ap.add_argument("--backend", default="inductor", help="torch.compile backend (aot_eager: CPU tracing check)")
    ap.add_argument("--mode", default=None, help="torch.compile mode for non-CUDA-graph variants")
    ap.add_argument("--conv3", default="plain", choices=["plain", "func"], help="3x3 s1 conv in compiled variants")
    ap.add_argument("--im2col", default="shift", choices=["shift", "unfold"], help="im2col in compiled variants")
    ap.add_argument("--ref-impl", default="auto", choices=["auto", "conv", "matmul"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--duck-shape", action="store_true", help="keep dynamo's duck sizing on")
    ap.add_argument("--recompile-limit", type=int, default=64)
    args = ap.parse_args(argv)

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, args.recompile_limit)
    if hasattr(torch._dynamo.config, "accumulated_recompile_limit"):
        torch._dynamo.config.accumulated_recompile_limit = max(
            torch._dynamo.config.accumulated_recompile_limit, 4 * args.recompile_limit
        )

    if not args.duck_shape:  # dynamic variants: don't equate unrelated sizes that happen to be equal
        try:
            import torch.fx.experimental._config as fx_config

            fx_config.use_duck_shape = False
        except Exception as exc:  # pragma: no cover
            print("could not turn duck shapes off:", exc)
    dev = torch.device(args.device)
    dtype = DTYPE[args.dtype]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v not in VARIANT_SPEC:
            sys.exit(f"unknown variant {v!r}; known: {list(VARIANT_SPEC)}")
    print(
        f"torch {torch.__version__} device {dev} dtype {args.dtype} M {args.M} coset M {5**args.coset_d} "
        f"C {args.C} N {args.N} batch {args.batch} stacks {args.warmup}+{args.stacks} backend {args.backend} "
        f"conv3 {args.conv3} im2col {args.im2col} ref_impl {args.ref_impl}",
        flush=True,
    )
    if dev.type == "cuda":
        print("gpu", torch.cuda.get_device_name(dev), flush=True)

    g = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.batch, 3, args.hw, args.hw, generator=g).to(dev, dtype)
    y = torch.randint(0, args.num_classes, (args.batch,), generator=g).to(dev)

    sets = {}
    need = {VARIANT_SPEC[v][0] for v in variants}
    nst = args.warmup + args.stacks
    t0 = time.perf_counter()
    if "random" in need:
        sets["random"] = random_stacks(args.M, nst, args.seed)
    if "coset" in need:
        check_coset_partition(args.coset_d)
        sets["coset"] = coset_stacks(args.coset_d, nst, offset=args.seed)
    weights = {
        k: [draw_weights(ops, args.seed, args.C, args.N, 3, args.num_classes) for ops in s] for k, s in sets.items()
    }
    print(f"drew weights in {time.perf_counter() - t0:.1f} s", flush=True)

    # reference scores (uncompiled current implementation), per set
    ref_scores = {}
    for k in sets:
        run = make_runner("ref", args, None, None)
        ref_scores[k] = [run(st, x, y).cpu().numpy() for st in weights[k]]

    compile_kw = dict(backend=args.backend)
    if args.mode:
        compile_kw["mode"] = args.mode
    results = {}
    for v in variants:
        sset, kind, kw = VARIANT_SPEC[v]
        print(f"\n== {v} ({sset} set, M={len(sets[sset][0])})", flush=True)
        res = {"set": sset, "M": len(sets[sset][0])}
        try:
            torch._dynamo.reset()
            ckw = dict(compile_kw)
            if kw:
                ckw.update(kw)
            if kind in ("ref",):
                cfg = None
            elif kind == "eager":
                cfg = Cfg("func", "unfold")  # mirrors the module
            else:
                cfg = Cfg(args.conv3, args.im2col)
            run = make_runner(kind, args, cfg, ckw)
            g0, b0, _ = dynamo_counts()
            sts = weights[sset]
            outs = []
            sync(dev)
            t = time.perf_counter()
            for st in sts[: args.warmup]:
                outs.append(run(st, x, y).cpu().numpy())
            sync(dev)
            res["warmup_s"] = round(time.perf_counter() - t, 2)
            g1, b1, _ = dynamo_counts()
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            sync(dev)
            t = time.perf_counter()
            timed = [run(st, x, y) for st in sts[args.warmup :]]
            sync(dev)
            dt = time.perf_counter() - t
            outs += [s.cpu().numpy() for s in timed]
            g2, b2, gb = dynamo_counts()
            n_arch = sum(len(s) for s in sets[sset][args.warmup :])
            res["ms_per_arch"] = round(dt * 1e3 / max(n_arch, 1), 4)
            if dev.type == "cuda":
                res["peak_GiB"] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 2)
            res["graphs_warmup"] = g1 - g0
            res["graphs_timed"] = g2 - g1  # > 0: recompiles during the timed stacks
            res["graph_breaks"] = b2 - b0
            got = np.concatenate(outs)
            want = np.concatenate(ref_scores[sset])
            res["max_rel_diff"] = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-300)))
            res["n_diff"] = int(np.sum(got != want))
            res["spearman"] = round(spearman(got, want), 8)
            if args.dtype == "float64":
                res["exact_f64"] = bool(np.array_equal(got, want))
            if gb and b2 - b0:
                print("graph breaks:", {k: v_ for k, v_ in list(gb.items())[:8]}, flush=True)
        except Exception as exc:  # keep going
            traceback.print_exc(limit=6)
            res["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        results[v] = res
        print(v, json.dumps(res), flush=True)

    summary = {
        "torch": torch.__version__,
        "device": str(dev) + (f" {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else ""),
        "dtype": args.dtype,
        "C": args.C,
        "N": args.N,
        "batch": args.batch,
        "M": args.M,
        "coset_M": 5**args.coset_d,
        "backend": args.backend,
        "conv3": args.conv3,
        "im2col": args.im2col,
        "results": results,
    }
    print("\nSUMMARY " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
