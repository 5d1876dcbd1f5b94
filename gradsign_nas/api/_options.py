"""``algorithm_options``: an algorithm's own settings, validated against what the algorithm declares."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ..errors import InputError

__all__ = ["algorithm_options"]


def algorithm_options(text: Optional[str], algos: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{algorithm: typed settings}`` from ``KEY=VALUE,...``: a plain ``KEY`` is set for every algorithm
    of ``algos`` (each must declare it), ``NAME.KEY`` for algorithm ``NAME`` only. Values are typed
    and checked by ``gradsign_nas.algorithms.parse_options``.

    Example:
        >>> algorithm_options("preset=ours", ["bohb"])  # doctest: +SKIP
        {'bohb': {'preset': 'ours'}}
    """
    out: dict[str, dict[str, Any]] = {a: {} for a in algos}
    if text is None or str(text).strip() == "":
        return out
    if not isinstance(text, str):
        raise InputError(f"expected --algorithm-options as KEY=VALUE,..., but got {text!r}")
    raw: dict[str, dict[str, str]] = {a: {} for a in algos}
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            shown = item if len(item) <= 60 else item[:57] + "..."
            raise InputError(f"expected --algorithm-options as KEY=VALUE,..., but got {shown!r}")
        name, dot, short = key.rpartition(".")
        if dot:
            if name not in raw:
                raise InputError(
                    f"expected --algorithm-options NAME.KEY with NAME among {', '.join(algos)}, but got {key!r}"
                )
            raw[name][short] = value.strip()
        else:
            for a in algos:
                raw[a][key] = value.strip()
    from .. import algorithms

    for a in algos:
        if raw[a]:
            out[a] = dict(algorithms.parse_options(a, raw[a]))
    return out
