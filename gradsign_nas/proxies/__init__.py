"""Zero-cost proxies behind one registry: ``get(name)(model, inputs, targets) -> float``.

Every proxy takes a freshly initialised network and one minibatch and returns a float where higher
predicts better trained accuracy. ``gradsign`` is the toolkit's reason to exist; the baselines are
here to compare against.
"""

from __future__ import annotations

from typing import Callable

from gradsign_nas._registry import Registry
from gradsign_nas.errors import InputError

from ._gradsign import gradsign, gradsign_reference

__all__ = ["ENTRY_POINT_GROUP", "available", "get", "gradsign", "gradsign_reference", "register"]

ProxyFn = Callable[..., float]

#: entry-point group through which installed packages add proxies (``name = "module:function"``)
ENTRY_POINT_GROUP = "gradsign_nas.proxies"


def _load_baselines() -> dict[str, ProxyFn]:
    """The baseline proxies, registered the first time the registry is used (none in a build without them)."""
    try:
        from . import _baselines
    except ImportError:  # baselines not present in this build
        return {}
    return dict(_baselines.PROXIES)


def _check_proxy(name: str, fn: object) -> None:
    if not callable(fn):
        raise InputError(f"expected a callable proxy for {name!r}, but got {fn!r}")


_REGISTRY: Registry[ProxyFn] = Registry(
    "proxy", ENTRY_POINT_GROUP, check=_check_proxy, builtin={"gradsign": gradsign}, preload=_load_baselines
)


def register(name: str, fn: ProxyFn, *, overwrite: bool = False) -> None:
    """Add a proxy ``fn(model, inputs, targets) -> float`` under ``name``."""
    _REGISTRY.register(name, fn, overwrite=overwrite)


def available() -> list[str]:
    """Names ``get`` accepts: built-in, registered, then installed (entry point) proxies."""
    return _REGISTRY.available()


def get(name: str) -> ProxyFn:
    """The proxy called ``name``."""
    return _REGISTRY.get(name)
