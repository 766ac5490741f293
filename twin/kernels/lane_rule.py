"""The rule's coefficients (:func:`.train_step.coefficients`) for realizations in lanes.

Every small matrix of that function is held as rows of :data:`.simd.WIDTH` lanes (matrix ``M``
at row offset ``oM``, element ``(i, j)`` in row ``oM + i * c + j``), so each of its scalar
operations becomes one vector operation on all lanes, in the same order: a lane's error, powers
and quadratic form are bit for bit those of the one-realization function. Scalars shared by the
lanes (``eta``, ``1 / m``, 2) are rows of equal values; ``lam`` is a row of the lanes' own.

:func:`lane_examples` gathers the lanes' training examples into rows once per call of the
stepper; :func:`lane_coefficients` computes the quantities from the lanes' ``S`` (rows
``(c, c)``, :func:`.lanes.lane_basis`) and :func:`lane_form` writes the quadratic form's
coefficients in the order :func:`.simd.lane_rate` reads them.
"""

from __future__ import annotations

from ._jit import Arr, jit
from .simd import (
    WIDTH,
    add_mul,
    add_row,
    add_to,
    copy_row,
    div_to,
    mul_by,
    mul_to,
    pivot,
    sub_mul,
    sub_to,
)

__all__ = ["lane_coefficients", "lane_examples", "lane_form", "rule_rows", "single_row"]

W = WIDTH
#: Matrices (``c * c`` rows each) of the scratch, then the vectors ``y`` and ``e`` (``c`` rows
#: each), then :data:`_SINGLE` single rows.
_MATS = 12
_SINGLE = 14


@jit
def rule_rows(c: int) -> int:
    """Rows of scratch :func:`lane_coefficients` needs for ``c`` constraint rows."""
    return _MATS * c * c + 2 * c + _SINGLE


@jit
def single_row(c: int, k: int) -> int:
    """Row of single row ``k``: 0 out, 1 tot, 2 err, 3 P_F, 4 P_C, 5 p_extra, 6 acc, 7 v,
    8 eta, 9 1/m, 10 lam, 11 ok, 12 the pivots' reciprocals, 13 the number 2."""
    return _MATS * c * c + 2 * c + k


@jit
def lane_examples(idx: Arr, inputs: Arr, desired: Arr, moment: Arr, ex: Arr) -> None:
    """The examples of lanes ``idx`` into rows: inputs ``(m, ns)``, outputs ``(m, nt)``, then
    ``sum b b^T`` ``(ns, ns)`` (realization ``r``'s arrays are ``inputs[r]``, ...)."""
    m, ns, nt = inputs.shape[1], inputs.shape[2], desired.shape[2]
    for w in range(W):
        r = idx[w]
        for a in range(m):
            for j in range(ns):
                ex[(a * ns + j) * W + w] = inputs[r, a, j]
            for j in range(nt):
                ex[(m * ns + a * nt + j) * W + w] = desired[r, a, j]
        for i in range(ns):
            for j in range(ns):
                ex[(m * (ns + nt) + i * ns + j) * W + w] = moment[r, i, j]


@jit
def _set(z: Arr, row: int, value: float) -> None:
    z[row * W : (row + 1) * W] = value


@jit
def _mm(
    out: Arr, o: int, so: int, a: Arr, oa: int, sa: int, b: Arr, ob: int, sb: int, m: int,
    k: int, n: int,
) -> None:  # fmt: skip
    """:func:`.small.mm` in lanes; each matrix given as (array, first row, row stride)."""
    for i in range(m):
        for j in range(n):
            _set(out, o + i * so + j, 0.0)
            for q in range(k):
                add_mul(out, o + i * so + j, a, oa + i * sa + q, b, ob + q * sb + j)


@jit
def _inverse(z: Arr, s: Arr, c: int, m: int, out: int) -> None:
    """:func:`.small.small_inverse` of the leading ``m x m`` block of ``s`` (rows ``(c, c)``)
    into the matrix at row ``out`` of ``z``; a lane whose block is not positive definite gets a
    0 in the ok row (and values that are not used)."""
    f, y = 0, _MATS * c * c
    acc, v = single_row(c, 6), single_row(c, 7)
    ok, inv = single_row(c, 11), single_row(c, 12)
    for i in range(m):
        for j in range(i + 1):
            copy_row(z, f + i * c + j, s, i * c + j)
    for j in range(m):
        copy_row(z, acc, z, f + j * c + j)
        for p in range(j):
            sub_mul(z, acc, z, f + j * c + p, z, f + j * c + p)
        pivot(z, acc, z[inv * W : (inv + 1) * W], z[ok * W : (ok + 1) * W])
        copy_row(z, f + j * c + j, z, acc)
        for r in range(j + 1, m):
            copy_row(z, v, z, f + r * c + j)
            for p in range(j):
                sub_mul(z, v, z, f + r * c + p, z, f + j * c + p)
            div_to(z, f + r * c + j, z, v, z, f + j * c + j)
    for col in range(m):
        for i in range(m):  # F y = e_col
            _set(z, v, 1.0 if i == col else 0.0)
            for q in range(i):
                sub_mul(z, v, z, f + i * c + q, z, y + q)
            div_to(z, y + i, z, v, z, f + i * c + i)
        for i in range(m - 1, -1, -1):  # F^T x = y
            copy_row(z, v, z, y + i)
            for q in range(i + 1, m):
                sub_mul(z, v, z, f + q * c + i, z, out + q * c + col)
            div_to(z, out + i * c + col, z, v, z, f + i * c + i)


