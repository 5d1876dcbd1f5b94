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
from pathlib import Path
from typing import Any, Optional

from gradsign_nas.errors import InputError

#: run.json keys that describe a run but are no option of any command
RECORD_ONLY = ("environment", "command", "model")


def read_config(path: str) -> dict[str, Any]:
    """The settings in ``path`` (``.toml``, or JSON for any other name) as a flat dict."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(f"expected a readable config file at {p}, but it cannot be read ({e.strerror})") from None
    try:
        if p.suffix == ".toml":
            import tomllib

            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        kind = "TOML" if p.suffix == ".toml" else "JSON"
        raise InputError(
            f"expected {kind} settings in {p}, but it cannot be parsed ({' '.join(str(e).split())})"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"expected a table of settings in {p}, but it holds a {type(data).__name__}")
    return data


def _from_record(command: str, data: dict[str, Any], path: str) -> dict[str, Any]:
    """A run.json's settings as options of ``command``."""
    recorded = data.get("command")
    if recorded is not None and recorded != command:
        raise InputError(f"expected a config for '{command}', but {path} records a '{recorded}' run")
    out = {k: v for k, v in data.items() if k not in RECORD_ONLY and k != "request"}
    out.update(data.get("request") or {})
    if "variant" in out:
        out["variants" if command == "search" else "variant"] = out.pop("variant")
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
                f"unknown setting {key!r} in {path}; expected options of '{command}': {', '.join(sorted(actions))}"
            )
        defaults[dest] = value
    for dest, value in defaults.items():
        actions[dest].required = False
        actions[dest].default = value


def add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="settings from a TOML or JSON file (a run's run.json repeats that run); options given "
        "on the command line override it",
    )
