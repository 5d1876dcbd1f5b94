"""A restricted unpickler for the published NB201 hp12 pickle: it admits builtins containers and
numpy scalars and refuses every other global, so a malicious pickle cannot run code."""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from ..errors import UnsafePickleError

_ALLOWED = {
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
}
_SAFE_BUILTINS = {"list", "dict", "tuple", "set", "frozenset", "int", "float", "str", "bytes", "bool", "complex"}


_NUMERIC_KINDS = "biufc"  # bool, signed and unsigned integers, floats, complex


class _DtypeSpec:
    """What a pickle says about a numpy dtype, kept as plain data. The real dtype is built only from a
    numeric type code and a byte order: a pickle cannot hand over a dtype object whose state it
    rewrote (e.g. an object dtype with its flags cleared, which would make ``np.frombuffer`` read
    file bytes as object pointers)."""

    def __init__(self, code=None, align=False, copy=False) -> None:
        if not isinstance(code, str) or len(code) > 8:
            raise UnsafePickleError(f"pickle asked for a numpy dtype {code!r}; only numeric type codes are admitted.")
        try:
            dt = np.dtype(code)
        except TypeError:
            raise UnsafePickleError(f"pickle asked for an unknown numpy dtype {code!r}.") from None
        if dt.kind not in _NUMERIC_KINDS or dt.hasobject or dt.fields is not None or dt.subdtype is not None:
            raise UnsafePickleError(f"pickle asked for a numpy dtype {code!r}; only plain numeric dtypes are admitted.")
        self.dtype = dt
        self.byteorder = "="

    def __setstate__(self, state) -> None:
        order = state[1] if isinstance(state, tuple) and len(state) > 1 else "="
        self.byteorder = order if order in ("<", ">", "=", "|") else "="


def _numpy_scalar(spec, data=None):
    if not isinstance(spec, _DtypeSpec):
        raise UnsafePickleError("pickle holds a numpy scalar without a numeric dtype.")
    order: Any = spec.byteorder
    dtype = spec.dtype.newbyteorder(order) if order in "<>" else spec.dtype
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise UnsafePickleError("pickle holds a malformed numpy scalar.")
    return np.frombuffer(data, dtype=dtype)[0]


#: the most a pickle may make one builtin call allocate: bytes of ``bytes(n)``, items of ``list(x)``
#: (the published NB201 file calls none; a 40-byte pickle could otherwise ask for ``bytes(2 * 10**9)``)
MAX_CALL_ITEMS = 1_000_000


def _capped(make):
    """``make`` (a builtin type) with its arguments capped at ``MAX_CALL_ITEMS``: an integer size
    (``bytes(n)``) or an argument's length (``list(bytes(...))``); keyword arguments refused."""

    def call(*args, **kwargs):
        if kwargs:
            raise UnsafePickleError(f"pickle called {make.__name__} with keyword arguments; none are admitted.")
        for a in args:
            size = a if isinstance(a, int) and make in (bytes, bytearray) else None
            try:
                size = len(a) if size is None and hasattr(a, "__len__") else size
            except TypeError:
                size = None
            if size is not None and abs(size) > MAX_CALL_ITEMS:
                raise UnsafePickleError(
                    f"pickle asked {make.__name__}() for {size:,} items; at most {MAX_CALL_ITEMS:,} are admitted."
                )
        return make(*args)

    call.__name__ = make.__name__
    return call


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _numpy_scalar if name == "scalar" else _DtypeSpec
        if module == "builtins" and name in _SAFE_BUILTINS:
            import builtins

            return _capped(getattr(builtins, name))
        raise UnsafePickleError(
            f"refusing to unpickle {module}.{name}: only builtins and numpy scalars are allowed in this file."
        )


def restricted_loads(data: bytes):
    """``pickle.loads`` that admits only builtins and numpy scalars."""
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError:
        raise
    except Exception as e:  # malformed pickle: one sentence, no traceback
        raise UnsafePickleError(f"the pickle could not be read ({type(e).__name__}: {e}).") from None
