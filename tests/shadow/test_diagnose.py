"""An alarmed edge's residual signature: gain error, drift, stuck gate (twin.shadow.diagnose)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.shadow.diagnose import MAX_SAMPLES, Diagnosis, RecentTravel, diagnose_edge, kind_of

TAU = np.arange(1, 26) * 0.01  # one 0.25 s interval sampled every 10 ms
#: The twin's predicted travel: a gate learning at 0.4 V/s, slowing down.
PRED = 0.4 * TAU - 0.3 * TAU**2


def _noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.7e-3, TAU.size)


@pytest.mark.parametrize("seed", range(5))
def test_a_gain_error_is_named_with_its_factor(seed: int) -> None:
    d = diagnose_edge(3, TAU, 1.5 * PRED + _noise(seed), PRED, 2.0)
    assert d.kind == "gain"
    assert d.gain == pytest.approx(1.5, abs=0.05)
    assert "x1.5" in d.text()


@pytest.mark.parametrize("seed", range(5))
def test_a_leak_is_a_negative_drift(seed: int) -> None:
    v_gate, tau_leak_s = 3.0, 5.0  # a leak toward 0 V pulls at 0.6 V/s
    d = diagnose_edge(3, TAU, PRED - v_gate / tau_leak_s * TAU + _noise(seed), PRED, v_gate)
    assert d.kind == "drift"
    assert d.drift_v_per_s == pytest.approx(-0.6, abs=0.05)
    assert "leak" in d.text()


def test_a_held_gate_is_stuck_and_a_still_twin_says_nothing_of_it() -> None:
    held = np.full(TAU.size, 1e-3)
    assert diagnose_edge(0, TAU, held, PRED, 2.5).kind == "stuck"
    still = np.full(TAU.size, 2e-3)  # the twin did not move either: nothing to tell
    assert diagnose_edge(0, TAU, held, still, 2.5).kind != "stuck"


def test_a_residual_neither_model_explains_is_said_so() -> None:
    wobble = 0.02 * np.sin(2 * np.pi * TAU / 0.1)  # oscillates: neither a gain nor a drift
    d = diagnose_edge(1, TAU, PRED + wobble, PRED, 2.0)
    assert d.kind == "unexplained"
    assert diagnose_edge(1, TAU[:2], PRED[:2], PRED[:2], 2.0).kind == "unknown"


def test_recent_travel_is_bounded_and_falls_back_to_the_previous_interval() -> None:
    recent = RecentTravel()
    for i in range(3 * MAX_SAMPLES):
        tau = 0.01 * (i % TAU.size + 1)
        recent.add(tau, np.full(4, 1.5 * tau), np.full(4, tau), np.full(4, 2.0), 0.0)
    assert len(recent.samples()) == MAX_SAMPLES
    recent.new_interval()
    recent.add(0.01, np.zeros(4), np.zeros(4), np.full(4, 2.0), 0.0)  # one sample: too few
    found = recent.diagnose((2, 9))
    assert found[0].kind == "gain"  # from the previous interval
    assert found[1].kind == "unknown"  # no such edge


def test_a_fault_that_starts_mid_interval_is_fitted_from_its_onset() -> None:
    onset = 10  # the gate stops learning at the 11th sample: a dead gate
    board = np.where(np.arange(TAU.size) < onset, PRED, PRED[onset - 1])
    margin = 5e-3 + 0.3 * np.abs(PRED)
    d = diagnose_edge(2, TAU, board, PRED, 2.0, margin)
    assert d.kind in ("stuck", "gain")
    assert d.gain < 0.1  # from the onset on, the board's gate does not follow the twin's
    whole = diagnose_edge(2, TAU, board, PRED, 2.0, -np.inf)  # no onset: both mixed
    assert whole.kind != "stuck"  # mixed with the samples before it, it reads otherwise
    assert whole.gain > 0.3


def test_the_signature_is_read_back_from_the_alarm_text() -> None:
    for kind in ("gain", "drift", "stuck", "unexplained", "unknown"):
        d = Diagnosis(edge=4, kind=kind, gain=1.5, drift_v_per_s=-0.3, gate_v=2.0)
        assert kind_of(d.text()) == kind


def test_a_signature_names_the_causes_it_cannot_tell_apart_not_one() -> None:
    """Within one interval a free-gain rise reads as a drift, a stuck gate or a scale, a leak as
    a scale (bench_detection.py): the text names the signature's causes and says so."""
    texts = {
        kind: Diagnosis(edge=4, kind=kind, gain=1.5, drift_v_per_s=0.3, gate_v=2.0).text()
        for kind in ("gain", "drift", "stuck")
    }
    for text in texts.values():
        assert "cannot tell which" in text
        assert "amplifier gain)" not in text
    assert "scale" in texts["gain"]
    assert "balance" in texts["gain"]
    assert "leak" in texts["gain"]
    assert "balance" in texts["drift"]
    assert "leak" in texts["drift"]
    assert "free gain or offset" not in texts["drift"]  # the sign names no cause
    assert "dead" in texts["stuck"]
