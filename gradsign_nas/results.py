"""Recording a search: one JSON line per evaluation, the best network as JSON, and resuming.

A run directory holds

- ``run.json``: the run's settings (algorithm, variant, seed, budget, ...), written once;
- ``history.jsonl``: one record per evaluation, appended (flushed and fsynced) as it completes:
  ``ask`` (the executor's proposal number), ``trial_id``, ``arch`` (canonical string), ``index``,
  ``fidelity``, ``metric``, ``cost_s``, ``sim_start``, ``sim_time`` (simulated completion time),
  ``wall_time`` (Unix time of the record), ``proxy``, ``proxy_cost_s``, ``worker``, ``status``
  (``"completed"``, or ``"discarded"`` for the evaluation that would overrun the budget) and
  ``extra`` (e.g. test accuracies);
- ``best.json``: the best network found so far (arch string, index, every metric), replaced
  atomically whenever it changes.

An interrupted run resumes from its history: the executor asks the algorithm again from the start
and, for every proposal already recorded, checks it matches the record and tells the recorded result
instead of evaluating again. Reports and plots are derived from these files only.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

from .errors import DataError

HISTORY_FILE = "history.jsonl"
BEST_FILE = "best.json"
RUN_FILE = "run.json"

__all__ = ["BEST_FILE", "HISTORY_FILE", "RUN_FILE", "History", "read_best", "read_history",
           "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Union[str, os.PathLike], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text_atomic(path: Union[str, os.PathLike], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: Union[str, os.PathLike], obj: Any) -> None:
    """``obj`` as indented JSON at ``path``, written atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _parse_lines(path: Path) -> tuple[list[dict], bool]:
    """(records, whether a partial last line was dropped). A broken line before the last is an error."""
    if not path.is_file():
        return [], False
    lines = path.read_text().split("\n")
    records, dropped = [], False
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError
        except ValueError:
            if all(not rest.strip() for rest in lines[n + 1:]):
                dropped = True  # the line being written when the run was interrupted
                break
            raise DataError(f"expected one JSON object per line in {path}, but line {n + 1} is {line[:80]!r}")
        records.append(rec)
    return records, dropped


def read_history(directory: Union[str, os.PathLike]) -> list[dict]:
    """The records of ``directory/history.jsonl`` in the order they were written."""
    return _parse_lines(Path(directory) / HISTORY_FILE)[0]


def read_best(directory: Union[str, os.PathLike]) -> Optional[dict]:
    """``directory/best.json``, or ``None`` when no evaluation has completed."""
    p = Path(directory) / BEST_FILE
    return json.loads(p.read_text()) if p.is_file() else None


def _json_default(obj: Any) -> Any:
    """numpy scalars and arrays (e.g. in an evaluator's ``extra``) as plain JSON values."""
    for attr in ("tolist", "item"):
        if hasattr(obj, attr):
            return getattr(obj, attr)()
    raise TypeError(f"expected JSON-serialisable values in a record, but got {type(obj).__name__}")


def _normalise(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=_json_default))


class History:
    """The record of one run in ``directory`` (created if missing), resumable.

    Args:
        directory: the run directory.
        run_info: the run's settings; stored in ``run.json`` on first use, and on a later use the
            stored settings must equal these (a directory holds one run).
        fsync: fsync after every record (the default; off only for throwaway runs).

    Example:
        >>> with History(tmp_dir, {"algorithm": "rs", "seed": 0}) as h:   # doctest: +SKIP
        ...     SimulatedExecutor(alg, evaluator, history=h).run()
    """

    def __init__(self, directory: Union[str, os.PathLike], run_info: Optional[Mapping[str, Any]] = None,
                 fsync: bool = True) -> None:
        self.directory = Path(directory)
        self.fsync = fsync
        run_path = self.directory / RUN_FILE
        self.run_info = _normalise(dict(run_info)) if run_info is not None else None
        if run_path.is_file():
            stored = json.loads(run_path.read_text())
            if self.run_info is not None and stored != self.run_info:
                diff = sorted(k for k in set(stored) | set(self.run_info) if stored.get(k) != self.run_info.get(k))
                raise ValueError(
                    f"expected {self.directory} to hold a run with the same settings to resume, but it holds one "
                    f"with other {', '.join(diff)}; use another output directory"
                )
            self.run_info = stored
        records, dropped = _parse_lines(self.directory / HISTORY_FILE)
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.run_info is not None and not run_path.is_file():
            write_json_atomic(run_path, self.run_info)
        self.path = self.directory / HISTORY_FILE
        if dropped:  # cut the partial line so that appends start on a fresh line
            write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in records))
        self.records: list[dict] = records
        self._file = open(self.path, "a")

    # -- resuming -------------------------------------------------------------------------------
    def replay(self) -> dict[int, dict]:
        """Recorded results by the executor's proposal number (``ask``)."""
        return {int(r["ask"]): r for r in self.records if "ask" in r}

    # -- recording ------------------------------------------------------------------------------
    def append(self, record: Mapping[str, Any]) -> None:
        """Append one record as a JSON line (flushed, and fsynced unless ``fsync=False``)."""
        line = json.dumps(dict(record), default=_json_default)
        self._file.write(line + "\n")
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        self.records.append(json.loads(line))

    def extend(self, records: Iterable[Mapping[str, Any]]) -> None:
        for r in records:
            self.append(r)

    def write_best(self, best: Mapping[str, Any]) -> None:
        """Replace ``best.json`` atomically."""
        write_json_atomic(self.directory / BEST_FILE, dict(best))

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
