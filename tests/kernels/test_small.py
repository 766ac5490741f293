"""The small dense solvers share one error convention: ``False`` on failure, never a raise."""

from __future__ import annotations

import numpy as np
import pytest

from twin.errors import SolverError
from twin.kernels import small
from twin.kernels.status import OK, SINGULAR, raise_for_status


def _spd(n: int, seed: int = 0) -> np.ndarray:
    a = np.random.default_rng(seed).standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


@pytest.mark.parametrize("n", [5, small.LAPACK_ABOVE + 4])
def test_dense_cholesky_factors_or_reports(n: int) -> None:
    a = _spd(n)
    f = a.copy()
    assert small.dense_cholesky(f, n)
    lower = np.tril(f)
    np.testing.assert_allclose(lower @ lower.T, a, rtol=1e-12, atol=1e-12)
    bad = a.copy()
    bad[n // 2, n // 2] = -1.0
    assert not small.dense_cholesky(bad, n)


def test_small_cholesky_and_inverse_report_indefinite_matrices() -> None:
    a = _spd(4)
    f, y, out = np.zeros((4, 4)), np.zeros(4), np.zeros((4, 4))
    assert small.small_inverse(a, 4, f, y, out)
    np.testing.assert_allclose(out @ a, np.eye(4), atol=1e-12)
    a[2, 2] = 0.0
    assert not small.small_cholesky(a, 4, f)
    assert not small.small_inverse(a, 4, f, y, out)


def test_solve_small_solves_or_reports_a_vanishing_pivot() -> None:
    a = _spd(3)
    rhs = np.array([1.0, -2.0, 0.5])
    out, scratch = np.zeros(3), np.zeros((3, 4))
    assert small.solve_small(a, rhs, 3, out, scratch)
    np.testing.assert_allclose(a @ out, rhs, rtol=1e-12)
    singular = np.ones((3, 3))
    assert not small.solve_small(singular, rhs, 3, out, scratch)
    assert not small.solve_small(np.full((3, 3), np.nan), rhs, 3, out, scratch)


def test_status_codes_become_solver_errors() -> None:
    raise_for_status(OK, "realization 0")
    with pytest.raises(SolverError, match="realization 3 are singular"):
        raise_for_status(SINGULAR, "realization 3")
    with pytest.raises(ArithmeticError):  # SolverError is also the built-in it really is
        raise_for_status(SINGULAR, "x")
