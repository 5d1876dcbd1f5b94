"""Writing files so that a reader sees the old file or the new one, never a part; JSON clean-up.

Every file the toolkit writes goes through ``atomic_path`` (or the ``write_*_atomic`` helpers on top
of it): the data go to a temporary file beside the target, are flushed to disk, get the permissions
a plain ``open`` would give (``0666 & ~umask``), and replace the target in one ``os.replace``. An
interrupted write leaves only a temporary file named ``.<name>.<random>.tmp<suffix>``;
``remove_stale_temps`` clears those.

``jsonable`` turns numpy scalars and arrays, tuples and paths into plain JSON values: the one
clean-up every record, summary and run file goes through.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Union

PathLike = Union[str, os.PathLike]

__all__ = [
    "atomic_path",
    "dumps",
    "jsonable",
    "kind_of",
    "lock_directory",
    "move_aside",
    "nesting_depth",
    "read_json_object",
    "read_regular_file",
    "remove_stale_temps",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

_TMP_MARK = ".tmp"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: PathLike, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on a normal exit it replaces ``path``.

    ``suffix`` ends the temporary name (e.g. ``".npz"`` or ``".png"`` for writers that pick a format
    from the name). On an exception the temporary file is removed and ``path`` is left as it was.

    Example:
        >>> with atomic_path(out / "table.npz", suffix=".npz") as tmp:   # doctest: +SKIP
        ...     np.savez(tmp, scores=scores)
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP_MARK + suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # what the writer wrote is on disk before it becomes visible
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: PathLike, obj: Any) -> None:
    """``obj`` as indented JSON at ``path``, written atomically."""
    write_text_atomic(path, json.dumps(jsonable(obj), indent=2) + "\n")


def remove_stale_temps(directory: PathLike) -> int:
    """Remove what interrupted atomic writes left in ``directory``; returns how many were removed."""
    n = 0
    d = Path(directory)
    if not d.is_dir():
        return 0
    for p in d.iterdir():
        if p.name.startswith(".") and _TMP_MARK in p.name and p.is_file():
            try:
                p.unlink()
                n += 1
            except OSError:
                pass
    return n


LOCK_FILE = ".lock"


def lock_directory(directory: Path):
    """Hold an exclusive lock on ``directory`` (one writer per run directory) until the returned file
    is closed. The operating system releases it when the holder exits, however it ends, so a killed
    run never blocks the next one."""
    import fcntl

    from .errors import InputError

    f = open(directory / LOCK_FILE, "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise InputError(
            f"expected no other process to be writing to {directory}, but another run holds it; "
            "wait for that run to end or use another output directory"
        ) from None
    return f


def move_aside(path: PathLike, why: str) -> Optional[Path]:
    """A derived file that failed to load, renamed to ``<name>.corrupt-<n>`` beside it (kept for a
    look, never read again) with a warning, so that it is rebuilt from its checked sources; removed
    where it cannot be renamed. Returns where it went (``None``: removed or already gone)."""
    import logging

    p = Path(path)
    aside: Optional[Path] = None
    for n in range(1, 100):
        aside = p.with_name(f"{p.name}.corrupt-{n}")
        if not aside.exists():
            break
    assert aside is not None
    try:
        os.replace(p, aside)
    except OSError:
        try:
            p.unlink()
        except OSError:
            pass
        aside = None
    logging.getLogger("gradsign_nas").warning(
        "the derived file %s could not be read (%s); %s, rebuilding it from the checked sources",
        p,
        why,
        f"moved to {aside.name}" if aside is not None else "removed",
    )
    return aside


def read_json_object(path: PathLike, what: str = "a JSON object") -> Optional[dict]:
    """The JSON object in ``path``, or ``None`` if there is no such file; a ``DataError`` naming the
    file when it is a directory, does not parse, or holds something other than an object."""
    from .errors import DataError

    path = Path(path)
    if not path.exists():
        return None
    if not path.is_file():
        raise DataError(f"expected {path} to be a file, but it is a directory")
    try:
        obj = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DataError(f"expected {what} in {path}, but the file does not parse") from None
    if not isinstance(obj, dict):
        raise DataError(f"expected {what} in {path}, but got a {type(obj).__name__}")
    return obj


def _default(obj: Any) -> Any:
    for attr in ("tolist", "item"):  # numpy arrays and scalars, torch scalars
        if hasattr(obj, attr):
            return getattr(obj, attr)()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"expected JSON-serialisable values, but got {type(obj).__name__}")


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` that also takes numpy values and paths."""
    return json.dumps(obj, default=_default, **kwargs)


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy values, tuples and paths turned into plain JSON values (dict keys as str)."""
    return json.loads(dumps(obj))


#: the deepest nesting of lists and tables a config file or a record may hold
MAX_NESTING = 64
_TOKENS = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^'\n]*'|[\[\]{}]")


def nesting_depth(text: str, stop: int = MAX_NESTING) -> int:
    """How deep ``[`` and ``{`` nest in ``text`` (JSON or TOML) outside quoted strings, counted up to
    ``stop + 1``: checked before a parser recurses that deep."""
    if text.count("[") + text.count("{") <= stop:  # an upper bound: most texts end here
        return min(text.count("[") + text.count("{"), stop)
    depth = deepest = 0
    for m in _TOKENS.finditer(text):
        t = m.group()
        if t in "[{":
            depth += 1
            if depth > stop:
                return depth
            deepest = max(deepest, depth)
        elif t in "]}":
            depth = max(depth - 1, 0)
    return deepest


def kind_of(mode: int) -> str:
    """What a file of ``mode`` is, in words (``a directory``, ``a FIFO``, ``a character device``...)."""
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return word
    return "a file" if stat.S_ISREG(mode) else "not a regular file"


def read_regular_file(path: PathLike, limit: int, what: str, error: Optional[type] = None) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes, else one sentence
    (``error``, an ``InputError`` by default) naming ``what`` was expected: a FIFO, a device such as
    ``/dev/zero`` or a huge file is refused without reading it (opened non-blocking, checked by its
    ``fstat``)."""
    from .errors import InputError

    err = error or InputError
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise err(f"expected {what} at {p}, but it cannot be read ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise err(f"expected {what} at {p}, but it is {kind_of(st.st_mode)}")
        if st.st_size > limit:
            raise err(f"expected {what} of at most {limit:,} bytes at {p}, but it holds {st.st_size:,}")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as e:
        raise err(f"expected {what} at {p}, but it cannot be read ({e.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # grew while read
        raise err(f"expected {what} of at most {limit:,} bytes at {p}, but it holds more")
    return data
