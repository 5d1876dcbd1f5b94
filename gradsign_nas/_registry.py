"""One registry type for everything a user can add by name: algorithms, search spaces, proxies and
assistance strategies.

Every registry follows the same rules:

- a name is letters, digits, ``_``, ``-`` or ``.``, starting with a letter or a digit (so it fits in
  a comma-separated list, an ensemble ``a+b``, a ``KEY=VALUE`` option and a file name);
- ``register(name, obj)`` refuses a taken name (``overwrite=True`` replaces it) and an object of
  the wrong kind, with one ``InputError`` sentence;
- ``available()`` lists the built-in and registered names in the order they were added, then the
  installed plug-ins not loaded yet (entry-point group ``group``), sorted;
- ``get(name)`` loads a built-in named by ``"module:attribute"`` or an installed plug-in on first
  use, and for an unknown name raises one sentence listing what is available.

Example:
    >>> from gradsign_nas._registry import Registry
    >>> colours = Registry("colour", "example.colours", check=lambda name, obj: None)
    >>> colours.register("red", (255, 0, 0))
    >>> colours.get("red"), colours.available()
    ((255, 0, 0), ['red'])
"""

from __future__ import annotations

import re
from importlib import import_module
from typing import Any, Callable, Generic, Iterable, Mapping, Optional, TypeVar

from .errors import InputError

__all__ = ["NAME_RULE", "Registry", "check_name"]

T = TypeVar("T")

#: what a registered name may be: letters, digits, ``_``, ``-``, ``.``; a letter or digit first
NAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_name(kind: str, name: Any, reserved: Iterable[str] = ()) -> str:
    """``name`` if it follows ``NAME_RULE`` and is not ``reserved``, else one ``InputError`` sentence."""
    if not isinstance(name, str) or NAME_RULE.fullmatch(name) is None:
        raise InputError(
            f"a {kind} name must be letters, digits, '_', '-' or '.' starting with a letter or digit, but got {name!r}"
        )
    reserved = tuple(reserved)
    if name in reserved:
        raise InputError(f"a {kind} name must not be {' or '.join(map(repr, reserved))}, but got {name!r}")
    return name


class _Ref:
    """A built-in entry named by ``"module:attribute"``, imported on first use."""

    __slots__ = ("ref",)

    def __init__(self, ref: str) -> None:
        self.ref = ref

    def load(self) -> Any:
        module, _, attr = self.ref.partition(":")
        return getattr(import_module(module), attr)


class Registry(Generic[T]):
    """Named objects of one kind, with installed plug-ins from one entry-point group.

    Args:
        kind: what an entry is, in messages ("algorithm", "search space", "proxy", "strategy").
        group: the entry-point group through which installed packages add entries.
        check: ``check(name, obj)`` raises an ``InputError`` sentence unless ``obj`` is an entry of
            this kind (run on every ``register`` and on each built-in or plug-in when it loads).
        builtin: entries registered at construction, in order; a string value ``"module:attribute"``
            is imported on first ``get``.
        preload: returns more entries, added (without replacing any) the first time the registry
            is used: entries whose module may be missing from a build.
        reserved: names no entry may take.
    """

    def __init__(
        self,
        kind: str,
        group: str,
        *,
        check: Callable[[str, Any], None],
        builtin: Optional[Mapping[str, Any]] = None,
        preload: Optional[Callable[[], Mapping[str, Any]]] = None,
        reserved: Iterable[str] = (),
    ) -> None:
        self.kind, self.group = kind, group
        self.reserved = tuple(reserved)
        self._check = check
        self._entries: dict[str, Any] = {}
        for name, obj in (builtin or {}).items():
            self._entries[check_name(kind, name, self.reserved)] = _Ref(obj) if isinstance(obj, str) else obj
        self._preload = preload

    def _ready(self) -> None:
        if self._preload is not None:
            preload, self._preload = self._preload, None
            for name, obj in preload().items():
                if name not in self._entries:
                    self._check(name, obj)
                    self._entries[check_name(self.kind, name, self.reserved)] = obj

    def _installed(self) -> dict[str, Any]:
        from ._plugins import installed

        return installed(self.group)

    def register(self, name: str, obj: T, *, overwrite: bool = False) -> None:
        """Add ``obj`` under ``name``; a taken name is refused unless ``overwrite=True``."""
        self._ready()
        check_name(self.kind, name, self.reserved)
        self._check(name, obj)
        if not overwrite and name in self._entries:
            raise InputError(f"a {self.kind} named {name!r} is already registered; pass overwrite=True to replace it")
        self._entries[name] = obj

    def pop(self, name: str, default: Any = None) -> Any:
        """Remove ``name`` (built-in, registered or loaded plug-in) and return its entry, or ``default``."""
        self._ready()
        obj = self._entries.pop(name, default)
        return obj.load() if isinstance(obj, _Ref) else obj

    def available(self) -> list[str]:
        """Built-in and registered names in the order they were added, then installed plug-ins not
        loaded yet (with a valid name), sorted."""
        self._ready()
        plugins = [n for n in self._installed() if n not in self._entries and NAME_RULE.fullmatch(n)]
        return list(self._entries) + sorted(n for n in plugins if n not in self.reserved)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.available()

    def get(self, name: str) -> T:
        """The entry called ``name`` (a built-in or an installed plug-in loads here, once)."""
        self._ready()
        obj = self._entries.get(name) if isinstance(name, str) else None
        if obj is None:
            plugins = self._installed() if isinstance(name, str) else {}
            if name not in plugins:
                raise InputError(f"unknown {self.kind} {name!r}; expected one of {', '.join(self.available())}")
            self.register(name, plugins[name].load())
            return self._entries[name]
        if isinstance(obj, _Ref):
            obj = obj.load()
            self._check(name, obj)
            self._entries[name] = obj
        return obj

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.group!r}, {len(self._entries)} entries)"
