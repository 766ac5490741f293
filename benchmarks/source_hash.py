"""The code a benchmark runs, as one hash that does not depend on the machine.

A behavioural fingerprint (``benchmarks/fa_evidence.py``) is exact bytes: the same code on a
machine whose BLAS picks other kernels (OpenBLAS's Haswell against its SkylakeX or Sandybridge
kernels) rounds differently, and a shadow run amplifies a last-bit difference into another run
(seed 2400's largest node-check score 0.819 on one machine, 0.877 on another, both fault-free,
the code byte for byte the same). So evidence also records the **source hash**: a SHA-256 over
the syntax trees of every project module that an entry module imports, directly or not
(:func:`import_closure`, read statically from the source, so it does not depend on what a
process happened to import before), with docstrings, comments, formatting and line numbers left
out. A move of a comment or a reformat keeps it; any change of code, even one that computes
the same numbers, changes it (the behavioural fingerprint still pools those on one machine).
Data files are not in it: a caller that reads one (the false-alarm curve) records what it read.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

__all__ = ["PACKAGES", "ROOT", "import_closure", "source_hash"]

ROOT = Path(__file__).resolve().parents[1]
#: The project's top-level packages (imports of anything else are the environment's).
PACKAGES = ("twin", "hw_bridge", "schemas", "benchmarks")


def _file(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _imports(module: str, path: Path) -> set[str]:
    """The project modules ``path`` (module ``module``) names in any import statement, at any
    depth (function-level and ``TYPE_CHECKING`` imports included: more, never less)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def import_closure(entry: str, root: Path = ROOT) -> dict[str, Path]:
    """Every project module ``entry`` imports, directly or not, with each package whose
    ``__init__`` an import runs: module name -> source file (names that are not modules,
    ``from twin.x import function``, are dropped)."""
    todo, seen = [entry], {}
    while todo:
        name = todo.pop()
        for module in _with_parents(name):
            if module in seen:
                continue
            path = _file(module, root)
            if path is None:
                continue
            seen[module] = path
            todo.extend(_imports(module, path))
    if entry not in seen:
        raise ModuleNotFoundError(f"source_hash: no module {entry!r} under {root}")
    return dict(sorted(seen.items()))


class _NoDocstrings(ast.NodeTransformer):
    def _strip(self, node: ast.AST) -> ast.AST:
        body = getattr(node, "body", None)
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:]  # type: ignore[attr-defined]
        return self.generic_visit(node)

    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _strip


def source_hash(entry: str, root: Path = ROOT) -> str:
    """16 hex digits of the SHA-256 of the docstring-free syntax trees of
    :func:`import_closure` ``(entry)``, each with its module name, in name order."""
    sha = hashlib.sha256()
    for module, path in import_closure(entry, root).items():
        tree = _NoDocstrings().visit(ast.parse(path.read_text(), str(path)))
        sha.update(module.encode() + b"\0")
        sha.update(ast.dump(tree, include_attributes=False).encode() + b"\0")
    return sha.hexdigest()[:16]
