"""The layering contract (import-linter, ``[tool.importlinter]`` in pyproject.toml).

The contract must hold for the tree, must fail on an upward import or an import cycle, and must
name every package, so that a new package cannot slip past it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOTS = ("twin", "hw_bridge")
#: Directories below the root packages that hold no importable code (data, Alembic scripts,
#: runnable examples).
NOT_PACKAGES = {"twin/data", "twin/migrations", "twin/migrations/versions", "hw_bridge/examples"}


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert sorted(config["root_packages"]) == sorted(ROOTS)
    return config["contracts"]


def _contract(cid: str) -> dict:
    return next(c for c in _contracts() if c["id"] == cid)


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(lint), "--no-cache"],
        cwd=tree,
        env=dict(os.environ, PYTHONPATH=str(tree)),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages and the contract configuration."""
    for name in ROOTS:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    out = _lint(tree)
    assert out.returncode == 0, out.stdout + out.stderr


def test_an_upward_import_breaks_the_layers_contract(tree: Path) -> None:
    _append(tree / "twin/physics/solver.py", "from ..simulation import edge as _upward  # noqa")
    out = _lint(tree)
    assert out.returncode != 0
    assert "twin.physics is not allowed to import twin.simulation" in out.stdout


def test_an_import_cycle_breaks_the_acyclic_contract(tree: Path) -> None:
    _append(tree / "twin/physics/network.py", "from . import task as _cycle  # noqa")
    out = _lint(tree)
    assert out.returncode != 0
    assert "No import cycles" in out.stdout
    assert "BROKEN" in out.stdout


def _packages() -> list[str]:
    found = []
    for name in ROOTS:
        for d in sorted([ROOT / name, *(ROOT / name).rglob("*")]):
            rel = d.relative_to(ROOT).as_posix()
            code = d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
            if code and rel not in NOT_PACKAGES:
                found.append(rel)
    return found


def test_every_code_directory_is_a_regular_package() -> None:
    # A directory without __init__.py is a namespace package: import-linter would not see it.
    missing = [d for d in _packages() if not (ROOT / d / "__init__.py").is_file()]
    assert not missing


def test_every_package_and_top_level_module_is_in_a_contract() -> None:
    # a layer may hold independent siblings: "hw_bridge | twin.sweeps"
    layers = {part.strip() for layer in _contract("layers")["layers"] for part in layer.split("|")}
    named = layers | set(_contract("beside")["source_modules"])
    top = {d.replace("/", ".") for d in _packages() if d.count("/") == 1}
    top |= {f"twin.{p.stem}" for p in (ROOT / "twin").glob("*.py") if p.stem != "__init__"}
    top -= {"twin.__main__"}
    assert top <= named, f"not placed in a layer: {sorted(top - named)}"
    assert set(_contract("no-cycles")["ancestors"]) == set(ROOTS)
