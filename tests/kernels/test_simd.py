"""The vector operations on rows of lanes (:mod:`twin.kernels.simd`) and the rule's coefficients
in lanes (:mod:`twin.kernels.lane_rule`) compute, lane by lane, exactly what the scalar code
computes: the same IEEE operations in the same order, bit for bit."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from twin.kernels.lane_rule import (
    lane_coefficients,
    lane_examples,
    lane_form,
    rule_rows,
    single_row,
)
from twin.kernels.simd import (
    WIDTH,
    add_mul,
    add_row,
    add_to,
    copy_row,
    div_to,
    lane_rate,
    mul_by,
    mul_to,
    pivot,
    rank4,
    sub_mul,
    sub_row,
    sub_to,
)
from twin.kernels.train_step import coefficients


@numba.njit
def _apply(v: np.ndarray, x: np.ndarray, q: np.ndarray, out: np.ndarray, inv: np.ndarray,
           flags: np.ndarray) -> None:  # fmt: skip
    sub_mul(v, 0, v, 1, v, 2)
    add_mul(v, 3, v, 1, v, 2)
    mul_by(v, 4, v, 1)
    div_to(v, 5, v, 1, v, 2)
    rank4(v, 6, v, 0, v, 1, v, 2, v, 3, v, 4, v, 5, v, 7, v, 8)
    add_row(v, 9, v, 1)
    sub_row(v, 10, v, 2)
    copy_row(v, 11, v, 3)
    add_to(v, 12, v, 1, v, 2)
    sub_to(v, 13, v, 1, v, 2)
    mul_to(v, 14, v, 1, v, 2)
    pivot(v, 15, inv, flags)
    lane_rate(out, 2, x, 0, x, 4, q, 0)


def test_each_operation_is_the_scalar_expression_lane_by_lane() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(16, WIDTH))
    v[15] = np.abs(v[15]) + 0.1
    v[15, :3] = [-1.0, 0.0, np.nan]  # pivots that are not positive
    x, q = rng.normal(size=(8, WIDTH)), rng.normal(size=(11, WIDTH))
    out, inv, flags = np.zeros((3, WIDTH)), np.zeros(WIDTH), np.ones(WIDTH)
    e = v.copy()
    _apply(v.ravel(), x.ravel(), q.ravel(), out.ravel(), inv, flags)
    e[0] = e[0] - e[1] * e[2]
    e[3] = e[3] + e[1] * e[2]
    e[4] = e[4] * e[1]
    e[5] = e[1] / e[2]
    e[6] = e[6] - ((e[0] * e[1] + e[2] * e[3]) + (e[4] * e[5] + e[7] * e[8]))
    e[9], e[10], e[11] = e[9] + e[1], e[10] - e[2], e[3]
    e[12], e[13], e[14] = e[1] + e[2], e[1] - e[2], e[1] * e[2]
    bad = ~(e[15] > 0.0)
    e[15] = np.sqrt(np.where(bad, 1.0, e[15]))
    assert np.array_equal(v, e)
    assert np.array_equal(inv, 1.0 / e[15])
    assert flags.tolist() == [0.0] * 3 + [1.0] * (WIDTH - 3)
    g = x[:4] - x[4:]
    q00, q01, q02, q03, q11, q12, q13, q22, q23, q33, scale = q
    quad = g[0] * (q00 * g[0] + q01 * g[1] + q02 * g[2] + q03 * g[3])
    quad = quad + g[1] * (q11 * g[1] + q12 * g[2] + q13 * g[3])
    rate = scale * (quad + g[2] * (q22 * g[2] + q23 * g[3]) + q33 * g[3] * g[3])
    assert np.array_equal(out[2], rate)
    assert not out[:2].any()  # only the output row is written


@pytest.mark.parametrize(("c", "ns"), [(4, 2), (3, 1), (3, 2), (2, 1)])
def test_lane_coefficients_equal_the_scalar_coefficients(c: int, ns: int) -> None:
    rng = np.random.default_rng(c * 10 + ns)
    m, nt = 7, c - ns
    a = rng.normal(size=(WIDTH, c, c + 2))
    s_mats = np.einsum("wij,wkj->wik", a, a) * np.exp(rng.uniform(-3, 3, (WIDTH, 1, 1)))
    s_mats[5, 0, 0] = -1.0  # a lane whose S is not positive definite
    inputs = rng.uniform(-1, 1, (WIDTH, m, ns))
    desired = rng.uniform(-1, 1, (WIDTH, m, nt))
    moment = np.einsum("rmi,rmj->rij", inputs, inputs)
    lam = rng.uniform(0, 1e-2, WIDTH)
    eta = 1e-3
    idx = np.arange(WIDTH, dtype=np.int64)
    ex = np.zeros((m * (ns + nt) + ns * ns) * WIDTH)
    lane_examples(idx, inputs, desired, moment, ex)
    s_rows = np.ascontiguousarray(s_mats.transpose(1, 2, 0)).ravel()
    z = np.zeros(rule_rows(c) * WIDTH)
    lane_coefficients(s_rows, c, ns, m, ex, lam, eta, z)
    qc = np.zeros(11 * WIDTH)
    lane_form(z, c, -500.0, qc)
    rows = z.reshape(-1, WIDTH)
    for w in range(WIDTH):
        q = np.zeros((4, 4))
        ok, err, pf, pc = coefficients(s_mats[w].copy(), ns, inputs[w], desired[w], moment[w],
                                       lam[w], eta, np.zeros((12, c, c)), q)  # fmt: skip
        assert ok == (rows[single_row(c, 11), w] > 0.0) == (w != 5)
        if not ok:
            continue
        got = [rows[single_row(c, t), w] for t in (2, 3, 4)]
        assert got == [err, pf, pc]  # bit for bit
        form = [q[i, j] * (1.0 if i == j else 2.0) for i in range(4) for j in range(i, 4)]
        assert qc.reshape(-1, WIDTH)[:, w].tolist() == [*form, -500.0]
