import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    d = os.environ.get("GRADSIGN_NAS_DATA", "../shared/data")
    p = Path(d)
    return p if p.is_absolute() else (ROOT / p).resolve()


def reference_file(relative: str) -> Path:
    """A cross-check file of the data directory's ``reference/`` folder. These are derived tables that
    `gradsign-nas data download` does not fetch: a test that needs one is skipped without it."""
    p = data_dir() / "reference" / relative
    if not p.is_file():
        pytest.skip(
            f"cross-check file reference/{relative} is not in the data directory (data download does not fetch it)"
        )
    return p


class CountingEvaluator:
    """Wraps an evaluator and counts the evaluations it does in this process."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.space, self.fidelities = inner.space, inner.fidelities

    def evaluate(self, arch, fidelity=None):
        self.calls += 1
        return self.inner.evaluate(arch, fidelity)


@pytest.fixture(scope="session")
def data_path() -> Path:
    return data_dir()


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Derived caches go to a temporary folder, never the user's home."""
    old = os.environ.get("GRADSIGN_NAS_CACHE")
    os.environ["GRADSIGN_NAS_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    yield
    if old is None:
        os.environ.pop("GRADSIGN_NAS_CACHE", None)
    else:
        os.environ["GRADSIGN_NAS_CACHE"] = old
