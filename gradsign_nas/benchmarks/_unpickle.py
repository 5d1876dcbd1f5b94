"""A restricted unpickler for the published NB201 hp12 pickle: it admits builtins containers and
numpy scalars and refuses every other global, so a malicious pickle cannot run code."""

from __future__ import annotations

import io
import pickle

import numpy as np

from ..errors import UnsafePickleError

_ALLOWED = {
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
}
_SAFE_BUILTINS = {"list", "dict", "tuple", "set", "frozenset", "int", "float", "str", "bytes", "bool", "complex"}


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError(f"pickle asked for a numpy scalar of dtype {dtype!r}; only plain numeric dtypes are admitted.")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise UnsafePickleError("pickle holds a malformed numpy scalar.")
    return np.frombuffer(data, dtype=dtype)[0]


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _numpy_scalar if name == "scalar" else np.dtype
        if module == "builtins" and name in _SAFE_BUILTINS:
            import builtins

            return getattr(builtins, name)
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
