"""Live evaluation: build an architecture's network and really train it; epochs are the fidelity.

``LiveTrainingEvaluator(space, data)`` trains ``space.build(arch, num_classes, **build_options)``
with SGD (Nesterov momentum 0.9, weight decay 5e-4, NAS-Bench-201's recipe) and a per-epoch cosine
learning rate over ``schedule_epochs`` (default: the highest fidelity), on

- ``"digits"`` (default): scikit-learn's bundled 8x8 digits, no download;
- ``"cifar10"``: the CIFAR-10 npz in the data directory (a seeded stratified part held out for
  validation);
- a folder of images ``root/<class>/*.png|jpg`` (read with Pillow) or an ``.npz`` file with ``x``, ``y``;
- ``(x, y)`` tensors or arrays (split here) or ``(x_train, y_train, x_valid, y_valid)``

(``load_data``, in ``gradsign_nas.benchmarks.live_data`` and importable from here as well).

The reward (``Result.metric``) is the validation accuracy in percent after ``fidelity`` epochs;
``cost_s`` is the measured training + validation time. Training at ``f`` epochs equals the first
``f`` epochs of the full schedule, so a run can stop after any epoch and resume later from its
checkpoint (model, optimizer, epoch) and reach exactly what an uninterrupted run reaches: on CPU the
weights' initialisation and every epoch's shuffle derive from ``(seed, arch, epoch)`` alone.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Hashable, Mapping, Optional, Sequence, Union

import numpy as np

from gradsign_nas.algorithms.base import Result

from ..errors import InputError
from .evaluator import Evaluator
from .live_data import (  # noqa: F401 - re-exported: the data loading was split out of this module
    IMAGE_SUFFIXES,
    _as_nchw_float,
    _limit,
    _read_image_folder,
    _split_arrays,
    _standardise,
    hold_out,
    load_data,
)


# ------------------------------------------------------------------------------------------------
# the evaluator
# ------------------------------------------------------------------------------------------------
def stable_seed(*parts: Any) -> int:
    """A 31-bit seed from the text of ``parts`` (stable across processes, unlike ``hash``)."""
    return zlib.crc32("\x1f".join(str(p) for p in parts).encode()) & 0x7FFFFFFF


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` if a GPU is visible, else ``"cpu"``; other values pass through."""
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise InputError(f"expected device 'auto', 'cpu' or 'cuda[:i]', but got {device!r}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InputError(f"expected a CUDA GPU for device {device!r}, but torch sees none on this machine")
    return device


#: what a live trial can report as its result, and whether higher (max) or lower (min) is better
METRICS = {"valid_acc": "max", "valid_loss": "min"}

_COPIES: list = []  # [torch.utils.weak.WeakIdKeyDictionary], made on first use (torch is imported lazily)


def _device_copies():
    """This process's device copies of the splits' tensors: ``{x_train: {(device, repeat): tensors}}``,
    an entry living as long as its split's training images."""
    if not _COPIES:
        from torch.utils.weak import WeakIdKeyDictionary

        _COPIES.append(WeakIdKeyDictionary())
    return _COPIES[0]


class LiveTrainingEvaluator(Evaluator):
    """Trains each architecture for real; ``fidelity`` is the number of epochs.

    Args:
        space: the search space (``space.build`` makes the network).
        data: ``"digits"``, ``"cifar10"``, a path, or tensors (see the module docstring).
        fidelities: the epoch counts offered, lowest first; ``None`` in ``evaluate`` is the highest.
        schedule_epochs: length of the cosine schedule (default ``max(fidelities)``).
        batch_size, lr, momentum, weight_decay: SGD settings (Nesterov).
        optimizer: ``"sgd"`` (default) or ``"adam"`` (lr default 1e-3, cosine as well).
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda[:i]"``.
        seed: seeds the split, every network's initialisation and every epoch's shuffle.
        build_options: extra keyword arguments for ``space.build`` (e.g. ``{"C": 8, "N": 1}``).
        checkpoint_dir: if given, ``evaluate`` keeps each architecture's latest checkpoint there and
            continues from it when the same architecture comes back at a higher fidelity (what
            Hyperband's promotions need).
        data_dir, valid_fraction, image_size, limit: passed to ``load_data``.
        metric: the result a trial reports as ``Result.metric``: ``"valid_acc"`` (default, maximised)
            or ``"valid_loss"`` (minimised; ``METRICS`` gives each one's mode).

    Example:
        >>> from gradsign_nas.search_spaces.nb201 import NB201Space
        >>> ev = LiveTrainingEvaluator(NB201Space(C=4, N=1), "digits", fidelities=(1,), limit=200)
        >>> r = ev.evaluate(ev.space.from_index(6111), 1)
        >>> 0.0 <= r.metric <= 100.0
        True
    """

    def __init__(
        self,
        space,
        data: Any = "digits",
        *,
        fidelities: Sequence[int] = (1, 2, 4),
        schedule_epochs: Optional[int] = None,
        batch_size: int = 64,
        optimizer: str = "sgd",
        lr: Optional[float] = None,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        device: str = "auto",
        seed: int = 0,
        build_options: Optional[Mapping[str, Any]] = None,
        checkpoint_dir: Union[str, os.PathLike, None] = None,
        data_dir=None,
        valid_fraction: float = 0.2,
        image_size: Optional[int] = None,
        limit: Optional[int] = None,
        metric: str = "valid_acc",
        test_fraction: float = 0.0,
    ) -> None:
        from gradsign_nas.search_spaces import get as get_space

        if metric not in METRICS:
            raise InputError(f"expected metric {' or '.join(METRICS)}, but got {metric!r}")
        self.metric = metric

        self.space = get_space(space)
        fids = tuple(int(f) for f in fidelities)
        if not fids or any(f < 1 for f in fids) or list(fids) != sorted(set(fids)):
            raise InputError(f"fidelities must be increasing positive epoch counts, but got {tuple(fidelities)!r}")
        self.fidelities = fids
        self.schedule_epochs = int(schedule_epochs or fids[-1])
        if self.schedule_epochs < fids[-1]:
            raise InputError(
                f"schedule_epochs must be at least the highest fidelity {fids[-1]}, but got {schedule_epochs}"
            )
        if optimizer not in ("sgd", "adam"):
            raise InputError(f"optimizer must be 'sgd' or 'adam', but got {optimizer!r}")
        if int(batch_size) < 1:
            raise InputError(f"batch_size must be positive, but got {batch_size}")
        self.optimizer = optimizer
        self.lr = float(lr if lr is not None else (0.1 if optimizer == "sgd" else 1e-3))
        if not math.isfinite(self.lr) or self.lr <= 0:
            raise InputError(f"expected a positive, finite learning rate, but got {lr!r}")
        self.momentum, self.weight_decay, self.batch_size = float(momentum), float(weight_decay), int(batch_size)
        self.device = resolve_device(device)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise InputError(f"seed must be a non-negative integer, but got {seed!r}")
        self.seed = int(seed)
        self.build_options = dict(build_options or {})
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.data = load_data(
            data, valid_fraction=valid_fraction, seed=self.seed, data_dir=data_dir, image_size=image_size, limit=limit
        )
        self.test_data: Optional[tuple] = None  # (x, y) held out of the training split: final evaluations only
        if test_fraction:
            self.data, self.test_data = hold_out(self.data, test_fraction, stable_seed(self.seed, "test"))
        self.dataset = data if isinstance(data, str) else "custom"
        self.num_classes = int(max(int(self.data.y_train.max()), int(self.data.y_valid.max()))) + 1
        self.in_channels = int(self.data.x_train.shape[1])
        self._repeat_channels = 1  # set by build() if the space cannot take in_channels
        self._build_opts: Optional[dict] = None
        self._on_device: Optional[tuple] = None

    def for_final(self, epochs: int, seed: int) -> "LiveTrainingEvaluator":
        """The evaluator of a final evaluation: it trains from scratch on the training and validation
        images together for ``epochs`` epochs (a cosine schedule of that length), initialised from its
        own ``seed``, and validates on the held-out test split, so its "valid" metrics are test metrics."""
        import copy

        import torch

        if self.test_data is None:
            raise InputError(
                "expected a held-out test split (test_fraction > 0) for a final evaluation, but this evaluator has none"
            )
        d = self.data
        new = copy.copy(self)
        x_test, y_test = self.test_data
        new.data = type(d)(torch.cat([d.x_train, d.x_valid]), torch.cat([d.y_train, d.y_valid]), x_test, y_test)
        new.test_data = None
        new.fidelities = (int(epochs),)
        new.schedule_epochs = int(epochs)
        new.seed = int(seed)
        new.checkpoint_dir = None
        new._on_device = None
        new.metric = "valid_acc"
        return new

    # -- networks ---------------------------------------------------------------------------------
    def build(self, arch: Hashable):
        """The untrained network for ``arch``, initialised from ``(seed, arch)`` (global RNG untouched)."""
        import torch

        with torch.random.fork_rng(devices=[]):
            if self._build_opts is None:
                self._build_opts = self._resolve_build_options(arch)
            torch.manual_seed(self.init_seed(arch))
            return self.space.build(arch, self.num_classes, **self._build_opts)

    def init_seed(self, arch: Hashable) -> int:
        """The seed ``build`` initialises ``arch``'s network from (the same for every trial of it)."""
        return stable_seed(self.seed, "init", str(arch))

    def _resolve_build_options(self, arch) -> dict:
        """The keyword options for ``space.build``: ``build_options``, plus ``in_channels`` when the
        data do not have 3 channels and the space's networks take it; a space whose ``build`` does not
        take it sees grey images as three equal channels."""
        opts = dict(self.build_options)
        if self.in_channels == 3 or "in_channels" in opts:
            return opts
        try:
            self.space.build(arch, self.num_classes, in_channels=self.in_channels, **opts)
            return dict(opts, in_channels=self.in_channels)
        except (ValueError, TypeError) as e:
            if "in_channels" not in str(e) and "build option" not in str(e):
                raise
        if self.in_channels == 1:
            self._repeat_channels = 3
            return opts
        raise InputError(
            f"expected a space whose build() accepts in_channels for {self.in_channels}-channel data, "
            f"but the {self.space.name} space's does not"
        )

    def model_spec(self) -> dict:
        """How to rebuild this evaluator's networks: ``{"space", "space_options", "num_classes",
        "build_options"}`` (``space.build(arch, num_classes, **build_options)`` on
        ``search_spaces.get(space, **space_options)``), recorded with every live run."""
        if self._build_opts is None:
            import torch

            with torch.random.fork_rng(devices=[]):
                self._build_opts = self._resolve_build_options(self.space.sample(np.random.default_rng(0)))
        spec = {
            "space": self.space.name,
            "space_options": self.space.options(),
            "num_classes": self.num_classes,
            "build_options": dict(self._build_opts),
        }
        if self._repeat_channels != 1:
            spec["input_channels_repeated"] = self._repeat_channels
        return spec

    def _tensors(self):
        if self._on_device is None:
            d = self.data
            r = self._repeat_channels
            # one copy on a device per split in this process: evaluators that share their images
            # (load_data's shared splits, or those sent to a Ray actor together) share the copy
            copies = _device_copies().setdefault(d.x_train, {})
            if (self.device, r) not in copies:
                xt, xv = (
                    (d.x_train, d.x_valid) if r == 1 else (d.x_train.repeat(1, r, 1, 1), d.x_valid.repeat(1, r, 1, 1))
                )
                copies[self.device, r] = tuple(t.to(self.device) for t in (xt, d.y_train, xv, d.y_valid))
            self._on_device = copies[self.device, r]
        return self._on_device

    def lr_at(self, epoch: int) -> float:
        """Learning rate of epoch ``epoch`` (0-based): cosine from ``lr`` to 0 over ``schedule_epochs``."""
        return 0.5 * self.lr * (1.0 + math.cos(math.pi * epoch / self.schedule_epochs))

    def _optimizer(self, model):
        import torch

        if self.optimizer == "adam":
            return torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(
            model.parameters(),
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            nesterov=self.momentum > 0,
        )

    # -- training -----------------------------------------------------------------------------------
    def train(
        self,
        arch: Hashable,
        epochs: int,
        state: Optional[Mapping[str, Any]] = None,
        on_epoch: Optional[Callable[[dict, Callable[[], dict]], Any]] = None,
    ) -> Result:
        """Train ``arch`` up to ``epochs`` epochs, from ``state`` (a checkpoint) if given.

        ``on_epoch(metrics, state_fn)`` is called after every epoch with that epoch's metrics and a
        function returning the checkpoint (model, optimizer, epoch, curve, seconds); Ray Tune's
        trainable reports both from there. Returns the ``Result`` after the last epoch.
        """
        import torch
        import torch.nn.functional as F

        epochs = int(epochs)
        if not 1 <= epochs <= self.schedule_epochs:
            raise InputError(f"epochs must be in 1..{self.schedule_epochs}, but got {epochs}")
        model = self.build(arch).to(self.device)
        opt = self._optimizer(model)
        start, curve, seconds = 0, [], 0.0
        if state is not None:
            if state.get("arch") != str(arch):
                raise InputError(f"expected a checkpoint of {arch}, but got one of {state.get('arch')}")
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            start, curve, seconds = int(state["epoch"]), list(state["curve"]), float(state["seconds"])
        resumed_from = start
        xt, yt, xv, yv = self._tensors()
        n = len(yt)
        metrics: dict[str, Any] = {}

        def snapshot() -> dict:
            return {
                "arch": str(arch),
                "epoch": epoch + 1,
                "curve": list(curve),
                "seconds": seconds,
                "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                "optimizer": opt.state_dict(),
            }

        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            for group in opt.param_groups:
                group["lr"] = self.lr_at(epoch)
            gen = torch.Generator().manual_seed(stable_seed(self.seed, "shuffle", epoch))
            order = torch.randperm(n, generator=gen).to(self.device)
            model.train()
            # summed on the device, read once per epoch: a GPU waits for no read-back per step (float64
            # sums of float64(loss) x batch, the same numbers as summing Python floats)
            loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
            correct_t = torch.zeros((), dtype=torch.int64, device=self.device)
            for i in range(0, n, self.batch_size):
                idx = order[i : i + self.batch_size]
                if len(idx) < 2 and n > 1:  # BatchNorm needs two samples
                    continue
                out = model(xt[idx])
                loss = F.cross_entropy(out, yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_sum += loss.detach().double() * len(idx)
                correct_t += (out.argmax(1) == yt[idx]).sum()
            train_loss, correct = float(loss_sum), int(correct_t)
            valid_loss, valid_acc = self._validate(model, xv, yv)
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds += time.perf_counter() - t0
            curve.append(valid_acc)
            metrics = {
                "epoch": epoch + 1,
                "valid_acc": valid_acc,
                "valid_loss": valid_loss,
                "train_loss": train_loss / n,
                "train_acc": 100.0 * correct / n,
                "train_seconds": seconds,
            }
            if on_epoch is not None:
                on_epoch(dict(metrics), snapshot)
        if not metrics:  # the checkpoint already held every epoch asked for
            valid_loss, valid_acc = self._validate(model, xv, yv)
            metrics = {"epoch": start, "valid_acc": valid_acc, "valid_loss": valid_loss, "train_seconds": seconds}
        self.last_model, self._last_opt = model, opt
        params = sum(p.numel() for p in model.parameters())
        extra = dict(
            metrics,
            curve=list(curve),
            params=int(params),
            device=self.device,
            resumed_from=resumed_from,
            dataset=self.dataset,
        )
        return Result(metric=float(metrics[self.metric]), cost_s=float(seconds), extra=extra)

    def _validate(self, model, x, y) -> tuple[float, float]:
        import torch
        import torch.nn.functional as F

        model.eval()
        loss_sum, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(y), 1024):
                out = model(x[i : i + 1024])
                loss_sum += float(F.cross_entropy(out, y[i : i + 1024], reduction="sum"))
                correct += int((out.argmax(1) == y[i : i + 1024]).sum())
        return loss_sum / len(y), 100.0 * correct / len(y)

    # -- the Evaluator interface ----------------------------------------------------------------------
    def evaluate(self, arch: Hashable, fidelity: Any = None) -> Result:
        """Validation accuracy (%) after ``fidelity`` epochs (default: the highest fidelity)."""
        epochs = self.fidelities[-1] if fidelity is None else int(fidelity)
        state = self._load_checkpoint(arch, epochs) if self.checkpoint_dir is not None else None
        result = self.train(arch, epochs, state=state)
        if self.checkpoint_dir is not None and int(result.extra["epoch"]) > (state or {}).get("epoch", 0):
            self.save_checkpoint(arch, self._last_state(arch, result))
        return result

    def _last_state(self, arch, result: Result) -> dict:
        model = self.last_model
        opt = getattr(self, "_last_opt", None)
        return {
            "arch": str(arch),
            "epoch": int(result.extra["epoch"]),
            "curve": list(result.extra["curve"]),
            "seconds": float(result.cost_s),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict() if opt is not None else None,
        }

    def _checkpoint_path(self, arch) -> Path:
        key = hashlib.sha1(str(arch).encode()).hexdigest()[:16]
        assert self.checkpoint_dir is not None  # callers check it first
        return self.checkpoint_dir / f"{key}.pt"

    def _load_checkpoint(self, arch, epochs: int) -> Optional[dict]:
        import torch

        path = self._checkpoint_path(arch)
        if not path.is_file():
            return None
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("arch") != str(arch) or state.get("optimizer") is None or int(state["epoch"]) > epochs:
            return None
        return state

    def save_checkpoint(self, arch, state: Mapping[str, Any]) -> Path:
        """Write ``state`` as ``arch``'s checkpoint in ``checkpoint_dir`` (atomically)."""
        import torch

        from gradsign_nas._io import atomic_path

        assert self.checkpoint_dir is not None  # only with a checkpoint_dir
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        path = self._checkpoint_path(arch)
        with atomic_path(path) as tmp:
            torch.save(dict(state), tmp)
        return path
