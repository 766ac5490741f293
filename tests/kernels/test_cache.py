"""The kernels' on-disk cache is keyed on the whole package: editing a callee recompiles callers.

A tiny package using the same decorator (a copy of ``twin/kernels/_jit.py``) is compiled with
its cache in fresh subprocesses: the second run loads from the cache, and after an edit of the
callee's file the caller, defined in another file, returns the new value (numba's own cache
would load the caller's stale machine code: numba issues #1833, #9483).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import twin.kernels._jit as jit_module

CALLEE = "from ._jit import jit\n\n\n@jit\ndef value():\n    return {value}\n"
CALLER = (
    "from ._jit import jit\nfrom .callee import value\n\n\n"
    "@jit\ndef doubled():\n    return 2 * value()\n"
)
SCRIPT = (
    "import tinypkg.caller as c\nprint(c.doubled(), sum(c.doubled.stats.cache_hits.values()))\n"
)


def _run(root: Path) -> tuple[int, int]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env |= {"PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, cwd=root, capture_output=True, text=True,
        timeout=240, check=True,
    )  # fmt: skip
    result, hits = out.stdout.split()
    return int(result), int(hits)


def test_editing_a_callee_recompiles_its_caller(tmp_path: Path) -> None:
    pkg = tmp_path / "tinypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_jit.py").write_text(Path(jit_module.__file__).read_text())
    (pkg / "caller.py").write_text(CALLER)
    (pkg / "callee.py").write_text(CALLEE.format(value=1))
    assert _run(tmp_path) == (2, 0)  # compiled and cached
    assert _run(tmp_path) == (2, 1)  # loaded from the cache
    (pkg / "callee.py").write_text(CALLEE.format(value=21))
    assert _run(tmp_path) == (42, 0)  # the caller was recompiled, not loaded stale
    assert _run(tmp_path) == (42, 1)


def test_the_stamp_covers_every_file_of_the_package(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    first = jit_module.package_stamp(tmp_path)
    assert jit_module.package_stamp(tmp_path) == first
    (tmp_path / "sub" / "b.py").write_text("y = 3\n")
    assert jit_module.package_stamp(tmp_path) != first
