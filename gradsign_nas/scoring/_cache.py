"""The score cache: one append-only JSONL file of scores per (space, proxy, dataset, batch size, seed)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Optional, Union

from gradsign_nas.benchmarks._files import cache_dir
from gradsign_nas.errors import InputError

__all__ = ["ScoreCache", "default_cache_path"]

_KEY_FIELDS = ("space", "proxy", "dataset", "batch_size", "seed")


def default_cache_path(space: str, proxy: str, dataset: str, batch_size: int, seed: int) -> Path:
    """``<cache_dir>/scores/<space>-<proxy>-<dataset>-b<batch>-s<seed>.jsonl``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{space}-{proxy}-{dataset}")
    return cache_dir() / "scores" / f"{safe}-b{int(batch_size)}-s{int(seed)}.jsonl"


class ScoreCache:
    """Scores of one (space, proxy, dataset, batch size, seed) setting in an append-only JSONL file.

    Each line is ``{"space", "proxy", "dataset", "batch_size", "seed", "arch", "score", "seconds"}``
    (plus ``"error"`` where the proxy failed; ``"score": null`` stands for NaN). Lines of other
    settings, and a torn last line left by an interrupted run, are ignored when reading, so one file
    may hold several settings.
    """

    def __init__(self, path: Union[str, os.PathLike], **key: Any) -> None:
        missing = [k for k in _KEY_FIELDS if k not in key]
        if missing or len(key) != len(_KEY_FIELDS):
            raise InputError(f"a score cache is keyed by {', '.join(_KEY_FIELDS)}, but got {sorted(key)}")
        self.path = Path(path)
        self.key = {k: key[k] for k in _KEY_FIELDS}
        self._entries: dict[str, tuple[float, float]] = {}
        self._read()

    def _read(self) -> None:
        if not self.path.is_file():
            return
        try:
            text = self.path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            from gradsign_nas._io import move_aside

            move_aside(self.path, f"{type(e).__name__}")  # its scores are computed again
            return
        for line in text.splitlines():
            try:
                rec = json.loads(line)
            except (ValueError, RecursionError):
                continue  # torn line of an interrupted run
            if not isinstance(rec, dict) or any(rec.get(k) != v for k, v in self.key.items()):
                continue
            score, seconds = rec.get("score"), rec.get("seconds", float("nan"))
            if not all(
                v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in (score, seconds)
            ):
                continue  # a line that is not a score: scored again when asked for
            self._entries[str(rec.get("arch"))] = (
                float("nan") if score is None else float(score),
                float("nan") if seconds is None else float(seconds),
            )

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, arch: str) -> bool:
        return arch in self._entries

    def get(self, arch: str) -> Optional[tuple[float, float]]:
        """``(score, seconds)`` of the canonical arch string ``arch``, or ``None``."""
        return self._entries.get(arch)

    def add(self, arch: str, score: float, seconds: float, error: Optional[str] = None) -> None:
        """Record one result and append it to the file at once (one ``write`` per line)."""
        self._entries[arch] = (float(score), float(seconds))
        rec = dict(self.key, arch=arch, score=(float(score) if math.isfinite(score) else None), seconds=float(seconds))
        if error:
            rec["error"] = error
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(rec) + "\n"
        with open(self.path, "a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:  # a torn last line from a killed run must not swallow this one
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode("utf-8"))
