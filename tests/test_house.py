"""The house rules of the package's architecture, checked from the source with ``ast``.

Nothing of the package is imported, so these tests are fast. The rules:

1. the import graph of the package's modules has no cycle;
2. every module sits in a layer, and imports only point to its own layer or lower ones;
3. no module is over ``MAX_LINES`` lines;
4. only the command line (``gradsign_nas.commands``, ``gradsign_nas.cli``, ``gradsign_nas.__main__``)
   uses ``argparse``.

The graph counts every ``import`` statement of a file (at module level and inside functions), except
the ones in an ``if TYPE_CHECKING:`` block; imports by string (``importlib.import_module``, the
registries' ``"module:attribute"`` references) are not seen. A package's ``__init__.py`` is its own
node (``gradsign_nas.execution``), and a name imported from a package is an edge to the submodule of
that name if there is one, else to the package.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = "gradsign_nas"
#: where each part of the package lies: (folder, dotted name of that folder)
SOURCES = (
    (ROOT / "gradsign_nas", TOP),
    (ROOT / "algorithms", f"{TOP}.algorithms"),
    (ROOT / "search_spaces", f"{TOP}.search_spaces"),
)
MAX_LINES = 500
#: layers 0-5 must not touch argparse; this one (the command line) may
CLI_LAYER = 6

LAYER_NAMES = {
    0: "ground",
    1: "pieces",
    2: "data/scoring/records",
    3: "assistance/analyses",
    4: "execution",
    5: "API",
    6: "command line",
}
#: (pattern, layer): a module's layer is the one of the first pattern that matches its whole name
LAYER_RULES = [
    (rf"{TOP}\.(errors|_io|_checks|_plugins|_registry|_ray)", 0),
    (rf"{TOP}\.(search_spaces|proxies|algorithms)(\..+)?", 1),
    (rf"{TOP}\.(benchmarks|scoring)(\..+)?", 2),
    (rf"{TOP}\.(results|stats|plots|report|_meta)", 2),
    (rf"{TOP}\._report\w*", 2),
    (rf"{TOP}\.(assist|strategies|correlation|space_scoring)(\..+)?", 3),
    (rf"{TOP}\.execution(\..+)?", 4),
    (rf"{TOP}\.api(\..+)?", 5),
    (rf"{TOP}", 5),
    (rf"{TOP}\.commands(\..+)?", 6),
    (rf"{TOP}\.(cli|__main__)", 6),
]


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool  # an __init__.py

    @property
    def package(self) -> str:
        """The package that relative imports of this module start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @property
    def where(self) -> str:
        return str(self.path.relative_to(ROOT))


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    what: str  # the statement, for messages


#: files that Python never imports because a package of the same name is next to them
SHADOWED: list[Module] = []


@functools.cache
def modules() -> dict[str, Module]:
    """Every module of the package by dotted name."""
    found = {}
    for folder, dotted in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if "__pycache__" in parts:
                continue
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            name = ".".join([dotted, *parts])
            module = Module(name, path, is_package)
            if name in found:  # x.py next to x/__init__.py: Python imports the package
                module, hidden = (found[name], module) if found[name].is_package else (module, found[name])
                SHADOWED.append(hidden)
            found[name] = module
    return found


@functools.cache
def nodes() -> frozenset[str]:
    """The modules plus every package folder, also one without an ``__init__.py`` (yet)."""
    names = set(modules())
    for name in modules():
        while "." in name:
            name = name.rpartition(".")[0]
            names.add(name)
    return frozenset(names)


@functools.cache
def tree(name: str) -> ast.Module:
    module = modules()[name]
    return ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_statements(node: ast.AST):
    """Every ``import``/``from ... import`` in ``node``, except inside ``if TYPE_CHECKING:``."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    elif isinstance(node, ast.If) and _is_type_checking(node.test):
        for statement in node.orelse:
            yield from import_statements(statement)
    else:
        for child in ast.iter_child_nodes(node):
            yield from import_statements(child)


def _closest_node(name: str) -> str:
    """``name`` if it is a module or package of ours, else its closest enclosing one."""
    while name not in nodes() and "." in name:
        name = name.rpartition(".")[0]
    return name


#: imports of our package that name no module or package (a stale import, or a resolver gap)
UNRESOLVED: list[str] = []


def _targets(module: Module, statement: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules of the package that one import statement points to."""
    if isinstance(statement, ast.Import):
        names = [alias.name for alias in statement.names]
        return [_resolve(module, statement, name) for name in names if _ours(name)]
    if statement.level:
        anchor = module.package.split(".")
        anchor = anchor[: len(anchor) - (statement.level - 1)]
        base = ".".join(anchor + ([statement.module] if statement.module else []))
    else:
        base = statement.module or ""
    if not _ours(base):
        return []
    targets = []
    for alias in statement.names:
        submodule = f"{base}.{alias.name}"
        targets.append(submodule if submodule in nodes() else _resolve(module, statement, base))
    return targets


def _ours(name: str) -> bool:
    return name == TOP or name.startswith(TOP + ".")


