"""Cold-cache detection: a kernel module is cold until its first compilation is cached."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    from twin._kernel_cache import cold_kernel_modules
    import fakekern.kern as kern
    print("before", cold_kernel_modules("fakekern"))
    kern.add_one(1.0)
    print("after", cold_kernel_modules("fakekern"))
    """
)


def test_a_module_is_cold_until_its_kernel_is_compiled_and_cached(tmp_path) -> None:
    pkg = tmp_path / "src" / "fakekern"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "kern.py").write_text(
        "import numba\n\n@numba.njit(cache=True)\ndef add_one(x):\n    return x + 1.0\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "src"), str(ROOT)])
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["before ['fakekern.kern']", "after []"]


def test_nothing_is_cold_before_numba_is_imported() -> None:
    code = "import sys; from twin._kernel_cache import cold_kernel_modules as c; "
    code += "print(c(), 'numba' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "[] False", out.stderr
