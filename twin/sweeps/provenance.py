"""The code version recorded beside every sweep result (provenance, never part of a cell id)."""

from __future__ import annotations

import functools
import hashlib
import subprocess
from pathlib import Path

from ..documents import code_version as package_version

__all__ = ["code_version"]

_PACKAGE = Path(__file__).resolve().parent.parent
#: Longest code version stored (the ledger's column width).
MAX_LENGTH = 64


def _git_describe() -> str | None:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=_PACKAGE,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = out.stdout.strip()
    return text if out.returncode == 0 and text else None


def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@functools.cache
def code_version() -> str:
    """``VERSION+git.DESCRIBE`` in a git checkout, else ``VERSION+src.HASH`` of the sources."""
    describe = _git_describe()
    tail = f"git.{describe}" if describe else f"src.{_source_hash()}"
    return f"{package_version()}+{tail}"[:MAX_LENGTH]
