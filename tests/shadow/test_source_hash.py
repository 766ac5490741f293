"""The machine-independent code identity of false-alarm evidence (``benchmarks/source_hash.py``):
the static import closure of an entry module, hashed without docstrings, comments or layout."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks.source_hash import ROOT, import_closure, source_hash


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


FILES = {
    "twin/__init__.py": "",
    "twin/pkg/__init__.py": "from .inner import g\n",
    "twin/pkg/inner.py": "def g():\n    return 2\n",
    "twin/a.py": '''
        """Entry."""
        import numpy  # the environment's, not in the closure
        from twin.b import f


        def h():
            from . import lazy  # a function-level import counts

            return f() + lazy.X
    ''',
    "twin/b.py": "from twin.pkg import g\n\n\ndef f():\n    return g()\n",
    "twin/lazy.py": "X = 1\n",
    "twin/unused.py": "Y = 3\n",
}


def test_the_closure_follows_every_import_and_each_package_init(tmp_path: Path) -> None:
    _write(tmp_path, FILES)
    assert list(import_closure("twin.a", tmp_path)) == [
        "twin", "twin.a", "twin.b", "twin.lazy", "twin.pkg", "twin.pkg.inner",
    ]  # fmt: skip
    with pytest.raises(ModuleNotFoundError, match=r"twin\.missing"):
        import_closure("twin.missing", tmp_path)


def test_the_hash_ignores_docstrings_comments_and_layout_and_follows_code(
    tmp_path: Path,
) -> None:
    _write(tmp_path, FILES)
    first = source_hash("twin.a", tmp_path)
    assert source_hash("twin.a", tmp_path) == first
    inner = tmp_path / "twin/pkg/inner.py"
    inner.write_text(
        '"""Now documented."""\n\n\ndef g():  # a comment\n    """Two."""\n\n    return (2)\n'
    )
    (tmp_path / "twin/unused.py").write_text("Y = 4\n")  # not imported by the entry
    assert source_hash("twin.a", tmp_path) == first
    inner.write_text("def g():\n    return 2.0\n")  # two levels down, the same value
    assert source_hash("twin.a", tmp_path) != first


@pytest.mark.slow
def test_the_closure_of_a_check_holds_every_project_module_a_check_loads() -> None:
    """Run in a fresh interpreter so that nothing imported before counts: what a real
    fault-free check loads (1 s of board time) must be in the static closure it is hashed by."""
    import os
    import subprocess

    code = textwrap.dedent("""
        import sys
        from benchmarks.fa_runs import CheckSettings, make_shadow
        from twin.shadow.alarm_curve import default_false_alarm_curve
        shadow = make_shadow(7, curve=default_false_alarm_curve(), hours=10.0,
                             settings=CheckSettings())
        try:
            shadow.run(0.3)
        finally:
            shadow.close()
        print("\\n".join(sorted(m for m in sys.modules
                                 if m.split(".")[0] in ("twin", "hw_bridge", "schemas"))))
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    ).stdout.split()  # fmt: skip
    assert len(out) > 50
    assert set(out) <= set(import_closure("benchmarks.fa_runs"))
