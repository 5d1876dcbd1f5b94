"""How networks get scored: the general path (build one network, call the proxy) and batched kernels
that score many networks of one space per pass, found in a ``(space, proxy)`` registry.

The same code runs in this process, in pool workers and in Ray tasks, on a *scorer state*
(``scorer_state``): a dict of the space, the proxy, the batch on its device, the seed, and the batched
kernel with its stack size where one applies. The NB201 GradSign kernel (``gradsign_nb201``)
registers itself at the end of this module; a plugin registers its own with ``register_batched``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Optional, Sequence, Union

from gradsign_nas.errors import InputError
from gradsign_nas.search_spaces.nb201 import NB201Space

from ._devices import exact_float32

__all__ = [
    "STACK",
    "BatchedKernel",
    "batched_scorer",
    "register_batched",
    "score_chunk",
    "score_one",
    "score_stacked",
    "scorer_state",
    "stacked_applies",
]

#: ``(score, seconds, error)`` of one architecture (``error``: why the score is NaN, or ``None``)
Result = tuple[float, float, Optional[str]]
#: hears each pass's networks and their results as they come
OnPass = Callable[[list, list], Any]

#: networks per stacked pass (``gradsign_nb201``) on each kind of device: on a GPU many networks
#: share every kernel launch; on the CPU one at a time is fastest (measured, benchmarks/stacked_speed.py)
STACK = {"cuda": 64, "cpu": 1}


@dataclass(frozen=True)
class BatchedKernel:
    """A proxy computed for many networks of one space in one pass, on the networks' initial weights
    as the space's seeded build draws them (so a build of the caller's own takes it only with a seed
    per network, ``init_seed``).

    ``draw(state, group)`` draws the weights of ``group``'s networks (on a thread, while the device runs
    the pass before); ``run(state, group, weights, impl)`` queues a pass (``impl``: ``"auto"``, or
    ``"compiled"`` for a whole block) and returns what ``finish(pending)`` turns into the scores.
    ``blocks(items, arch_of)``: ``(whole blocks, rest)``, the blocks of networks that share every
    shape, for the compiled pass (``None``: no compiled pass). ``computes()``: the proxy function
    it computes; it applies only while the proxy's name still gives that function. ``load()``:
    imports what it needs, before the clock starts. ``nan_error``: the error kept with a NaN score.
    """

    draw: Callable[[dict, list], Any]
    run: Callable[[dict, list, Any, str], Any]
    finish: Callable[[Any], Sequence[float]]
    blocks: Optional[Callable[[Sequence, Callable], tuple[list[list], list]]] = None
    computes: Optional[Callable[[], Callable]] = None
    load: Optional[Callable[[], Any]] = None
    nan_error: str = "non-finite score"


_BATCHED: dict[tuple[Union[type, str], str], BatchedKernel] = {}


def register_batched(space: Union[type, str], proxy: str, kernel: BatchedKernel, *, overwrite: bool = False) -> None:
    """Score ``proxy`` on spaces of exactly the class ``space`` (or of the name ``space``) with ``kernel``."""
    if not isinstance(space, (type, str)) or not isinstance(proxy, str) or not isinstance(kernel, BatchedKernel):
        raise InputError(
            f"expected a space class or name, a proxy name and a BatchedKernel, but got {space!r}, {proxy!r}"
        )
    if not overwrite and (space, proxy) in _BATCHED:
        raise InputError(f"a batched kernel of {proxy!r} on {space!r} is registered; pass overwrite=True to replace it")
    _BATCHED[(space, proxy)] = kernel


def batched_scorer(space_obj, proxy: str, build=None, init_seed=None) -> Optional[BatchedKernel]:
    """The batched kernel that scores ``proxy`` on ``space_obj``'s networks, or ``None``: registered
    for the space's exact class (else its name), on the space's own seeded build or on a build of the
    caller's own that is that build with a seed per network (``init_seed``)."""
    if build is not None and init_seed is None:
        return None
    kernel = _BATCHED.get((type(space_obj), proxy)) or _BATCHED.get((str(getattr(space_obj, "name", "")), proxy))
    if kernel is not None and kernel.computes is not None:
        from gradsign_nas import proxies

        if proxies.get(proxy) is not kernel.computes():
            return None
    return kernel


