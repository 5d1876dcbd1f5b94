"""Zero-cost proxies behind one registry: ``get(name)(model, inputs, targets) -> float``.

Every proxy takes a freshly initialised network and one minibatch and returns a float where higher
predicts better trained accuracy. ``gradsign`` is the toolkit's reason to exist; the baselines are
here to compare against.
"""

from __future__ import annotations

from gradsign_nas.errors import InputError

from typing import Callable

from ._gradsign import gradsign, gradsign_reference

__all__ = ["available", "get", "gradsign", "gradsign_reference", "register"]

ProxyFn = Callable[..., float]
_REGISTRY: dict[str, ProxyFn] = {"gradsign": gradsign}
_BASELINES_LOADED = False


def _load_baselines() -> None:
    global _BASELINES_LOADED
    if not _BASELINES_LOADED:
        _BASELINES_LOADED = True
        try:
            from . import _baselines
        except ImportError:  # baselines not present in this build
            return
        for name, fn in _baselines.PROXIES.items():
            _REGISTRY.setdefault(name, fn)


def register(name: str, fn: ProxyFn, *, overwrite: bool = False) -> None:
    """Add a proxy ``fn(model, inputs, targets) -> float`` under ``name``."""
    _load_baselines()
    if not overwrite and name in _REGISTRY:
        raise InputError(f"a proxy named {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = fn


def available() -> list[str]:
    _load_baselines()
    return sorted(_REGISTRY)


def get(name: str) -> ProxyFn:
    """The proxy called ``name``."""
    _load_baselines()
    if name not in _REGISTRY:
        raise InputError(f"unknown proxy {name!r}; expected one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]
