"""Every module's ``__all__`` names exist (lazily imported names included) and are unique."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import hw_bridge
import twin


def _modules() -> list[str]:
    names = []
    for pkg in (twin, hw_bridge):
        names.append(pkg.__name__)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg.__name__}."):
            if not info.name.endswith("__main__"):
                names.append(info.name)
    return sorted(names)


def test_the_walk_finds_every_layer() -> None:
    names = set(_modules())
    for pkg in ("cli", "kernels", "learning", "ledger", "physics", "simulation"):
        assert f"twin.{pkg}" in names


@pytest.mark.parametrize("name", _modules())
def test_every_name_in_all_exists(name: str) -> None:
    module = importlib.import_module(name)
    public = getattr(module, "__all__", None)
    if name.rsplit(".", 1)[-1].startswith("_") and public is None:
        return  # private helper module without a public list
    assert public is not None, f"{name} has no __all__"
    assert len(set(public)) == len(public), f"{name}.__all__ repeats a name"
    missing = [n for n in public if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
