"""The node tests' threshold tracker: slow threshold drift followed from clean tests, a jump not
absorbed by the node test, the offsets' uncertainty bounded by the prior."""

from __future__ import annotations

import numpy as np
import pytest

from twin.board.errors import BridgeConfigError
from twin.shadow.threshold_track import ThresholdTrackConfig, ThresholdTracker

N_NODES, N_EDGES = 13, 32


def _sensitivity(rng: np.random.Generator) -> np.ndarray:
    """A node-by-edge sensitivity like a board's: each node feels a few edges strongly, and which
    edges conduct changes as the gates move (some columns are zero: edges in cutoff)."""
    sens = rng.normal(0.0, 0.05, (N_NODES, N_EDGES))
    strong = rng.integers(0, N_EDGES, (N_NODES, 3))
    for i, cols in enumerate(strong):
        sens[i, cols] += rng.uniform(0.2, 0.6, 3)
    sens[:, rng.random(N_EDGES) < 0.3] = 0.0
    return sens


def test_a_drifting_threshold_is_followed_and_explains_the_residual() -> None:
    """Thresholds ramping at realistic rates (tens of mV per board-hour, here 100 times faster
    over 36 s so the test is short, with a walk to match) are tracked: the residual beyond the
    tracked thresholds is the reads' noise, where the raw residual is many times it."""
    rng = np.random.default_rng(5)
    rate_v_per_s = rng.normal(0.0, 2.0 / 3600.0, N_EDGES)  # 2 V per board-hour (sd)
    noise_v = 3e-4
    cfg = ThresholdTrackConfig(prior_sd_v=0.1, walk_v_per_sqrt_s=0.01)
    tracker = ThresholdTracker(N_EDGES, cfg)
    raw_late, left_late, beyond_late = [], [], []
    for k in range(144):  # a test every 0.25 s
        t_s = 0.25 * k
        sens = _sensitivity(rng)
        se = np.full(N_NODES, noise_v)
        res = -sens @ (rate_v_per_s * t_s) + rng.normal(0.0, noise_v, N_NODES)
        shift, var = tracker.correction(sens)
        if k >= 100:
            raw_late.append(res)
            left_late.append(res - shift)
            beyond_late.append((res - shift) / np.sqrt(se**2 + var + cfg.model_sd_v**2))
        tracker.update(t_s, sens, res, se)
    raw = np.sqrt(np.mean(np.square(raw_late)))
    assert raw > 10 * noise_v  # the drift is far beyond the reads' noise untracked
    assert np.sqrt(np.mean(np.square(left_late))) < 0.2 * raw  # the tracked part explains it
    z = np.asarray(beyond_late)
    assert np.sqrt(np.mean(z**2)) < 2.0  # and within the stated uncertainty tracked
    truth = rate_v_per_s * 0.25 * 143
    assert np.corrcoef(tracker.theta_v, truth)[0, 1] > 0.9
    assert tracker.updates == 144


def test_the_offsets_never_grow_more_uncertain_than_the_prior() -> None:
    cfg = ThresholdTrackConfig(prior_sd_v=0.02)
    tracker = ThresholdTracker(N_EDGES, cfg)
    rng = np.random.default_rng(1)
    sens = _sensitivity(rng)
    tracker.update(0.0, sens, np.zeros(N_NODES), np.full(N_NODES, 1e-4))
    seen = np.sqrt(np.diag(tracker.cov_v2))
    assert np.all(seen <= cfg.prior_sd_v + 1e-15)
    assert np.min(seen) < 0.5 * cfg.prior_sd_v  # the test informed the edges it feels
    tracker.update(1e6, sens, np.zeros(N_NODES), np.full(N_NODES, 1e-4))  # a long gap
    assert np.all(np.sqrt(np.diag(tracker.cov_v2)) <= cfg.prior_sd_v * (1 + 1e-12))
    np.testing.assert_allclose(tracker.cov_v2, tracker.cov_v2.T, atol=1e-18)


def test_offsets_stay_within_their_range() -> None:
    cfg = ThresholdTrackConfig(prior_sd_v=1.0, range_v=0.05)
    tracker = ThresholdTracker(N_EDGES, cfg)
    sens = np.eye(N_NODES, N_EDGES)
    tracker.update(0.0, sens, np.full(N_NODES, -2.0), np.full(N_NODES, 1e-4))
    assert np.max(np.abs(tracker.theta_v)) == pytest.approx(0.05)


@pytest.mark.parametrize(
    "field", ["prior_sd_v", "walk_v_per_sqrt_s", "model_sd_v", "learn_below", "range_v"]
)
def test_settings_must_be_positive(field: str) -> None:
    with pytest.raises(BridgeConfigError, match=field):
        ThresholdTrackConfig(**{field: 0.0})


#: Boards of the drifting-threshold check and the board seconds each is shadowed.
DRIFT_BOARDS, DRIFT_S = (11, 12, 13), 60.0


def _drifting_shadow(
    seed: int, track: ThresholdTrackConfig | None, *, until_alarm: bool = False
) -> list[object]:
    """Board ``seed`` (true edges: a perfect calibration) whose thresholds ramp at 4 V per
    board-hour (sd over edges; 200 times :class:`~twin.board.drift.SlowDrift`'s 20 mV so that
    60 s drift as far as 3.3 board-hours would), shadowed with the node check every 0.25 s for
    :data:`DRIFT_S` (``until_alarm``: or until the first node alarm, 5 s at a time): its node
    alarms."""
    from tests.shadow.test_probe import KNOWN_BOARD, board
    from twin.board.drift import SlowDrift, slow_drift
    from twin.board.inprocess import InProcessBoard
    from twin.shadow.shadow import Shadow, ShadowConfig

    emu = board(seed)
    drift = SlowDrift(gain_rel_per_hour=0.0, threshold_v_per_hour=4.0, step_s=0.05)
    faults = slow_drift(32, duration_s=DRIFT_S + 1, drift=drift, rng=np.random.default_rng(seed))
    sh = Shadow(
        InProcessBoard(emu, faults=faults),
        ShadowConfig(node_every_s=0.25, track_thresholds=track),
        rng=np.random.default_rng(2),
        edges=emu.edges,
        spread=KNOWN_BOARD,
    )
    for until_s in np.arange(5.0, DRIFT_S + 1.0, 5.0) if until_alarm else [DRIFT_S]:
        sh.run(float(until_s))
        if until_alarm and any(a.source == "nodes" for a in sh.alarms):
            break
    sh.close()
    return [a for a in sh.alarms if a.source == "nodes"]


@pytest.mark.slow
def test_a_node_check_that_tracks_thresholds_does_not_alarm_on_their_drift() -> None:
    """The long run's false alarm (a drifting threshold held against the calibration's), as a
    rate over three boards of 60 board seconds: without tracking the node check alarms on most
    (6 of 6 boards 11-16 measured, first at 5.8-46 s: where differs by board and by the BLAS
    kernels), with the default tracker on none (0 of 4 measured, boards 11-14)."""
    untracked = [bool(_drifting_shadow(seed, None, until_alarm=True)) for seed in DRIFT_BOARDS]
    assert sum(untracked) >= 2, untracked
    tracked = [len(_drifting_shadow(seed, ThresholdTrackConfig())) for seed in DRIFT_BOARDS]
    assert tracked == [0] * len(DRIFT_BOARDS)
