"""``make warm`` compiles every kernel module, so no command run by the tests or the demo pays a
first-run compilation (which, under load, outlasts a test's timeout).

The Makefile lists by hand the commands that compile each kernel; a new kernel module that none of
them calls would stay cold. This test imports every module of :mod:`twin.kernels` and asks the
cache (:func:`twin._kernel_cache.cold_kernel_modules`, which compiles nothing) whether each has a
fresh compiled index. It runs only where ``make warm`` has stamped the environment.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import pytest

import twin.kernels
from twin._kernel_cache import cold_kernel_modules

STAMP = Path(sys.prefix) / ".kernels-warm"


@pytest.mark.skipif(not STAMP.exists(), reason=f"make warm has not run here (no {STAMP})")
def test_make_warm_compiles_every_kernel_module() -> None:
    names = [m.name for m in pkgutil.walk_packages(twin.kernels.__path__, "twin.kernels.")]
    for name in names:
        importlib.import_module(name)
    assert len(names) >= 10
    cold = cold_kernel_modules("twin.kernels")
    assert cold == [], (
        f"cold after make warm: {cold}; if a kernel was edited since (or this is a worktree with "
        "its own kernels), run make warm again; otherwise add a command that compiles them to "
        "the Makefile's warm target"
    )
