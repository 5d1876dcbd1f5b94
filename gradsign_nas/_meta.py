"""What a run ran on: package versions, the git commit, Python, torch and CUDA, devices, CPUs, data.

``environment()`` is written into every run's ``run.json`` and every comparison's ``summary.json``.
It imports nothing heavy: versions come from the installed packages' metadata, CUDA details only when
torch is already imported, the commit from ``git`` with a short time-out when the package is a checkout.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Optional

PACKAGES = ("gradsign-nas", "torch", "numpy", "scipy", "ray", "hpbandster", "ConfigSpace", "pandas", "scikit-learn")

__all__ = ["PACKAGES", "data_checksums", "environment", "git_commit"]


def _version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def git_commit() -> Optional[str]:
    """The commit of the checkout this package runs from (``+dirty`` with local changes), or ``None``."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def data_checksums(keys: Iterable[str]) -> dict[str, str]:
    """The sha256 of the data files ``keys`` (``gradsign_nas.benchmarks._files.FILES``; each is verified
    against it when it is read)."""
    from gradsign_nas.benchmarks._files import FILES

    return {k: FILES[k].sha256 for k in keys if k in FILES}


def environment(data: Optional[dict] = None) -> dict[str, Any]:
    """The run's environment (JSON-ready). ``data``: checksums of the data files it reads."""
    env: dict[str, Any] = {
        "packages": {p: v for p in PACKAGES if (v := _version(p)) is not None},
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        env["torch_cuda"] = torch.version.cuda
        env["cuda_available"] = bool(torch.cuda.is_available())
        if env["cuda_available"]:
            env["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    if data:
        env["data"] = dict(data)
    return env
