"""Zero-cost proxies behind one registry: ``get(name)(model, inputs, targets) -> float``.

Every proxy takes a freshly initialised network and one minibatch and returns a float where higher
predicts better trained accuracy. ``gradsign`` is the toolkit's reason to exist; the baselines are
here to compare against.
"""

from __future__ import annotations

from typing import Callable

from gradsign_nas.errors import InputError

from ._gradsign import gradsign, gradsign_reference

__all__ = ["ENTRY_POINT_GROUP", "available", "get", "gradsign", "gradsign_reference", "register"]

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


#: entry-point group through which installed packages add proxies (``name = "module:function"``)
ENTRY_POINT_GROUP = "gradsign_nas.proxies"


def _entry_points() -> dict:
    from gradsign_nas._plugins import installed

    return installed(ENTRY_POINT_GROUP)


def register(name: str, fn: ProxyFn, *, overwrite: bool = False) -> None:
    """Add a proxy ``fn(model, inputs, targets) -> float`` under ``name``."""
    _load_baselines()
    if not isinstance(name, str) or not name or "," in name or "+" in name or "{" in name:
        raise InputError(f"a proxy name must be a non-empty string without ',', '+' or braces, but got {name!r}")
    if not callable(fn):
        raise InputError(f"expected a callable proxy for {name!r}, but got {fn!r}")
    if not overwrite and name in _REGISTRY:
        raise InputError(f"a proxy named {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = fn


def available() -> list[str]:
    """Names ``get`` accepts: built-in, registered and installed (entry point) proxies."""
    _load_baselines()
    return sorted(set(_REGISTRY) | set(_entry_points()))


def get(name: str) -> ProxyFn:
    """The proxy called ``name``."""
    _load_baselines()
    if name not in _REGISTRY:
        eps = _entry_points() if isinstance(name, str) else {}
        if name not in eps:
            raise InputError(f"unknown proxy {name!r}; expected one of {', '.join(available())}")
        register(name, eps[name].load())
    return _REGISTRY[name]
