"""Search spaces: what an architecture is, how to sample/mutate/encode it, and how to build it.

``get(name)`` returns a registered space (built-ins: ``nb201``, ``nb101``, ``darts``, ``nats_size``;
others come from ``register`` or the entry-point group ``gradsign_nas.search_spaces``). ``get`` also
accepts a ``SearchSpace`` object and returns it unchanged, so every API that takes a space name takes
a user's own space object too.
"""

from __future__ import annotations

from typing import Any, Callable, Union

from gradsign_nas._registry import Registry
from gradsign_nas.errors import InputError

from .base import Decision, SearchSpace

__all__ = ["Decision", "ENTRY_POINT_GROUP", "SearchSpace", "available", "get", "register"]

#: entry-point group through which installed packages add spaces (``name = "module:Class"``)
ENTRY_POINT_GROUP = "gradsign_nas.search_spaces"


def _check_factory(name: str, factory: Any) -> None:
    if not callable(factory):
        raise InputError(f"expected a SearchSpace class or a function returning one for {name!r}, but got {factory!r}")


_REGISTRY: Registry[Callable[..., SearchSpace]] = Registry(
    "search space",
    ENTRY_POINT_GROUP,
    check=_check_factory,
    builtin={  # imported on first use
        "nb201": "gradsign_nas.search_spaces.nb201:NB201Space",
        "nb101": "gradsign_nas.search_spaces.nb101:NB101Space",
        "darts": "gradsign_nas.search_spaces.darts:DartsSpace",
        "nats_size": "gradsign_nas.search_spaces.nats_size:NATSSizeSpace",
    },
)


def register(name: str, factory: Callable[..., SearchSpace], *, overwrite: bool = False) -> None:
    """Register a space factory (a class or a function returning a ``SearchSpace``) under ``name``."""
    _REGISTRY.register(name, factory, overwrite=overwrite)


def available() -> list[str]:
    """Names of all spaces ``get`` can return: built-in, registered, then installed plug-ins."""
    return _REGISTRY.available()


def get(space: Union[str, SearchSpace], **kwargs) -> SearchSpace:
    """The search space called ``space`` (or ``space`` itself if it already is one)."""
    if isinstance(space, SearchSpace):
        if kwargs:
            raise InputError("options can only be given with a space name, not with a space object")
        return space
    obj = _REGISTRY.get(space)(**kwargs)
    if not isinstance(obj, SearchSpace):
        raise InputError(f"search space {space!r} did not produce a SearchSpace but a {type(obj).__name__}")
    return obj
