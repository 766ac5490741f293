"""The resync estimator: the twin is resynced to an estimate from many frames, not one reading."""

from __future__ import annotations

import numpy as np

from twin.board.contract import BoardState
from twin.shadow.resync import ResyncEstimator, line_at


def _frame(seq: int, t_s: float, gate_v: np.ndarray) -> BoardState:
    return BoardState(
        board_id="b",
        epoch=1,
        seq=seq,
        t_s=t_s,
        wall_unix=0.0,
        mode="training",
        gate_v=gate_v,
        v_free_v=np.zeros(2),
        v_clamped_v=np.zeros(2),
        inputs_v=np.zeros(1),
        targets_v=np.zeros(1),
        eta=0.1,
        lam=0.0,
    )


def _feed(est: ResyncEstimator, board, twin, noise_v, rng, t_end_s=0.25, batch=10):
    """1 kHz frames of ``board(t)`` plus reading noise, compared in batches against
    ``twin(t)`` (the estimator interpolates the twin between comparisons)."""
    t = np.arange(1, round(t_end_s * 1000) + 1) * 1e-3
    est.reset(0.0, twin(0.0))
    for start in range(0, t.size, batch):
        ts = t[start : start + batch]
        frames = [
            _frame(start + i + 1, tt, board(tt) + noise_v * rng.standard_normal(3))
            for i, tt in enumerate(ts)
        ]
        est.add(frames, float(ts[-1]), twin(float(ts[-1])))
    return float(t[-1])


def test_line_at_recovers_a_line_and_falls_back_to_the_mean():
    t = np.linspace(0.0, 1.0, 7)
    values = np.stack([2.0 + 3.0 * t, -1.0 * t], axis=1)
    np.testing.assert_allclose(line_at(t, values, 2.0), [8.0, -2.0])
    np.testing.assert_allclose(line_at(t[:2], values[:2], 5.0), values[:2].mean(0))
    assert line_at(np.zeros(0), np.zeros((0, 2)), 0.0) is None


def test_a_twin_offset_from_the_board_is_recovered_through_the_interpolation():
    """Board = twin + (a + b t), the twin moving fast and curving: the fitted residual at the
    end is a + b t_end (a 10 ms chord of the twin's 0.4 V/s^2 curvature is off by < 5 uV)."""
    est = ResyncEstimator(fit_s=0.1)
    a, b = np.array([2e-3, -1e-3, 0.0]), np.array([0.01, 0.0, -0.02])

    def twin(t):
        return np.array([3.0, 2.5, 4.0]) + 0.5 * t + 0.2 * t**2

    t_end = _feed(est, lambda t: twin(t) + a + b * t, twin, 0.0, np.random.default_rng(0))
    np.testing.assert_allclose(est.offset(t_end), a + b * t_end, atol=5e-6)


def test_the_resync_estimate_is_several_times_less_noisy_than_one_reading():
    """1 mV reading noise: one reading's error is 1 mV; the fitted estimate's error over 100
    frames is about 0.2 mV (2/sqrt(100) for a line's end point): asserted below 0.35 mV over
    60 draws."""
    rng = np.random.default_rng(5)
    errors = []
    for _ in range(60):
        est = ResyncEstimator(fit_s=0.1)
        t_end = _feed(
            est, lambda t: np.full(3, 3.0) + 0.01 * t, lambda t: np.full(3, 3.0), 1e-3, rng
        )
        errors.append(est.offset(t_end) - 0.01 * t_end)
    rms = float(np.sqrt(np.mean(np.square(errors))))
    assert 0.1e-3 < rms < 0.35e-3


def test_edges_at_a_rail_and_an_empty_estimator_take_the_reading():
    est = ResyncEstimator()
    reported = np.array([1.01, 3.0, 5.49])
    np.testing.assert_array_equal(
        est.gates(0.1, np.array([1.2, 3.1, 5.0]), reported, (1.0, 5.5), 0.05), reported
    )
    t_end = _feed(
        est,
        lambda t: np.array([1.0, 3.0, 5.5]),
        lambda t: np.array([1.2, 2.9, 5.5]),
        0.0,
        np.random.default_rng(1),
    )
    got = est.gates(t_end, np.array([1.2, 2.9, 5.5]), np.array([1.0, 3.0, 5.5]), (1.0, 5.5), 0.05)
    np.testing.assert_allclose(got, [1.0, 3.0, 5.5], atol=1e-9)
