"""The HTML side of ``gradsign_nas.report``: the page's parts (``Section``, ``Table``, ``Cell``,
``Image``, ``Details``) and ``render``, which turns them into one self-contained HTML5 page (CSS
inline, images as data URLs, every text escaped, no scripts)."""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence, Union

__all__ = ["Cell", "Details", "Image", "PathLike", "Section", "Table", "render"]

PathLike = Union[str, os.PathLike]

_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}


@dataclass(frozen=True)
class Cell:
    """A table cell: ``text`` and whether to emphasise it (e.g. a p-value below 0.05)."""

    text: str
    strong: bool = False


@dataclass(frozen=True)
class Table:
    """A table: ``header`` cells, ``rows`` of cells (a ``Cell`` or any value, shown with ``str``; ``None``
    is an empty cell) and a ``note`` shown above it. The first ``row_headers`` cells of a row label it;
    with ``align_numbers`` cells that hold numbers are right-aligned."""

    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    note: str = ""
    row_headers: int = 1
    align_numbers: bool = True


@dataclass(frozen=True)
class Image:
    """An image to embed: its ``name`` (the file it came from, shown as the caption), the bytes and
    their MIME type."""

    name: str
    data: bytes
    mime: str = "image/png"

    @classmethod
    def from_file(cls, path: PathLike) -> "Image":
        """The image in ``path``, its type from the file's suffix (PNG unless it says otherwise)."""
        p = Path(path)
        return cls(p.name, p.read_bytes(), _MIME.get(p.suffix.lower(), "image/png"))


@dataclass(frozen=True)
class Details:
    """A block shown collapsed (HTML ``<details>``) under the one line ``summary``: paragraphs
    (``str``), ``Table``s and ``Image``s, opened by a click."""

    summary: str
    parts: Sequence[Union[str, Table, Image]] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    """A titled part of the page: paragraphs (``str``), ``Table``s, ``Image``s and ``Details`` in order."""

    title: str
    parts: Sequence[Union[str, Table, Image, Details]] = field(default_factory=list)


# -- rendering -------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 1.5rem 1.25rem 3rem; color: #1f2328; background: #fff;
       line-height: 1.45; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; padding-bottom: .25rem; border-bottom: 1px solid #d0d7de; }
p { margin: .4rem 0; }
.sub { color: #59636e; margin: 0 0 1rem; }
nav ul { list-style: none; padding: 0; margin: .5rem 0 0; display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
nav a, a { color: #0550ae; }
.scroll { overflow-x: auto; margin: .5rem 0 1rem; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
thead th { background: #f0f3f6; }
tbody tr:nth-child(even) { background: #f8fafc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.code, th.code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .82rem;
                   word-break: break-all; }
figure { margin: .5rem 0 1.25rem; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #d0d7de; }
details { margin: .5rem 0 1rem; }
summary { cursor: pointer; color: #0550ae; }
figcaption { color: #59636e; font-size: .85rem; margin-top: .25rem; }
footer { margin-top: 2.5rem; color: #59636e; font-size: .8rem; }
@media print { nav { display: none; } h2 { break-after: avoid; } figure, table { break-inside: avoid; } }
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _is_num(text: str) -> bool:
    t = text.replace("±", " ").replace("%", " ").replace(",", "").split()
    if not t:
        return False
    for tok in t:
        try:
            float(tok)
        except ValueError:
            return False
    return True


def _table(t: Table) -> str:
    out = []
    if t.note:
        out.append(f"<p>{_e(t.note)}</p>")
    out.append('<div class="scroll"><table>')
    out.append("<thead><tr>" + "".join(f'<th scope="col">{_e(h)}</th>' for h in t.header) + "</tr></thead>")
    out.append("<tbody>")
    for row in t.rows:
        cells = []
        for i, c in enumerate(row):
            cell = c if isinstance(c, Cell) else Cell("" if c is None else str(c))
            text = f"<strong>{_e(cell.text)}</strong>" if cell.strong else _e(cell.text)
            if i < t.row_headers:
                cells.append(f'<th scope="row">{text}</th>')
            else:
                cls = (
                    ' class="num"'
                    if t.align_numbers and _is_num(cell.text)
                    else (' class="code"' if cell.text.startswith("|") else "")
                )
                cells.append(f"<td{cls}>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _image(im: Image) -> str:
    data = base64.b64encode(im.data).decode("ascii")
    return (
        f'<figure><img src="data:{_e(im.mime)};base64,{data}" alt="{_e(im.name)}">'
        f"<figcaption>{_e(im.name)}</figcaption></figure>"
    )


def _part(part: Union[str, Table, Image, Details]) -> str:
    if isinstance(part, Table):
        return _table(part)
    if isinstance(part, Image):
        return _image(part)
    if isinstance(part, Details):
        inner = "\n".join(_part(p) for p in part.parts)
        return f"<details><summary>{_e(part.summary)}</summary>\n{inner}\n</details>"
    return f"<p>{_e(part)}</p>"


def render(title: str, sections: Iterable[Section], subtitle: str = "") -> str:
    """The HTML5 page of ``sections`` under ``title`` (and ``subtitle``): CSS inline, images as data
    URLs, every text escaped; no scripts and nothing loaded from elsewhere."""
    sections = list(sections)
    try:
        from importlib import metadata

        version = metadata.version("gradsign-nas")
    except Exception:  # noqa: BLE001 - a version is a nicety, never a reason to lose the report
        version = ""
    body = [f"<header><h1>{_e(title)}</h1>"]
    if subtitle:
        body.append(f'<p class="sub">{_e(subtitle)}</p>')
    if len(sections) > 1:
        body.append(
            '<nav aria-label="sections"><ul>'
            + "".join(f'<li><a href="#s{i}">{_e(s.title)}</a></li>' for i, s in enumerate(sections, 1))
            + "</ul></nav>"
        )
    body.append("</header><main>")
    for i, s in enumerate(sections, 1):
        body.append(f'<section id="s{i}"><h2>{_e(s.title)}</h2>')
        body += [_part(part) for part in s.parts]
        body.append("</section>")
    body.append(f"</main><footer>Written by gradsign-nas {_e(version)}.</footer>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="gradsign-nas {_e(version)}">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
