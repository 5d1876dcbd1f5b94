"""Every example in the package's docstrings runs and prints what it shows (``# doctest: +SKIP``
marks the few that need a GPU, a cluster or minutes)."""

import doctest
import importlib
import pkgutil

import pytest

import gradsign_nas
import gradsign_nas.algorithms
import gradsign_nas.search_spaces


def _modules() -> list[str]:
    """Every module of the package, the two mapped sub-packages (algorithms/, search_spaces/) too."""
    names = {"gradsign_nas.algorithms", "gradsign_nas.search_spaces"}
    for pkg in (gradsign_nas, gradsign_nas.algorithms, gradsign_nas.search_spaces):
        names |= {m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")}
    return sorted(names)


MODULES = _modules()


def test_the_walk_finds_the_mapped_packages():
    assert "gradsign_nas.algorithms.bohb" in MODULES and "gradsign_nas.search_spaces.nb201" in MODULES


@pytest.mark.parametrize("name", [m for m in MODULES if not m.endswith("__main__")])
def test_docstring_examples(name, data_path, monkeypatch):
    monkeypatch.setenv("GRADSIGN_NAS_DATA", str(data_path))
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False, report=True
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
