"""The live view's bounded state: routing of documents, rolling windows, deltas, the layout."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from twin.documents import energy_doc, sample_doc, start_doc, stop_doc
from twin.errors import ConfigError
from twin.physics.network import Network, lattice
from twin.view import LiveState, network_layout


def _runs(state: LiveState) -> tuple[str, str]:
    board = start_doc(source="board", kind="shadow", params={}, board="b1")
    twin = start_doc(source="twin", kind="shadow", params={}, board="b1")
    state(board)
    state(twin)
    return board["uid"], twin["uid"]


def test_samples_are_routed_by_source_and_windows_stay_bounded() -> None:
    state = LiveState(window=50)
    board, twin = _runs(state)
    for i in range(1000):
        state(sample_doc(board, i, i * 0.1, {"error": [1.0], "free_power_w": [2e-6]}))
        state(sample_doc(twin, i, i * 0.1, {"error": [0.5], "gate_residual_rms_v": [1e-3]}))
    sizes = state.sizes()
    assert sizes["series_board"] == 50
    assert sizes["series_twin"] == 50
    snap = state.snapshot()
    times = [p[1] for p in snap["series"]["board"]]
    assert times == pytest.approx([i * 0.1 for i in range(950, 1000)])
    assert snap["series"]["twin"][-1][2:5] == [0.5, None, 1e-3]
    assert snap["cursor"] == 2000


def test_delta_returns_what_is_new_since_the_cursor() -> None:
    state = LiveState(window=10)
    board, _ = _runs(state)
    snap = state.snapshot()
    state(sample_doc(board, 0, 0.0, {"error": [1.0]}))
    state(sample_doc(board, 1, 0.1, {"error": [2.0]}))
    d = state.delta(snap["cursor"], snap["version"], snap["layout_version"])
    assert [p[2] for p in d["series"]["board"]] == [1.0, 2.0]
    assert d["latest"] is not None
    again = state.delta(d["cursor"], d["version"], d["layout_version"])
    assert again["series"]["board"] == []
    assert again["latest"] is None  # nothing changed but the clock
    for i in range(100):  # a reader far behind gets at most one window
        state(sample_doc(board, 2 + i, 0.2 + i, {"error": [3.0]}))
    late = state.delta(d["cursor"], d["version"], d["layout_version"])
    assert len(late["series"]["board"]) == 10


def test_gates_energy_and_stop() -> None:
    state = LiveState(window=10)
    board, twin = _runs(state)
    state(sample_doc(board, 0, 0.1, {f"gate_v_{i}": [0.1 * i] for i in range(4)}))
    state(sample_doc(twin, 0, 0.1, {f"gate_v_{i}": [0.2] for i in range(4)}))
    for _ in range(3):
        state(energy_doc(board, 0, 0, 0.1, 1e-6, component="free_network", source="board"))
        state(energy_doc(twin, 0, 0, 0.1, 2e-6, component="gate_charging", source="twin"))
    state(stop_doc(board, status="complete"))
    latest = state.snapshot()["latest"]
    assert latest["gates"]["board"] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert latest["gates"]["twin"] == pytest.approx([0.2] * 4)
    assert latest["energy_j"]["board"]["free_network"] == pytest.approx(3e-6)
    assert latest["energy_j"]["twin"]["gate_charging"] == pytest.approx(6e-6)
    assert latest["status"]["run"] == "complete"


def test_conductance_follows_the_gates_through_the_device_model() -> None:
    from twin.simulation.edge import board_edge_params

    device = board_edge_params("transistor").device
    state = LiveState(window=10)
    board, _ = _runs(state)
    gates = np.linspace(0.5, 3.0, 4)
    state(sample_doc(board, 0, 0.0, {f"gate_v_{i}": [g] for i, g in enumerate(gates)}))
    assert state.snapshot()["latest"]["conductance_siemens"]["board"] == [None] * 4  # no model
    state.set_conductance(device.conductance)
    state(sample_doc(board, 1, 0.1, {f"gate_v_{i}": [g] for i, g in enumerate(gates)}))
    k = state.snapshot()["latest"]["conductance_siemens"]["board"]
    assert k == pytest.approx(device.conductance(gates).tolist())
    assert np.all(np.diff(k) > 0)  # a higher gate voltage conducts more


def test_alarm_is_updated_when_it_ends_and_events_are_bounded() -> None:
    state = LiveState(window=10, max_events=5, max_alarms=3)
    raised = {"epoch": 1, "start_s": 1.0, "raised_s": 1.05, "end_s": None, "edges": [7]}
    state.alarm(raised)
    state.alarm(raised | {"end_s": 2.0})
    latest = state.snapshot()["latest"]
    assert latest["n_alarms"] == 1
    assert latest["alarms"][0]["end_s"] == 2.0
    for i in range(50):
        state.event("resync", f"resync {i}", t_s=float(i))
        state.alarm(raised | {"start_s": 10.0 + i})
    sizes = state.sizes()
    assert sizes["events"] == 5
    assert sizes["alarms"] == 3
    assert state.snapshot()["latest"]["n_alarms"] == 51


def test_status_is_json_safe() -> None:
    state = LiveState()
    state.set_status(lag_s=math.inf, score=np.float64(1.5), frames=np.int64(3), board="b")
    status = json.loads(json.dumps(state.snapshot(), allow_nan=False))["latest"]["status"]
    assert status["lag_s"] is None
    assert status["score"] == 1.5
    assert status["frames"] == 3


def test_bad_window_is_refused() -> None:
    with pytest.raises(ConfigError, match="window"):
        LiveState(window=1)


def test_periodic_lattice_is_drawn_as_its_grid_with_wrapped_half_edges() -> None:
    lay = network_layout(lattice(4, 4, periodic=True))
    assert lay["n_edges"] == 32
    assert len(lay["nodes"]) == 16
    wrapped = [segs for segs in lay["edges"] if len(segs) == 2]
    assert len(wrapped) == 8  # 4 rows and 4 columns wrap around the torus
    xs = sorted({round(x, 6) for x, _ in lay["nodes"]})
    assert len(xs) == 4  # a grid: four columns, equally spaced
    assert np.allclose(np.diff(xs), xs[1] - xs[0])
    coords = np.array([c for segs in lay["edges"] for s in segs for c in s])
    assert coords.min() >= 0.0
    assert coords.max() <= 1.0
    for segs in wrapped:  # each half leaves the grid
        for x0, y0, x1, y1 in segs:
            assert not (min(xs) <= x1 <= max(xs) and min(xs) <= y1 <= max(xs))
            assert math.hypot(x1 - x0, y1 - y0) == pytest.approx((xs[1] - xs[0]) / 2, rel=1e-3)


def test_open_lattice_and_network_without_positions() -> None:
    assert all(len(s) == 1 for s in network_layout(lattice(3, 2))["edges"])
    ring = Network(n_nodes=5, edges=[(i, (i + 1) % 5) for i in range(5)])
    lay = network_layout(ring)
    centre = np.mean(lay["nodes"], axis=0)  # a regular polygon: its centre is the vertex mean
    radii = [math.hypot(x - centre[0], y - centre[1]) for x, y in lay["nodes"]]
    assert np.allclose(radii, radii[0], atol=1e-4)
