"""Installed plug-ins: the entry points of one group (spaces, algorithms, proxies, strategies), read on
demand by ``gradsign_nas._registry.Registry``."""

from __future__ import annotations

from typing import Any


def installed(group: str) -> dict[str, Any]:
    """``{name: EntryPoint}`` of the entry-point ``group`` (read each call: nothing at import time)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=group)}
