"""``--config FILE``: a command's options from a TOML or JSON file; options on the command line win.

A config file holds option names as keys (``batch_size`` or ``batch-size``) with their values, e.g.::

    algorithms = "rs,rea"
    runs = 100
    charge_proxy_time = true

A run's own ``run.json`` is a valid config for the command that wrote it: its settings are mapped
back to options (``variant`` -> ``variants``, ``budget_s`` -> ``budget``, ``space_options`` ->
``C``/``N``, ``scores`` -> ``scores`` or ``score_table``, the ``request`` block, e.g. ``trials``, as
given), and what only describes the run (``environment``, ``command``, derived fidelities) is skipped.
"""

from __future__ import annotations

import argparse
import json
import reprlib
from pathlib import Path
from typing import Any, Optional

from gradsign_nas.errors import InputError

#: run.json keys that describe a run but are no option of any command
RECORD_ONLY = ("environment", "command", "model", "comparison", "strategy")
#: how an error names the kind of value an option's type expects
_KIND_WORDS: dict[Any, str] = {int: "an integer", float: "a number"}
#: the longest text a config value may hold, and how much of a bad one an error shows
MAX_TEXT = 10_000
SHOWN = 60
#: the largest config file read (a run.json is a few kB)
MAX_BYTES = 1_000_000


def read_config(path: str) -> dict[str, Any]:
    """The settings in ``path`` (``.toml``, or JSON for any other name) as a flat dict: a regular file
    of at most ``MAX_BYTES`` whose lists and tables nest at most ``MAX_NESTING`` deep (checked before
    parsing; a FIFO or ``/dev/zero`` is refused without reading)."""
    from gradsign_nas._io import MAX_NESTING, nesting_depth, read_regular_file

    p = Path(path)
    raw = read_regular_file(p, MAX_BYTES, "a config file")
    kind = "TOML" if p.suffix == ".toml" else "JSON"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"expected {kind} settings in {p}, but it holds bytes that are not UTF-8 text") from None
    if nesting_depth(text) > MAX_NESTING:
        raise InputError(f"expected {kind} settings nested at most {MAX_NESTING} deep in {p}, but they nest deeper")
    try:
        if p.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (ValueError, RecursionError) as e:
        why = "it nests too deep" if isinstance(e, RecursionError) else _cut(" ".join(str(e).split()))
        raise InputError(f"expected {kind} settings in {p}, but it cannot be parsed ({why})") from None
    if not isinstance(data, dict):
        raise InputError(f"expected a table of settings in {p}, but it holds a {type(data).__name__}")
    return data


def _from_record(command: str, data: dict[str, Any], path: str) -> dict[str, Any]:
    """A run.json's settings as options of ``command``."""
    recorded = data.get("command")
    if recorded is not None and recorded != command:
        raise InputError(f"expected a config for '{command}', but {path} records a {_short(recorded)} run")
    for key in ("request", "space_options"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise InputError(f"expected {key} in {path} to be a table of settings, but got {_short(data[key])}")
    out = {k: v for k, v in data.items() if k not in RECORD_ONLY and k != "request"}
    out.update(data.get("request") or {})
    if "variant" in out:
        out["variants"] = out.pop("variant")
    if command == "search" and "batch_size" in out:
        out["train_batch_size"] = out.pop("batch_size")
    out.pop("mode", None)  # derived from the metric
    if "budget_s" in out:
        out["budget"] = out.pop("budget_s")
    if "fidelities" in out:
        f = out.pop("fidelities")
        if command != "search":  # derived from --epochs in a live search
            out["fidelities"] = ",".join(str(x) for x in f) if isinstance(f, list) else f
    if command == "search":
        opts = out.pop("space_options", None) or {}
        if out.get("space") == "nb201":
            out.update({k: v for k, v in opts.items() if k in ("C", "N")})
    if "scores" in out and out["scores"] not in (None, "table", "on-demand"):
        out["score_table"] = out.pop("scores")
    return {k: v for k, v in out.items() if v is not None}


def config_path(argv: list[str]) -> Optional[str]:
    """The ``--config`` value in a sub-command's ``argv``, or ``None``."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=None)
    return pre.parse_known_args(argv)[0].config


def apply_config(parser: argparse.ArgumentParser, command: str, path: str) -> None:
    """Make the settings in ``path`` the defaults of ``command``'s sub-parser (the command line then
    overrides them; an option the file gives is no longer required on the command line)."""
    data = read_config(path)
    is_record = "environment" in data or "command" in data
    settings = _from_record(command, data, path) if is_record else data
    actions = {a.dest: a for a in parser._actions if a.dest not in ("help", "config", "_run")}
    defaults: dict[str, Any] = {}
    for key, value in settings.items():
        dest = str(key).replace("-", "_")
        if dest not in actions:
            raise InputError(
                f"unknown setting {_short(key)} in {path}; expected options of '{command}': "
                f"{', '.join(sorted(actions))}"
            )
        defaults[dest] = _checked(actions[dest], dest, value, path)
    for dest, value in defaults.items():
        actions[dest].required = False
        actions[dest].default = value


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 3, SHOWN, SHOWN, 6, 6


def _short(value: Any) -> str:
    """A short excerpt of ``value`` (``reprlib``: long texts, lists, tables and nests shortened)."""
    return _cut(_REPR.repr(value))


def _checked(action: argparse.Action, key: str, value: Any, path: str) -> Any:
    """A config value checked as the command line checks its option: a switch takes true/false, a
    number a number, text a string (converted by the option's type), a choice one of its choices;
    ``algorithm_options`` may also be a table."""

    def bad(expected: str) -> InputError:
        return InputError(f"expected {key} in {path} to be {expected}, but got {_short(value)}")

    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if key == "algorithm_options" and isinstance(value, dict):
        return value
    kind = action.type
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise bad(f"a text of at most {MAX_TEXT:,} characters")
        if callable(kind) and kind is not str:
            try:
                value = kind(value)
            except (TypeError, ValueError):
                raise bad(_KIND_WORDS.get(kind, f"a valid {key}")) from None
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        value = float(value)
    elif key in ("variants", "algorithms", "strategies", "proxies", "datasets") and isinstance(value, list):
        if not all(isinstance(x, str) for x in value):
            raise bad("a list of names")
    else:
        raise bad("a text")
    if action.choices is not None and value not in action.choices:
        raise bad(f"one of {', '.join(map(str, action.choices))}")
    return value


def add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="settings from a TOML or JSON file (a run's run.json repeats that run); options given "
        "on the command line override it",
    )
