"""MkDocs hook: the command-line reference, generated from the argparse parsers at build time.

``docs/reference/cli.md`` holds the line ``<!-- cli-reference -->``; ``on_page_markdown`` replaces it
with every subcommand's usage, description and options (help, default, choices) as
``gradsign_nas.cli.build_parser()`` declares them, so no option is written twice.
``cli_markdown()`` gives the same text to tests.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Iterator

PLACEHOLDER = "<!-- cli-reference -->"
PAGE = "reference/cli.md"
#: the width usage lines are wrapped at (fixed, so the page does not depend on the terminal)
WIDTH = 100

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # the checkout's package, also without an installed one
    sys.path.insert(0, str(_ROOT))


def _escape(text: str) -> str:
    """``text`` as literal Markdown inside a table cell or paragraph."""
    out = text.replace("\\", "\\\\")
    for ch in "`*_[]|":
        out = out.replace(ch, "\\" + ch)
    return out.replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    """``text`` as an inline code span (pipes escaped for tables)."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser`` by name (empty when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def walk(parser: argparse.ArgumentParser) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
    """``(command words, parser)`` of ``parser`` and every subcommand below it, depth first."""
    stack: list[tuple[list[str], argparse.ArgumentParser]] = [([], parser)]
    while stack:
        words, p = stack.pop(0)
        yield words, p
        stack[:0] = [(words + [name], sub) for name, sub in subparsers(p).items()]


def documented(action: argparse.Action) -> bool:
    """Whether ``action`` is an option or positional the reference lists (not help, subcommands or
    hidden ones)."""
    return not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) and (
        action.help != argparse.SUPPRESS
    )


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return formatter.format_help().strip()


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help:
        return ""
    params: dict[str, Any] = dict(vars(action), prog=parser.prog)
    if action.choices is not None:
        params["choices"] = ", ".join(map(str, action.choices))
    try:
        return action.help % params  # argparse's %(default)s and friends
    except (KeyError, TypeError, ValueError):
        return action.help


def _name(action: argparse.Action) -> str:
    """How the option is written: its flags and, where it takes a value, the value's name."""
    if not action.option_strings:
        return action.metavar if isinstance(action.metavar, str) else action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    if action.choices is not None and action.metavar is None:
        metavar = "{" + ",".join(map(str, action.choices)) + "}"
    return ", ".join(f"{flag} {metavar}" for flag in action.option_strings)


def _default(action: argparse.Action) -> str:
    if isinstance(action, argparse._VersionAction) or not action.option_strings:
        return ""
    if action.required:
        return "required"
    if action.nargs == 0:
        return "off" if not action.default else "on"
    if action.default is None:
        return "none"
    return _code(str(action.default))


def _rows(parser: argparse.ArgumentParser, actions: list[argparse.Action]) -> list[str]:
    rows = ["| Option | Meaning | Default |", "| --- | --- | --- |"]
    for a in actions:
        meaning = _escape(" ".join(_help(parser, a).split()))
        if a.choices is not None:
            meaning += (
                (". " if meaning and not meaning.endswith(".") else " " if meaning else "")
                + "Choices: "
                + ", ".join(_code(str(c)) for c in a.choices)
                + "."
            )
        rows.append(f"| {_code(_name(a))} | {meaning} | {_default(a)} |")
    return rows


def _groups(parser: argparse.ArgumentParser) -> list[tuple[str, list[argparse.Action]]]:
    """The parser's options by argument group, in the order the groups come; positionals first."""
    out = []
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if documented(a)]
        if actions:
            out.append((group.title or "options", actions))
    out.sort(key=lambda g: g[0] != "positional arguments")
    return out


def _exclusive(parser: argparse.ArgumentParser) -> list[str]:
    lines = []
    for group in parser._mutually_exclusive_groups:
        flags = [a.option_strings[-1] for a in group._group_actions if a.option_strings]
        if len(flags) > 1:
            lines.append("Only one of " + ", ".join(_code(f) for f in flags) + " may be given.")
    return lines


def command_markdown(words: list[str], parser: argparse.ArgumentParser, summary: str = "") -> str:
    """One command's section: heading, one-line summary, usage, description, options."""
    title = " ".join(words) if words else parser.prog
    lines = [f"## `{title}`", ""]
    if summary:
        lines += [_escape(summary[:1].upper() + summary[1:]) + ".", ""]
    lines += ["```text", _usage(parser), "```", ""]
    if parser.description:
        paragraphs = [" ".join(p.split()) for p in parser.description.strip().split("\n\n")]
        lines += [x for p in paragraphs for x in (_escape(p), "")]
    for title_, actions in _groups(parser):
        label = {"positional arguments": "Arguments"}.get(title_, title_[:1].upper() + title_[1:])
        lines += [f"**{_escape(label)}**", "", *_rows(parser, actions), ""]
    lines += [x for line in _exclusive(parser) for x in (line, "")]
    commands = subparsers(parser)
    if commands:
        lines += ["**Commands**", "", "| Command | What it does |", "| --- | --- |"]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    anchor = "-".join([*(w.lower() for w in words), choice.dest])
                    lines.append(f"| [{_code(choice.dest)}](#{anchor}) | {_escape(choice.help or '')} |")
        lines.append("")
    return "\n".join(lines)


def cli_markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """The whole reference: the program's own options, then every subcommand (and any below it)."""
    if parser is None:
        from gradsign_nas.cli import build_parser

        parser = build_parser()
    summaries: dict[tuple[str, ...], str] = {}
    for words, p in walk(parser):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    summaries[tuple(words) + (choice.dest,)] = choice.help or ""
    sections = []
    for words, p in walk(parser):
        sections.append(command_markdown([parser.prog, *words], p, summaries.get(tuple(words), "")))
    return "\n".join(sections).rstrip() + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the placeholder on the CLI reference page with the generated reference."""
    if page.file.src_uri != PAGE:
        return markdown
    if PLACEHOLDER not in markdown:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"expected the line {PLACEHOLDER} in docs/{PAGE}, where the CLI reference goes")
    return markdown.replace(PLACEHOLDER, cli_markdown())
