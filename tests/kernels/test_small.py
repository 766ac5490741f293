"""The small dense solvers share one error convention: ``False`` on failure, never a raise."""

from __future__ import annotations

import math

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


def _reference_solve(f: np.ndarray, nn: int, y: np.ndarray) -> None:
    """``chol_solve`` a column at a time, in Python floats (the order of operations it keeps)."""
    for col in range(y.shape[1]):
        for r in range(nn):
            acc = float(y[r, col])
            for p in range(r):
                acc -= float(f[r, p]) * float(y[p, col])
            y[r, col] = acc / float(f[r, r])
        for r in range(nn - 1, -1, -1):
            acc = float(y[r, col])
            for p in range(r + 1, nn):
                acc -= float(f[p, r]) * float(y[p, col])
            y[r, col] = acc / float(f[r, r])


def _reference_cholesky(a: np.ndarray, nn: int) -> None:
    """The left-looking factor a row at a time, in Python floats."""
    for j in range(nn):
        d = float(a[j, j])
        for p in range(j):
            d -= float(a[j, p]) * float(a[j, p])
        d = math.sqrt(d)
        a[j, j] = d
        for r in range(j + 1, nn):
            acc = float(a[r, j])
            for p in range(j):
                acc -= float(a[r, p]) * float(a[j, p])
            a[r, j] = acc / d


@pytest.mark.parametrize("n", [1, 3, 15, 16])
@pytest.mark.parametrize("cols", [1, 2, 3, 4, 7])
def test_cholesky_and_solve_are_bit_for_bit_a_column_at_a_time(n: int, cols: int) -> None:
    """Rows and columns accumulated side by side keep each sum's order: the same bits."""
    a = _spd(n, seed=n + cols)
    f, ref = a.copy(), a.copy()
    assert small.dense_cholesky(f, n)
    _reference_cholesky(ref, n)
    assert np.array_equal(np.tril(f), np.tril(ref))
    y = np.random.default_rng(cols).standard_normal((n + 1, cols))
    out, expected = y.copy(), y.copy()
    small.chol_solve(f, n, out)
    _reference_solve(f, n, expected)
    assert np.array_equal(out, expected)
