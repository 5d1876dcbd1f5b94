"""The record of a search: one JSON line per evaluation, the best network, the run's settings.

A run directory holds

- ``run.json``: the run's settings (algorithm, variant, seed, budget, the model's build recipe,
  ...), written once; a resumed run must repeat them;
- ``history.jsonl``: one record per resolved proposal, appended (flushed and fsynced) as it
  resolves, in the order results reached the algorithm. Every executor writes the same fields
  (``RECORD_FIELDS``): ``ask`` (the proposal's number), ``told_before`` (how many records existed
  when it was asked), ``trial_id``, ``arch`` (canonical string), ``index`` (the benchmark index,
  where the space has one), ``fidelity``, ``status`` (``"completed"``, ``"discarded"``: it would
  have overrun the budget, or ``"failed"``), ``metric``, ``cost_s``, ``sim_start`` / ``sim_time``
  (simulated start and end, where the budget is simulated seconds), ``wall_start`` / ``wall_time``
  (Unix times), ``proxy``, ``proxy_cost_s``, ``source``, ``worker`` and ``extra`` (test accuracies of
  a table, or a live trial's per-epoch validation accuracies under ``extra["curve"]``);
- ``best.json``: the best network so far (highest fidelity first, then highest metric; ties: the
  first found) with every metric and, where the run has a model, its recipe (``model``: space name
  and options, classes, build options) and its trained weights (``best_model.pt``, with their
  sha256). It is derived from the history: on every resume it is re-derived and rewritten if it
  disagrees, and weights that cannot be shown to belong to the best record are removed.

``History`` is the recorder every executor uses; ``gradsign_nas.execution.driver.Driver`` replays
it on resume. ``load_best(run_dir)`` rebuilds the best network with its weights.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Optional, TextIO, Union

from ._io import (
    MAX_NESTING,
    dumps,
    jsonable,
    lock_directory,
    nesting_depth,
    read_json_object,
    remove_stale_temps,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from .errors import DataError, InputError

HISTORY_FILE = "history.jsonl"
BEST_FILE = "best.json"
RUN_FILE = "run.json"
WEIGHTS_FILE = "best_model.pt"
STATUSES = ("completed", "discarded", "failed")
RECORD_FIELDS = (
    "ask",
    "told_before",
    "trial_id",
    "arch",
    "index",
    "fidelity",
    "status",
    "metric",
    "cost_s",
    "sim_start",
    "sim_time",
    "wall_start",
    "wall_time",
    "proxy",
    "proxy_cost_s",
    "source",
    "worker",
    "extra",
)

__all__ = [
    "BEST_FILE",
    "HISTORY_FILE",
    "RECORD_FIELDS",
    "RUN_FILE",
    "WEIGHTS_FILE",
    "History",
    "best_key",
    "load_best",
    "rank_fidelity",
    "read_best",
    "read_history",
    "read_run_info",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

PathLike = Union[str, os.PathLike]


# -- reading ----------------------------------------------------------------------------------------
def _check_record(rec: Any, path: Path, line_no: int) -> dict:
    if not isinstance(rec, dict):
        raise DataError(f"expected a JSON object on line {line_no} of {path}, but got a {type(rec).__name__}")
    if not isinstance(rec.get("ask"), int) or isinstance(rec.get("ask"), bool) or rec["ask"] < 0:
        raise DataError(
            f"expected a non-negative integer 'ask' on line {line_no} of {path}, but got {rec.get('ask')!r}"
        )
    if rec.get("status") not in STATUSES:
        raise DataError(
            f"expected a status among {', '.join(STATUSES)} on line {line_no} of {path}, but got {rec.get('status')!r}"
        )
    if not isinstance(rec.get("arch"), str):
        raise DataError(f"expected an architecture string on line {line_no} of {path}, but got {rec.get('arch')!r}")
    for key in ("told_before", "extra"):
        v = rec.get(key)
        wrong = not isinstance(v, dict) if key == "extra" else isinstance(v, bool) or not isinstance(v, int) or v < 0
        if v is not None and wrong:
            what = "a table" if key == "extra" else "a non-negative integer"
            raise DataError(f"expected {key} to be {what} on line {line_no} of {path}, but got a {type(v).__name__}")
    if rec["status"] != "failed":
        for key in ("metric", "cost_s"):
            v = rec.get(key)
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not math.isfinite(v)
                or (key == "cost_s" and v < 0)
            ):
                what = "a finite number" if key == "metric" else "a finite number >= 0"
                raise DataError(f"expected {key} to be {what} on line {line_no} of {path}, but got {v!r}")
    return rec


def _parse_lines(path: Path) -> tuple[list[dict], bool]:
    """(records, whether a partial last line was dropped). A broken line before the last is an error."""
    if path.exists() and not path.is_file():
        raise DataError(f"expected {path} to be a file, but it is a directory")
    if not path.is_file():
        return [], False
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line_no = raw[: e.start].count(b"\n") + 1
        raise DataError(f"expected UTF-8 JSON lines in {path}, but line {line_no} holds binary bytes") from None
    lines = text.split("\n")
    records, dropped = [], False
    seen: dict[int, int] = {}
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        if nesting_depth(line) > MAX_NESTING:
            raise DataError(
                f"expected records nested at most {MAX_NESTING} deep in {path}, but line {n + 1} nests deeper"
            )
        try:
            rec = json.loads(line)
        except ValueError:
            if all(not rest.strip() for rest in lines[n + 1 :]):
                dropped = True  # the line being written when the run was interrupted
                break
            raise DataError(f"expected one JSON object per line in {path}, but line {n + 1} is {line[:80]!r}") from None
        rec = _check_record(rec, path, n + 1)
        if rec["ask"] in seen:
            raise DataError(
                f"expected each proposal once in {path}, but line {n + 1} repeats proposal {rec['ask']} "
                f"of line {seen[rec['ask']]}"
            )
        seen[rec["ask"]] = n + 1
        records.append(rec)
    return records, dropped


def read_history(directory: PathLike) -> list[dict]:
    """The records of ``directory/history.jsonl`` in the order they were written."""
    return _parse_lines(Path(directory) / HISTORY_FILE)[0]


def read_best(directory: PathLike) -> Optional[dict]:
    """``directory/best.json``, or ``None`` when no evaluation has completed."""
    return read_json_object(Path(directory) / BEST_FILE)


def read_run_info(directory: PathLike) -> Optional[dict]:
    """``directory/run.json``, or ``None`` if there is none."""
    return read_json_object(Path(directory) / RUN_FILE)


def best_key(rec: Mapping[str, Any], sign: int = 1) -> tuple:
    """What ``best`` maximises: the rank of the evaluation's fidelity, higher first, then the metric.
    The rank is ``extra["budget"]`` where the algorithm evaluated a nominal budget at another fidelity
    (NB201's BOHB: the best is the best at the largest budget), else ``extra["fidelity_reached"]``
    where a scheduler stopped a trial early, else the proposal's fidelity (one that is not a number
    counts as 0). ``sign=-1``: a lower metric is better (a run whose ``mode`` is ``"min"``)."""
    return _key(rank_fidelity(rec.get("extra") or {}, rec.get("fidelity")), sign * float(rec["metric"]))


def rank_fidelity(extra: Mapping[str, Any], fidelity: Any) -> Any:
    """The fidelity ``best_key`` ranks an evaluation by (see there)."""
    return extra.get("budget", extra.get("fidelity_reached", fidelity))


def _key(fidelity: Any, metric: Any) -> tuple:
    f = float(fidelity) if isinstance(fidelity, (int, float)) and not isinstance(fidelity, bool) else 0.0
    return (f, float(metric))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


#: run.json keys that describe a run without defining it: a resume need not repeat them
NOT_IDENTITY = ("environment", "request")


def _identity(info: Mapping[str, Any]) -> dict:
    out = {k: v for k, v in info.items() if k not in NOT_IDENTITY}
    if isinstance(out.get("comparison"), Mapping):  # how many seeds its comparison asked for is not this run
        out["comparison"] = {k: v for k, v in out["comparison"].items() if k != "runs"}
    return out


# -- the recorder -----------------------------------------------------------------------------------
class History:
    """The record of one run, in ``directory`` (created if missing) or only in memory (``None``).

    Args:
        directory: the run directory, or ``None`` for a run that writes nothing (the ``Driver`` then
            builds and keeps only the records that improved the best).
        run_info: the run's settings; stored in ``run.json`` on first use, with an ``environment``
            block (versions, commit, hardware: ``gradsign_nas._meta.environment``), and on a later
            use the stored settings must equal these (a directory holds one run), but for
            ``environment`` and ``request`` (how it was asked for, e.g. the number of trials).
            ``run_info["mode"] == "min"``: a lower metric is better (the best, and what the
            ``Driver`` tells the algorithm, which always maximises, is then ``-metric``).
        fsync: fsync after every record (the default; off only for throwaway runs).
        model: how to rebuild the run's networks (``{"space", "space_options", "num_classes",
            "build_options"}``), written into ``best.json`` so that ``load_best`` works.
        test_metrics: the evaluator's test accuracies, ``{dataset: key of a record's extra}``, which
            ``best.json`` lists under ``test`` (the executor's ``Driver`` sets them from its
            evaluator with ``use_test_metrics``).

    Example:
        >>> with History(tmp_dir, {"algorithm": "rs", "seed": 0}) as h:   # doctest: +SKIP
        ...     SimulatedExecutor(alg, evaluator, history=h).run()
    """

    def __init__(
        self,
        directory: Optional[PathLike] = None,
        run_info: Optional[Mapping[str, Any]] = None,
        fsync: bool = True,
        model: Optional[Mapping[str, Any]] = None,
        test_metrics: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.test_metrics: dict[str, str] = dict(test_metrics or {})
        self.fsync = fsync
        self.model = jsonable(dict(model)) if model is not None else None
        self.run_info = jsonable(dict(run_info)) if run_info is not None else None
        self.records: list[dict] = []
        self.sign = (
            -1 if (self.run_info or {}).get("mode") == "min" else 1
        )  # -1 when the run's run_info says mode "min": a lower metric is better
        self.best: Optional[dict] = None
        self._best_key: tuple = ()
        self.best_changes: list[dict] = []  # every record that improved the best, in order
        self._file: Optional[TextIO] = None
        self._pending: Optional[tuple[bool, bool]] = None  # (run.json to write, partial line to cut)
        if self.directory is None:
            return
        d = self.directory
        if d.exists() and not d.is_dir():
            raise InputError(f"expected the run directory {d} to be a directory, but it is a file")
        stored = read_run_info(d)
        if stored is not None:
            if self.run_info is not None and _identity(stored) != _identity(self.run_info):
                a, b = _identity(stored), _identity(self.run_info)
                diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                raise InputError(
                    f"expected {d} to hold a run with the same settings to resume, but it holds one "
                    f"with other {', '.join(diff)}; use another output directory"
                )
            self.run_info = stored
        records, dropped = _parse_lines(d / HISTORY_FILE)
        read_best(d)  # a corrupt best.json is an error now, before anything is written
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(
                f"expected a writable run directory at {d}, but it cannot be created ({e.strerror})"
            ) from None
        if not os.access(d, os.W_OK):
            raise InputError(f"expected a writable run directory at {d}, but it is not writable")
        self._lock = lock_directory(d)
        self.path = d / HISTORY_FILE
        for r in records:
            self._track(r)
        self.records = records
        # nothing is written until the history is accepted (``accept``: the Driver calls it once its
        # replay agrees with every record), so a refused resume leaves the folder as it found it
        self._pending = (stored is None, dropped)

    # -- resuming -------------------------------------------------------------------------------
    def accept(self) -> None:
        """The recorded history is accepted (a resume replayed it without a refusal): write what
        opening the run defers (``run.json`` of a new run, a partial last line cut, ``best.json`` and
        the weights re-derived from the history) and open the history for appending. Idempotent;
        ``append`` calls it too."""
        if self._pending is None or self.directory is None:
            return
        new, dropped = self._pending
        d = self.directory
        remove_stale_temps(d)
        if self.run_info is not None and new:
            if "environment" not in self.run_info:
                from ._meta import environment

                self.run_info["environment"] = environment()
            write_json_atomic(d / RUN_FILE, self.run_info)
        if dropped:  # cut the partial line so that appends start on a fresh line
            write_text_atomic(self.path, "".join(dumps(r) + "\n" for r in self.records))
        self._file = open(self.path, "a")
        self._pending = None
        self._reconcile_best()

    def replay(self) -> dict[int, dict]:
        """Recorded records by proposal number (``ask``)."""
        return {int(r["ask"]): r for r in self.records}

    def use_test_metrics(self, test_metrics: Mapping[str, str]) -> None:
        """Record the evaluator's test accuracies (``{dataset: key of a record's extra}``) in
        ``best.json`` from now on; a ``best.json`` of the current best written without them (when the
        directory was opened) is rewritten with them."""
        metrics = dict(test_metrics)
        if metrics == self.test_metrics:
            return
        self.test_metrics = metrics
        if self.directory is None or self.best is None or self._pending is not None:
            return  # not accepted yet: ``accept`` re-derives best.json with them
        self._rewrite_test_metrics(read_best(self.directory))

    def _rewrite_test_metrics(self, on_disk: Optional[dict]) -> None:
        if self.directory is None or on_disk is None or self.best is None or on_disk.get("ask") != self.best.get("ask"):
            return
        want = self.best_record(on_disk.get("weights"), on_disk.get("weights_sha256"))
        if want is not None and on_disk.get("test") != want.get("test"):
            write_json_atomic(self.directory / BEST_FILE, want)

    # -- recording ------------------------------------------------------------------------------
    def _track(self, rec: dict) -> bool:
        if rec.get("status") != "completed":
            return False
        key = best_key(rec, self.sign)
        if self.best is None or key > self._best_key:
            self.best, self._best_key = rec, key
            self.best_changes.append(rec)
            return True
        return False

    def improves(self, fidelity: Any, metric: Any) -> bool:
        """Whether a completed evaluation at ``fidelity`` with ``metric`` would be the new best."""
        return self.best is None or _key(fidelity, self.sign * float(metric)) > self._best_key

    def append(self, record: Mapping[str, Any]) -> bool:
        """Append one record (flushed, and fsynced unless ``fsync=False``); returns whether it is the
        new best. ``best.json`` is rewritten when it is (use ``save_best_weights`` for weights)."""
        if self._pending is not None:
            self.accept()
        if self._file is None:  # in memory only: kept as given (the simulated executor's hot path)
            rec = record if isinstance(record, dict) else dict(record)
        else:
            line = dumps(dict(record))
            rec = json.loads(line)
            self._file.write(line + "\n")
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
        self.records.append(rec)
        improved = self._track(rec)
        if improved and self.directory is not None:
            self.write_best()
        return improved

    def best_record(self, weights: Optional[str] = None, sha256: Optional[str] = None) -> Optional[dict]:
        """What ``best.json`` holds for the current best (``None`` before the first completion)."""
        if self.best is None:
            return None
        b = self.best
        extra = b.get("extra") or {}
        out = {k: b.get(k) for k in ("arch", "index", "fidelity", "metric", "cost_s", "sim_time", "ask", "trial_id")}
        test = {d: extra[k] for d, k in self.test_metrics.items() if k in extra}
        if test:
            out["test"] = test
        out["extra"] = extra
        if self.model is not None:
            out["model"] = self.model
        out["weights"] = weights
        out["weights_sha256"] = sha256
        return out

    def write_best(self) -> None:
        """Write ``best.json`` for the current best (without weights)."""
        if self.directory is not None and self.best is not None:
            write_json_atomic(self.directory / BEST_FILE, self.best_record())

    def save_best_weights(self, ask: int, state_dict: Mapping[str, Any]) -> bool:
        """Store ``state_dict`` as the best network's weights if record ``ask`` is still the best:
        ``best_model.pt`` first, then ``best.json`` naming it with its sha256. Returns whether it did."""
        if self.directory is None or self.best is None or self.best.get("ask") != ask:
            return False
        self.accept()
        import torch

        buf = io.BytesIO()
        torch.save(dict(state_dict), buf)
        data = buf.getvalue()
        write_bytes_atomic(self.directory / WEIGHTS_FILE, data)
        write_json_atomic(self.directory / BEST_FILE, self.best_record(WEIGHTS_FILE, _sha256(data)))
        return True

    def _reconcile_best(self) -> None:
        """Make ``best.json`` (and the weights) agree with the history after a crash."""
        d = self.directory
        assert d is not None  # called from __init__ only once the run directory is set up
        on_disk = read_best(d)
        weights = d / WEIGHTS_FILE
        if self.best is None:
            stale = [p for p in (d / BEST_FILE, weights) if p.is_file()]
            for p in stale:
                p.unlink()
            return
        if on_disk is not None and on_disk.get("ask") == self.best.get("ask"):
            sha = on_disk.get("weights_sha256")
            if sha is None or (weights.is_file() and _sha256(weights.read_bytes()) == sha):
                self._rewrite_test_metrics(on_disk)
                return  # consistent
        if weights.is_file():  # weights that cannot be shown to be the best record's
            weights.unlink()
        self.write_best()

    def close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.close()  # releases the lock
            self._lock = None

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- the best network, rebuilt ------------------------------------------------------------------------
def load_best(run_dir: PathLike, space: Any = None, map_location: str = "cpu"):
    """The best network of a run: ``(arch, model)`` with its recorded weights loaded.

    The model is rebuilt from what ``best.json`` records (the space by name with its options, the
    number of classes and every build option); pass ``space`` (an object or a name) for a space that
    is not registered under the recorded name.

    Raises:
        DataError: the directory holds no best network, or no weights for it, or they do not match.
    """
    import torch

    from gradsign_nas.search_spaces import get as get_space

    d = Path(run_dir)
    best = read_best(d)
    if best is None:
        raise DataError(f"expected a best.json in {d}, but there is none (no trial has completed there)")
    model = best.get("model")
    if not isinstance(model, dict):
        raise DataError(
            f"expected {d / BEST_FILE} to record how to build the model, but it records none "
            "(a tabular search has no trained weights)"
        )
    if not best.get("weights"):
        raise DataError(f"expected trained weights for the best network in {d}, but best.json names none")
    if space is None:
        sp = get_space(model["space"], **(model.get("space_options") or {}))
    elif isinstance(space, str):
        sp = get_space(space, **(model.get("space_options") or {}))
    else:
        sp = get_space(space)
    arch = sp.parse(best["arch"])
    net = sp.build(arch, int(model["num_classes"]), **(model.get("build_options") or {}))
    path = d / best["weights"]
    if not path.is_file():
        raise DataError(f"expected the best network's weights at {path}, but the file is missing")
    data = path.read_bytes()
    if best.get("weights_sha256") and _sha256(data) != best["weights_sha256"]:
        raise DataError(f"expected {path} to hold the weights best.json names (sha256), but it holds other bytes")
    state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    net.load_state_dict(state)
    return arch, net
