"""The suite runs on OpenBLAS's Haswell kernels and numpy without its AVX-512 loops on every x86-64
machine with AVX2 and FMA (``tests/conftest.py``): a seeded run's bits, and so the outcome of a
test of one board, do not depend on which CPU the suite lands on."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import BLAS_KERNELS, NUMPY_WITHOUT, PINNED

pytestmark = pytest.mark.skipif(not PINNED, reason="pinned on x86-64 with AVX2 and FMA only")

_REPORT = (
    "import numpy as np; from threadpoolctl import threadpool_info; np.ones(2) @ np.ones(2);"
    "print(','.join(sorted({i['architecture'] for i in threadpool_info()"
    " if i.get('internal_api') == 'openblas'})))"
)


def _kernels(env: dict[str, str]) -> str:
    """The OpenBLAS kernels a fresh interpreter with ``env`` runs (its name for them)."""
    run = subprocess.run(
        [sys.executable, "-c", _REPORT], capture_output=True, text=True, check=True, env=env
    )
    return run.stdout.strip()


def test_the_suite_and_its_commands_run_on_the_pinned_kernels() -> None:
    from threadpoolctl import threadpool_info

    np.ones(2) @ np.ones(2)  # numpy's BLAS is loaded
    openblas = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
    here = ",".join(sorted({i["architecture"] for i in openblas}))
    if not here:
        pytest.skip("numpy is not linked against OpenBLAS here")
    assert os.environ["OPENBLAS_CORETYPE"] == BLAS_KERNELS
    assert os.environ["NPY_DISABLE_CPU_FEATURES"] == NUMPY_WITHOUT
    pinned = _kernels(os.environ | {"OPENBLAS_CORETYPE": BLAS_KERNELS})
    assert here == pinned  # this process (numpy loaded after conftest set it)
    assert _kernels(dict(os.environ)) == pinned  # a command a test runs inherits it
