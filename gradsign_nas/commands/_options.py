"""A command's options, built from its config's fields and the one option table
(``gradsign_nas.api._vocabulary``): a name means the same thing, with the same default, in every
command, in config files and in Python. ``--json`` (print the summary as the last stdout line) is the
command line's own."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Iterable

from gradsign_nas.api._vocabulary import OPTIONS, Option

__all__ = ["add_json", "add_option", "add_options", "config_from", "groups"]


def groups(p: argparse.ArgumentParser) -> dict[str, argparse._ActionsContainer]:
    """The parser's option groups by title, made on first use (in the order the options come)."""
    store = p.__dict__.setdefault("_gradsign_groups", {})
    return store


def add_option(p: argparse.ArgumentParser, name: str, *, required: bool = False) -> None:
    """``--<name>`` as the option table declares it, in its group."""
    o: Option = OPTIONS[name]
    g = groups(p)
    if o.group not in g:
        g[o.group] = p if o.group == "options" else p.add_argument_group(o.group)
    target = g[o.group]
    if o.switch:
        target.add_argument(o.flag, dest=name, action="store_true", default=o.default, help=o.help)
        return
    kwargs: dict[str, Any] = {"dest": name, "default": o.default, "help": o.help, "type": o.type}
    if o.choices is not None:
        kwargs["choices"] = o.choices
    if o.metavar is not None:
        kwargs["metavar"] = o.metavar
    if required:
        kwargs["required"] = True
    target.add_argument(o.flag, **kwargs)


def add_options(p: argparse.ArgumentParser, config: type, *, required: Iterable[str] = ()) -> None:
    """Every field of the config class ``config`` as an option, and ``--json``."""
    need = set(required)
    for f in dataclasses.fields(config):
        add_option(p, f.name, required=f.name in need)
    add_json(p)


def add_json(p: argparse.ArgumentParser) -> None:
    add_option(p, "json")


def config_from(config: type, args: argparse.Namespace) -> Any:
    """The config of class ``config`` that the parsed options ``args`` describe."""
    return config(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config)})
