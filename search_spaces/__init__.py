"""Search spaces: what an architecture is, how to sample/mutate/encode it, and how to build it.

``get(name)`` returns a registered space (built-ins: ``nb201``, ``nb101``, ``darts``, ``nats_size``;
others come from ``register`` or the entry-point group ``gradsign_nas.search_spaces``). ``get`` also
accepts a ``SearchSpace`` object and returns it unchanged, so every API that takes a space name takes
a user's own space object too.
"""

from __future__ import annotations

from importlib import import_module
from typing import Callable, Union

from gradsign_nas.errors import InputError

from .base import Decision, SearchSpace

__all__ = ["Decision", "SearchSpace", "available", "get", "register"]

_BUILTIN = {
    "nb201": ("gradsign_nas.search_spaces.nb201", "NB201Space"),
    "nb101": ("gradsign_nas.search_spaces.nb101", "NB101Space"),
    "darts": ("gradsign_nas.search_spaces.darts", "DartsSpace"),
    "nats_size": ("gradsign_nas.search_spaces.nats_size", "NATSSizeSpace"),
}
_REGISTRY: dict[str, Callable[[], SearchSpace]] = {}
ENTRY_POINT_GROUP = "gradsign_nas.search_spaces"


def register(name: str, factory: Callable[[], SearchSpace], *, overwrite: bool = False) -> None:
    """Register a space factory (a class or a function returning a ``SearchSpace``) under ``name``."""
    if not isinstance(name, str) or not name:
        raise InputError(f"a search-space name must be a non-empty string, but got {name!r}")
    if not overwrite and (name in _REGISTRY or name in _BUILTIN):
        raise InputError(f"a search space named {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = factory


def _entry_points() -> dict:
    from gradsign_nas._plugins import installed

    return installed(ENTRY_POINT_GROUP)


def available() -> list[str]:
    """Names of all spaces ``get`` can return."""
    return sorted(set(_BUILTIN) | set(_REGISTRY) | set(_entry_points()))


def get(space: Union[str, SearchSpace], **kwargs) -> SearchSpace:
    """The search space called ``space`` (or ``space`` itself if it already is one)."""
    if isinstance(space, SearchSpace):
        if kwargs:
            raise InputError("options can only be given with a space name, not with a space object")
        return space
    if space in _REGISTRY:
        obj = _REGISTRY[space](**kwargs)
    elif space in _BUILTIN:
        module, attr = _BUILTIN[space]
        obj = getattr(import_module(module), attr)(**kwargs)
    else:
        eps = _entry_points()
        if space not in eps:
            raise InputError(f"unknown search space {space!r}; expected one of {', '.join(available())}")
        obj = eps[space].load()(**kwargs)
    if not isinstance(obj, SearchSpace):
        raise InputError(f"search space {space!r} did not produce a SearchSpace but a {type(obj).__name__}")
    return obj