@jit
def lane_coefficients(s: Arr, c: int, ns: int, m: int, ex: Arr, lam: Arr, eta: float,
                      z: Arr) -> None:  # fmt: skip
    """:func:`.train_step.coefficients` of the lanes with ``S`` in ``s`` and examples ``ex``.

    ``lam`` holds the lanes' lambdas. Results in the scratch ``z``
    (:func:`rule_rows` rows): the error (V^2, mean) in single row 2, ``P_F`` and ``P_C`` (W) in
    rows 3 and 4, the form ``q`` in matrix 11 and, in row 11, 1 where the lane's ``S`` was
    positive definite and 0 where not.
    """
    nt = c - ns
    cc = c * c
    a_inv, s_inv, wm, be, ee, am, ab = cc, 2 * cc, 3 * cc, 4 * cc, 5 * cc, 6 * cc, 7 * cc
    cross, ze, mf, q = 8 * cc, 9 * cc, 10 * cc, 11 * cc
    e = _MATS * cc + c
    out, tot, err, pf, pc, pe = (single_row(c, 0), single_row(c, 1), single_row(c, 2),
                                 single_row(c, 3), single_row(c, 4), single_row(c, 5))  # fmt: skip
    acc, v, r_eta, r_invm = single_row(c, 6), single_row(c, 7), single_row(c, 8), single_row(c, 9)
    r_lam, ok = single_row(c, 10), single_row(c, 11)
    _set(z, ok, 1.0)
    _set(z, r_eta, eta)
    _set(z, r_invm, 1.0 / m)
    z[r_lam * W : (r_lam + 1) * W] = lam
    _inverse(z, s, c, ns, a_inv)
    _inverse(z, s, c, c, s_inv)
    _mm(z, wm, c, s, ns * c, c, z, a_inv, c, nt, ns, ns)  # free outputs per input volt
    # example_moments
    for i in range(ns):
        for j in range(nt):
            _set(z, be + i * c + j, 0.0)
    for i in range(nt):
        for j in range(nt):
            _set(z, ee + i * c + j, 0.0)
    _set(z, err, 0.0)
    for x in range(m):
        _set(z, tot, 0.0)
        for i in range(nt):
            _set(z, out, 0.0)
            for j in range(ns):
                add_mul(z, out, z, wm + i * c + j, ex, x * ns + j)
            sub_to(z, e + i, ex, m * ns + x * nt + i, z, out)
            add_mul(z, tot, z, e + i, z, e + i)
        add_row(z, err, z, tot)
        for i in range(ns):
            for j in range(nt):
                add_mul(z, be + i * c + j, ex, x * ns + i, z, e + j)
        for i in range(nt):
            for j in range(nt):
                add_mul(z, ee + i * c + j, z, e + i, z, e + j)
    _mm(z, am, c, z, a_inv, c, ex, m * (ns + nt), ns, ns, ns, ns)  # A sum(b b^T)
    _set(z, pf, 0.0)
    for i in range(ns):
        add_row(z, pf, z, am + i * c + i)
    mul_by(z, pf, z, r_invm)
    _set(z, pe, 0.0)
    for i in range(nt):
        for j in range(nt):
            add_mul(z, pe, z, s_inv + (ns + i) * c + ns + j, z, ee + j * c + i)
    mul_to(z, pc, z, r_eta, z, r_eta)
    mul_by(z, pc, z, pe)
    mul_by(z, pc, z, r_invm)
    add_to(z, pc, z, pf, z, pc)
    _mm(z, ab, c, z, a_inv, c, z, be, c, ns, ns, nt)
    for i in range(ns):
        for j in range(c):
            _set(z, acc, 0.0)
            for l2 in range(nt):
                add_mul(z, acc, z, ab + i * c + l2, z, s_inv + j * c + ns + l2)
            mul_to(z, cross + i * c + j, z, r_eta, z, acc)
    for i in range(c):
        for j in range(nt):
            _set(z, acc, 0.0)
            for l2 in range(nt):
                add_mul(z, acc, z, s_inv + i * c + ns + l2, z, ee + l2 * c + j)
            mul_to(z, ze + i * c + j, z, r_eta, z, acc)
    _mm(z, mf, c, z, am, c, z, a_inv, c, ns, ns, ns)  # sum mu_F mu_F^T
    for i in range(c):
        for j in range(c):
            _set(z, v, 0.0)
            for l2 in range(nt):
                add_mul(z, v, z, ze + i * c + l2, z, s_inv + j * c + ns + l2)
            mul_by(z, v, z, r_eta)
            if i < ns:
                add_row(z, v, z, cross + i * c + j)
                if j < ns:
                    add_mul(z, v, z, r_lam, z, mf + i * c + j)
            if j < ns:
                add_row(z, v, z, cross + j * c + i)
            mul_to(z, q + i * c + j, z, v, z, r_invm)
    mul_by(z, err, z, r_invm)


@jit
def lane_form(z: Arr, c: int, scale: float, qc: Arr) -> None:
    """The form of :func:`lane_coefficients` (``c <= 4``, padded to 4 x 4 with zeros) as
    :func:`.simd.lane_rate` reads it: ``q00, 2 q01, 2 q02, 2 q03, q11, 2 q12, 2 q13, q22, 2 q23,
    q33``, then ``scale`` (the written-out form of :func:`.train_step.edge_rates4`)."""
    q, two = 11 * c * c, single_row(c, 13)
    _set(z, two, 2.0)
    row = 0
    for i in range(4):
        for j in range(i, 4):
            if i >= c or j >= c:  # a column of no constraint: its form is 0
                _set(qc, row, 0.0)
            elif i == j:
                copy_row(qc, row, z, q + i * c + j)
            else:
                mul_to(qc, row, z, two, z, q + i * c + j)
            row += 1
    _set(qc, 10, scale)