def _resolve(module: Module, statement: ast.stmt, name: str) -> str:
    if name not in nodes():
        UNRESOLVED.append(f"{module.where}:{statement.lineno}: {ast.unparse(statement)}")
    return _closest_node(name)


@functools.cache
def edges() -> tuple[Edge, ...]:
    found = []
    for name, module in modules().items():
        for statement in import_statements(tree(name)):
            text = ast.unparse(statement)
            for target in dict.fromkeys(_targets(module, statement)):
                if target != name:
                    found.append(Edge(name, target, statement.lineno, text))
    return tuple(found)


def layer(name: str) -> int | None:
    for pattern, number in LAYER_RULES:
        if re.fullmatch(pattern, name):
            return number
    return None


def _layer_text(name: str) -> str:
    number = layer(name)
    return "no layer" if number is None else f"{number} {LAYER_NAMES[number]}"


def _cycles() -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    graph: dict[str, set[str]] = {name: set() for name in nodes()}
    for edge in edges():
        graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _one_cycle(component: list[str]) -> list[Edge]:
    """A shortest cycle through the first node of a strongly connected component, as edges."""
    members = set(component)
    out: dict[str, list[Edge]] = {}
    for edge in edges():
        if edge.source in members and edge.target in members:
            out.setdefault(edge.source, []).append(edge)
    start = component[0]
    paths: dict[str, list[Edge]] = {start: []}
    queue = [start]
    for node in queue:
        for edge in out.get(node, []):
            if edge.target == start:
                return paths[node] + [edge]
            if edge.target not in paths:
                paths[edge.target] = paths[node] + [edge]
                queue.append(edge.target)
    raise AssertionError(f"no cycle through {start} in {component}")  # cannot happen in an SCC


def _edge_text(edge: Edge) -> str:
    return f"{edge.source} -> {edge.target}  ({modules()[edge.source].where}:{edge.line}: {edge.what})"


def test_the_package_is_found():
    """The other tests see the package (a guard against passing on an empty graph)."""
    assert f"{TOP}.errors" in modules()
    assert any(name.startswith(f"{TOP}.algorithms.") for name in modules())
    assert any(name.startswith(f"{TOP}.search_spaces.") for name in modules())
    assert edges()


def test_each_module_name_once():
    modules()
    shadowed = [f"{module.where} (hidden by {modules()[module.name].where})" for module in SHADOWED]
    assert not shadowed, "files that Python never imports:\n  " + "\n  ".join(shadowed)


def test_no_import_cycles():
    components = _cycles()
    lines = []
    for component in components:
        chain = _one_cycle(component)
        lines.append(f"cycle among {len(component)} modules ({', '.join(component)}); one of its loops:")
        lines += [f"    {_edge_text(edge)}" for edge in chain]
    assert not components, "the package's imports go in circles:\n" + "\n".join(lines)


def test_every_module_has_a_layer():
    missing = [f"{name} ({module.where})" for name, module in modules().items() if layer(name) is None]
    assert not missing, "modules in no layer; place each in LAYER_RULES of tests/test_house.py:\n  " + "\n  ".join(
        missing
    )


def test_imports_point_down():
    upward = []
    for edge in edges():
        source, target = layer(edge.source), layer(edge.target)
        if source is not None and target is not None and target > source:
            upward.append(
                f"{edge.source} ({_layer_text(edge.source)}) -> {edge.target} ({_layer_text(edge.target)}), "
                f"{modules()[edge.source].where}:{edge.line}"
            )
    assert not upward, f"{len(upward)} imports point to a higher layer:\n  " + "\n  ".join(upward)


def test_no_long_modules():
    long = []
    for module in [*modules().values(), *SHADOWED]:
        count = len(module.path.read_text(encoding="utf-8").splitlines())
        if count > MAX_LINES:
            long.append(f"{module.where}: {count} lines")
    assert not long, f"modules over {MAX_LINES} lines; split them:\n  " + "\n  ".join(long)


def _argparse_uses(name: str):
    """``(line, what)`` for each import of argparse and each ``argparse.Namespace`` in a module."""
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.Import):
            if any(alias.name.split(".")[0] == "argparse" for alias in node.names):
                yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").split(".")[0] == "argparse":
                yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Attribute):
            if node.attr == "Namespace" and isinstance(node.value, ast.Name) and node.value.id == "argparse":
                yield node.lineno, "argparse.Namespace"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # a quoted annotation such as "argparse.Namespace" (docstrings are text, not names)
            if re.fullmatch(r"[\w.\[\], |]*\bargparse\.Namespace\b[\w.\[\], |]*", node.value.strip()):
                yield node.lineno, repr(node.value)


def test_argparse_only_on_the_command_line():
    found = []
    for name, module in modules().items():
        number = layer(name)
        if number is not None and number >= CLI_LAYER:
            continue
        for line, what in _argparse_uses(name):
            found.append(f"{name} ({_layer_text(name)}), {module.where}:{line}: {what}")
    assert not found, "argparse below the command line (layers 0-5 must not use it):\n  " + "\n  ".join(found)
