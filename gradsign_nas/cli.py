"""``gradsign-nas``: the command line. Each subcommand lives in ``gradsign_nas/commands/<name>.py``
with ``add_arguments(parser)`` and ``run(args) -> int``; heavy imports (torch, Ray) happen inside
``run`` so ``gradsign-nas --help`` stays fast.

Errors in the user's input or data (the toolkit's own ``GradSignNASError``) end with one sentence on
stderr and exit code 2; any other exception is a bug and keeps its traceback (exit code 1); Ctrl-C
ends with exit code 130 after saying that what finished is recorded.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from importlib import import_module
from typing import Any, NoReturn

from .commands._config import add_config, apply_config, config_path
from .errors import GradSignNASError

#: commands that take ``--config FILE`` (TOML or JSON, a run's run.json included)
CONFIGURABLE = ("search", "table-search", "compare", "correlate", "calibrate")

# subcommand -> (module under gradsign_nas.commands, one-line help)
COMMANDS = {
    "correlate": ("correlate", "score architectures with a proxy and correlate with benchmark accuracy"),
    "score-space": ("score_space", "score every NB201 architecture with GradSign and write a score table"),
    "search": ("search", "a live search that trains every network it evaluates (the default: digits, no download)"),
    "table-search": ("table_search", "one search on NAS-Bench-201's tables under its protocol (no training)"),
    "compare": ("compare", "many seeded table searches, vanilla vs GradSign-assisted, with statistics and plots"),
    "calibrate": ("calibrate", "train random NB201 cells at several epoch counts: how well does each reward rank?"),
    "data": ("data", "check or download the benchmark data files"),
}


_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line with exit 2; an option must be spelled in full (``--variant`` is
    not taken for ``--variants``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        # a value that reads as a number is a value, not an option: argparse's own pattern misses
        # -1e9, -inf and -nan, and answered "expected one argument" instead of checking the value
        self._negative_number_matcher = _NUMBER

    def error(self, message: str) -> NoReturn:  # argparse's own usage errors: one line, exit 2
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="gradsign-nas", description="Neural architecture search with GradSign assistance.")
    parser.add_argument("--version", action="version", version=f"gradsign-nas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        try:
            mod = import_module(f"gradsign_nas.commands.{module}")
        except ModuleNotFoundError as e:
            if e.name != f"gradsign_nas.commands.{module}":
                raise
            continue  # command not part of this build
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip())
        mod.add_arguments(p)
        if name in CONFIGURABLE:
            add_config(p)
        talk = p.add_mutually_exclusive_group()
        talk.add_argument("-v", "--verbose", action="store_true", help="log more (debug messages of the toolkit)")
        talk.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors, no progress bars")
        p.set_defaults(_run=mod.run)
    return parser


class _Stderr(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is at the time of the message."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _logging(args: argparse.Namespace) -> None:
    """The toolkit's loggers (``gradsign_nas.*``) to stderr: INFO by default, DEBUG with -v, WARNING
    with -q (which also turns progress bars off)."""
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    log = logging.getLogger("gradsign_nas")
    log.setLevel(level)
    for h in [h for h in log.handlers if isinstance(h, _Stderr)]:
        log.removeHandler(h)
    h = _Stderr()
    h.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if args.verbose else "%(message)s"))
    log.addHandler(h)
    if args.quiet and hasattr(args, "no_progress"):
        args.no_progress = True


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in CONFIGURABLE:
        path = config_path(argv[argv.index(command) + 1 :])
        if path is not None:  # the file's settings become the defaults; the command line overrides them
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            try:
                apply_config(sub.choices[command], command, path)
            except GradSignNASError as e:
                print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
                return 2
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported with the usage of the command they were given to
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        (sub.choices.get(args.command or "") or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    _logging(args)
    try:
        return int(args._run(args) or 0)
    except GradSignNASError as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: every evaluation that finished is recorded; run the same command again to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