def stacked_applies(space_obj, proxy: str, build=None, init_seed=None) -> bool:
    """Whether a batched kernel scores these networks (``batched_scorer``): e.g. the stacked NB201
    GradSign kernel for the built-in ``gradsign`` on the NB201 space's own seeded build, or on a build
    of the caller's own that is that build with a seed per network (``init_seed``, e.g. a live
    evaluator's); any other build takes the general path."""
    return batched_scorer(space_obj, proxy, build, init_seed) is not None


def scorer_state(
    space_obj,
    proxy: str,
    batch: tuple,
    seed: int,
    num_classes: int,
    device,
    build=None,
    init_seed=None,
    compile: bool = False,
) -> dict:
    """What scoring one architecture needs: the space, the proxy, the batch (on the device), the seed
    (or ``init_seed(arch)``) and classes of a build, the device, a build of the caller's own (or
    ``None``), the batched kernel and its stack size (0 where none applies), and whether whole
    blocks (e.g. ``coset_blocks``) take its compiled pass."""
    import torch

    from gradsign_nas import proxies

    dev = torch.device(device)
    kernel = batched_scorer(space_obj, proxy, build, init_seed)
    return {
        "space": space_obj,
        "fn": proxies.get(proxy),
        "x": batch[0].to(dev),
        "y": batch[1].to(dev),
        "seed": int(seed),
        "init_seed": init_seed,
        "num_classes": num_classes,
        "device": dev,
        "build": build,
        "kernel": kernel,
        "stack": STACK.get(dev.type, 1) if kernel is not None else 0,
        "compile": bool(compile) and kernel is not None and kernel.blocks is not None,
    }


def _build(state: dict[str, Any], arch: Hashable):
    import torch

    if state["build"] is not None:
        model = state["build"](arch)
    else:
        torch.manual_seed(state["seed"])
        model = state["space"].build(arch, state["num_classes"])
    return model.to(state["device"])


def score_one(state: dict[str, Any], arch: Hashable) -> Result:
    """Build and score one network (the general path, for any space and proxy)."""
    import torch

    t0 = time.perf_counter()
    model = _build(state, arch)
    error = None
    try:
        score = float(state["fn"](model, state["x"], state["y"]))
    except ValueError as e:  # documented per-architecture failure (e.g. non-finite gradients)
        score, error = float("nan"), str(e)
    if not math.isfinite(score):
        score = float("nan")
    if state["device"].type == "cuda":
        torch.cuda.synchronize(state["device"])
    return score, time.perf_counter() - t0, error


def score_chunk(state: dict[str, Any], archs: Sequence[Hashable], on_pass: Optional[OnPass] = None) -> list[Result]:
    """Scores of ``archs`` as ``(score, seconds, error)``: stacked passes of ``state["stack"]`` networks
    where a batched kernel applies (the next group's weights drawn by a thread while the device works;
    each architecture is charged its group's time over the group's size), else one network at a time.
    ``on_pass(archs, results)`` hears each stacked pass's (or network's) results as they come."""
    with exact_float32():
        if state["stack"]:
            return score_stacked(state, archs, on_pass)
        out = []
        for a in archs:
            out.append(score_one(state, a))
            if on_pass is not None:
                on_pass([a], out[-1:])
        return out


def _itself(a: Any) -> Any:
    return a


def score_stacked(state: dict[str, Any], archs: Sequence[Hashable], on_pass: Optional[OnPass] = None) -> list[Result]:
    """Scores of ``archs`` by the state's batched kernel, ``state["stack"]`` networks per pass (whole
    blocks first, on its compiled pass, where ``state["compile"]``)."""
    from concurrent.futures import ThreadPoolExecutor

    kernel: BatchedKernel = state["kernel"]
    if kernel.load is not None:
        kernel.load()
    g = state["stack"]
    passes: list[tuple[list[Any], str]] = []  # (networks, impl) per stacked pass
    rest: Sequence[Hashable] = archs
    if state["compile"] and kernel.blocks is not None:  # whole blocks: the compiled pass, whose shapes they share
        whole, rest = kernel.blocks(archs, _itself)
        passes += [(b, "compiled") for b in whole]
    passes += [(list(rest[i : i + g]), "auto") for i in range(0, len(rest), g)]

    found: dict[int, Result] = {}
    # the next pass's weights are drawn by a thread while the device works (on a GPU: the generators'
    # streams and the plan, the weights themselves are made there); a pass's scores are read after the
    # next pass is queued, so the GPU does not wait for the CPU between passes
    last = time.perf_counter()
    queued: Optional[tuple[list[Any], Any]] = None

    def settle() -> None:  # read the queued pass's scores; charge each network its share of the wait
        nonlocal last
        assert queued is not None
        group, pending = queued
        scores = kernel.finish(pending)
        now = time.perf_counter()
        for a, s in zip(group, scores):
            found[id(a)] = (s, (now - last) / len(group), None if math.isfinite(s) else kernel.nan_error)
        last = now
        if on_pass is not None:
            on_pass(group, [found[id(a)] for a in group])

    with ThreadPoolExecutor(1) as pool:
        ahead = pool.submit(kernel.draw, state, passes[0][0]) if passes else None
        for i, (group, impl) in enumerate(passes):
            assert ahead is not None  # one draw is always in flight for the pass at hand
            weights = ahead.result()
            ahead = pool.submit(kernel.draw, state, passes[i + 1][0]) if i + 1 < len(passes) else None
            pending = kernel.run(state, group, weights, impl)
            if queued is not None:
                settle()
            queued = (group, pending)
        if queued is not None:
            settle()
    return [found[id(a)] for a in archs]


# -- the stacked NB201 GradSign kernel -------------------------------------------------------------------
def _nb201():
    from gradsign_nas.proxies import _gradsign_nb201

    return _gradsign_nb201


def _nb201_draw(state: dict[str, Any], group: list) -> Any:
    space, init_seed = state["space"], state["init_seed"]
    if init_seed is None:  # the space's own build: one seed, the space's input channels
        seed, channels = state["seed"], space.in_channels
    else:  # the caller's build: a seed per network, the batch's channels
        seed, channels = [int(init_seed(a)) for a in group], int(state["x"].shape[1])
    gpu = state["device"] if state["device"].type == "cuda" else None  # made there, from the streams
    ops = [a.ops for a in group]
    return _nb201().draw_weights(ops, seed, space.C, space.N, channels, state["num_classes"], gpu)


def _nb201_run(state: dict[str, Any], group: list, weights: Any, impl: str) -> Any:
    space = state["space"]
    return _nb201().gradsign_nb201(
        [a.ops for a in group],
        state["x"],
        state["y"],
        seed=state["seed"],
        C=space.C,
        N=space.N,
        num_classes=state["num_classes"],
        device=state["device"],
        weights=weights,
        impl=impl,
    )


def _nb201_finish(pending: Any) -> list[float]:
    return _nb201().finish(pending)


def _nb201_blocks(items: Sequence, arch_of: Callable) -> tuple[list[list], list]:
    """Whole cosets of the space (``coset_blocks``, 125 networks each) and the rest."""
    return _nb201().coset_blocks(items, ops=lambda item: arch_of(item).ops)


def _builtin_gradsign() -> Callable:
    from gradsign_nas import proxies

    return proxies.gradsign


register_batched(
    NB201Space,
    "gradsign",
    BatchedKernel(
        draw=_nb201_draw,
        run=_nb201_run,
        finish=_nb201_finish,
        blocks=_nb201_blocks,
        computes=_builtin_gradsign,
        load=_nb201,
        nan_error="non-finite gradients",
    ),
)
