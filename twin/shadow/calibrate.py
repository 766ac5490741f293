"""Calibration: fit the twin's per-edge parameters to a board's recorded states.

Two fits with :func:`scipy.optimize.least_squares`, both from reported states only:

Thresholds (KCL)
    At every node no boundary condition holds, the currents ``k_i dV_i`` of the free and of the
    clamped network sum to zero. With the transistor's ``k_i = k(V_G,i, V_mid,i; V_t,i)`` at the
    measured gates and node voltages, the per-edge thresholds ``V_t,i`` are fitted to make the
    measured states obey Kirchhoff's law (a weak prior at the nominal threshold fixes the one
    direction node voltages cannot see).
Gate dynamics (integrated)
    Per edge, ``dV_G/dt = g_F (1 - lam) dV_F^2 - g_C dV_C^2 + c - r V_G``
    (:mod:`twin.simulation.edge` with ``g = a / (R C)``, a comparator offset and leak in ``c`` and
    ``r``) is linear in
    ``(g_F, g_C, c, r)``; integrated over windows of ``window_s`` it is fitted to the measured gate
    increments (windows touching a rail are skipped). The fitted ``g`` become gains at the nominal
    ``R C``, ``r`` a leak time constant and ``c / r`` its rest voltage.

:func:`prediction_error` measures how well a twin predicts held-out segments (resynced every
``horizon_s``, as the shadow does); :func:`calibration_report` runs the whole experiment on an
emulated board with hidden variation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs
import numpy as np
from scipy.optimize import least_squares

from twin.board.circuit import BoardCircuit, EdgeModel
from twin.board.contract import Board, BoardState, Resync
from twin.board.errors import BridgeConfigError
from twin.board.track import TwinTrack
from twin.physics.task import Task
from twin.simulation.devices import TransistorDevice
from twin.simulation.edge import EdgeParams, board_edge_params

__all__ = [
    "CalibrationResult",
    "calibrate",
    "collect_segments",
    "fit_gate_dynamics",
    "fit_thresholds",
    "parameter_errors",
    "prediction_error",
    "split_segments",
]

#: Leak rates below this (1/s) count as no leak.
MIN_LEAK_PER_S = 1e-4
#: Fewer usable windows than this leave an edge at its nominal dynamics.
MIN_WINDOWS = 6
#: A gate moving more than this in one frame was reset (V).
JUMP_V = 0.3
#: Gates within this of a rail are clipped: windows touching them are not used.
RAIL_MARGIN_V = 0.02


@attrs.frozen(kw_only=True, eq=False)
class CalibrationResult:
    """Fitted edges and the per-edge values (``a_free_per_v``, ``a_clamp_per_v``, ``v_t_v``,
    ``tau_leak_s``, ``v_rest_v``), with the fits' final costs."""

    edges: EdgeParams
    fitted: dict[str, np.ndarray]
    cost: dict[str, float]
    frames: int


def split_segments(
    states: Iterable[BoardState], *, jump_v: float = JUMP_V
) -> list[list[BoardState]]:
    """Runs of consecutive training frames: same epoch, consecutive seq, same eta and lambda,
    and no gate jumping by more than ``jump_v`` in one frame (a reset)."""
    segments: list[list[BoardState]] = []
    run: list[BoardState] = []
    for s in states:
        prev = run[-1] if run and s.mode == "training" else None
        if prev is not None and (
            s.epoch == prev.epoch
            and s.seq == prev.seq + 1
            and (s.eta, s.lam) == (prev.eta, prev.lam)
            and float(np.max(np.abs(s.gate_v - prev.gate_v))) <= jump_v
        ):
            run.append(s)
            continue
        if len(run) > 1:
            segments.append(run)
        run = [s] if s.mode == "training" else []
    if len(run) > 1:
        segments.append(run)
    return segments


def collect_segments(board: Board, duration_s: float, timeout_s: float = 1.0) -> list[BoardState]:
    """Every state a board reports over ``duration_s`` of board time (Resyncs skipped)."""
    states: list[BoardState] = []
    t_end = None
    while t_end is None or not states or states[-1].t_s < t_end:
        updates = board.poll(timeout_s)
        if not updates:
            raise BridgeConfigError("record: the board sent nothing in time")
        for u in updates:
            if isinstance(u, Resync):
                if t_end is None:
                    t_end = u.snapshot.state.t_s + duration_s
                continue
            states.append(u)
            if t_end is None:
                t_end = u.t_s + duration_s
    return states


def _stack(states: Sequence[BoardState], name: str) -> np.ndarray:
    return np.array([getattr(s, name) for s in states])


def fit_thresholds(
    segments: Sequence[Sequence[BoardState]],
    task: Task,
    base: EdgeParams,
    *,
    frames: int = 400,
    prior_v: float = 0.05,
) -> tuple[np.ndarray, float]:
    """Per-edge thresholds (V) making the measured states obey KCL; and the final cost."""
    circuit = BoardCircuit(task)
    states = [s for seg in segments for s in seg]
    pick = np.linspace(0, len(states) - 1, min(frames, len(states))).astype(int)
    gates = _stack([states[i] for i in pick], "gate_v")
    v_f = _stack([states[i] for i in pick], "v_free_v")
    v_c = _stack([states[i] for i in pick], "v_clamped_v")
    dev = base.device
    if not isinstance(dev, TransistorDevice):
        raise BridgeConfigError("calibrate: thresholds need the transistor model")
    n = task.network.n_edges
    vt0 = np.broadcast_to(dev.v_t_v, (n,)).astype(float)
    s_ref = float(np.mean(dev.s_a_per_v2)) * 0.1  # A per (V of overdrive x V of drop) scale

    def residuals(vt: np.ndarray) -> np.ndarray:
        model = EdgeModel(base.evolve(device=attrs.evolve(dev, v_t_v=vt)), n)
        k_f = model.conductance(gates, circuit.midpoints(v_f))
        k_c = model.conductance(gates, circuit.midpoints(v_c))
        r_f = circuit.kcl_residual(k_f, v_f, clamped=False).ravel()
        r_c = circuit.kcl_residual(k_c, v_c, clamped=True).ravel()
        return np.concatenate([r_f, r_c, (vt - vt0) / prior_v * 1e-3 * s_ref]) / s_ref

    fit = least_squares(residuals, vt0, x_scale=0.01, method="trf")
    return fit.x, float(fit.cost)


def _windows(seg: Sequence[BoardState], window: int) -> list[tuple[int, int]]:
    return [(a, a + window) for a in range(0, len(seg) - window, window)]


def fit_gate_dynamics(
    segments: Sequence[Sequence[BoardState]],
    task: Task,
    *,
    window_s: float = 0.005,
    rails_v: tuple[float, float] = (1.0, 5.5),
) -> tuple[dict[str, np.ndarray], float]:
    """Per-edge ``g_F``, ``g_C`` (1/(V s)), ``c`` (V/s) and leak rate ``r`` (1/s); the cost.

    ``fitted`` is 1 for the edges fitted, 0 for those with too few windows off the rails (their
    ``g`` are NaN: the caller keeps the nominal values).
    """
    circuit = BoardCircuit(task)
    n = task.network.n_edges
    rows: list[list[np.ndarray]] = [[] for _ in range(n)]
    for seg in segments:
        t = _stack(seg, "t_s")
        if len(t) < 3:
            continue
        window: int = max(round(window_s / float(np.median(np.diff(t)))), 2)
        gates = _stack(seg, "gate_v")
        lam = seg[0].lam
        x_f = (1.0 - lam) * circuit.drops(_stack(seg, "v_free_v")) ** 2
        x_c = circuit.drops(_stack(seg, "v_clamped_v")) ** 2
        dt = np.diff(t)[:, None]
        cum = {  # running trapezoid integrals, (frames, E)
            name: np.concatenate([np.zeros((1, n)), np.cumsum(0.5 * (x[1:] + x[:-1]) * dt, 0)])
            for name, x in (("xf", x_f), ("xc", x_c), ("v", gates))
        }
        cum["t"] = np.broadcast_to((t - t[0])[:, None], gates.shape)
        for a, b in _windows(seg, window):
            near = (np.min(gates[a : b + 1], 0) < rails_v[0] + RAIL_MARGIN_V) | (
                np.max(gates[a : b + 1], 0) > rails_v[1] - RAIL_MARGIN_V
            )
            feats = np.stack([cum[k][b] - cum[k][a] for k in ("xf", "xc", "t", "v")], axis=1)
            feats[:, 1] *= -1.0
            feats[:, 3] *= -1.0
            target = gates[b] - gates[a]
            for e in np.flatnonzero(~near):
                rows[e].append(np.append(feats[e], target[e]))
    out = {name: np.zeros(n) for name in ("g_free", "g_clamp", "c_v_per_s", "leak_per_s")}
    out["fitted"] = np.zeros(n)
    cost = 0.0
    for i in range(n):
        if len(rows[i]) < MIN_WINDOWS:  # pinned at a rail all along: keep the nominal gains
            out["g_free"][i] = out["g_clamp"][i] = np.nan
            continue
        out["fitted"][i] = 1.0
        data = np.array(rows[i])
        a_mat, y = data[:, :4], data[:, 4]
        scale = np.maximum(np.sqrt(np.mean(a_mat**2, axis=0)), 1e-30)
        x0 = np.array([4545.0, 4545.0, 0.0, 0.0]) * scale
        fit = least_squares(
            lambda p, a=a_mat / scale, yy=y: a @ p - yy,
            x0,
            bounds=([0, 0, -np.inf, 0], [np.inf, np.inf, np.inf, np.inf]),
        )
        p = fit.x / scale
        out["g_free"][i], out["g_clamp"][i], out["c_v_per_s"][i], out["leak_per_s"][i] = p
        cost += float(fit.cost)
    return out, cost


def calibrate(
    segments: Sequence[Sequence[BoardState]],
    task: Task,
    *,
    base: EdgeParams | None = None,
    window_s: float = 0.005,
) -> CalibrationResult:
    """Fit thresholds and gate dynamics per edge; the twin's calibrated :class:`EdgeParams`."""
    base = base if base is not None else board_edge_params("transistor")
    segments = [s for s in segments if len(s) > 1]
    if not segments:
        raise BridgeConfigError("calibrate: no training segment in the recording")
    n = task.network.n_edges
    cols = base.columns(n)
    rails = (float(np.max(cols["v_min_v"])), float(np.min(cols["v_max_v"])))
    vt, cost_vt = fit_thresholds(segments, task, base)
    dyn, cost_dyn = fit_gate_dynamics(segments, task, window_s=window_s, rails_v=rails)
    rc = cols["r_charge_ohm"] * cols["c_gate_f"]
    nominal = dyn["fitted"] == 0
    dyn["g_free"][nominal] = cols["a_free_per_v"][nominal] / rc[nominal]
    dyn["g_clamp"][nominal] = cols["a_clamp_per_v"][nominal] / rc[nominal]
    leak = dyn["leak_per_s"]
    has_leak = leak > MIN_LEAK_PER_S
    tau = np.where(has_leak, 1.0 / np.maximum(leak, MIN_LEAK_PER_S), np.inf)
    v_rest = np.where(has_leak, dyn["c_v_per_s"] / np.maximum(leak, MIN_LEAK_PER_S), 0.0)
    fitted = {
        "a_free_per_v": dyn["g_free"] * rc,
        "a_clamp_per_v": dyn["g_clamp"] * rc,
        "v_t_v": vt,
        "tau_leak_s": tau,
        "v_rest_v": v_rest,
        "dynamics_fitted": dyn["fitted"].astype(bool),
    }
    assert isinstance(base.device, TransistorDevice)
    edges = base.evolve(
        device=attrs.evolve(base.device, v_t_v=vt),
        a_free_per_v=fitted["a_free_per_v"],
        a_clamp_per_v=fitted["a_clamp_per_v"],
        tau_leak_s=tau,
        v_rest_v=v_rest,
    )
    frames = sum(len(s) for s in segments)
    return CalibrationResult(
        edges=edges, fitted=fitted, cost={"kcl": cost_vt, "dynamics": cost_dyn}, frames=frames
    )


def prediction_error(
    segments: Sequence[Sequence[BoardState]],
    task: Task,
    edges: EdgeParams,
    *,
    horizon_s: float = 0.25,
    step_s: float = 1e-4,
    seed: int = 0,
) -> dict[str, float]:
    """RMS gate and node residuals (V) of a twin predicting ``segments`` ``horizon_s`` ahead.

    The twin starts from the reported gates at the start of every horizon (as a resyncing
    shadow) and runs open loop until the next one.
    """
    gate_sq, node_sq, count = 0.0, 0.0, 0
    for seg in segments:
        t = np.array([s.t_s for s in seg])
        start = 0
        while start < len(seg) - 1:
            s0 = seg[start]
            track = TwinTrack(
                task,
                edges,
                t_s=s0.t_s,
                gates_v=np.asarray(s0.gate_v),
                mode="training",
                eta=s0.eta,
                lam=s0.lam,
                step_s=step_s,
                rng=np.random.default_rng(seed),
            )
            stop = int(np.searchsorted(t, s0.t_s + horizon_s, side="right"))
            for s in seg[start + 1 : stop]:
                track.advance(s.t_s)
                v_f, v_c = track.node_voltages()
                gate_sq += float(np.mean((np.asarray(s.gate_v) - track.gates()) ** 2))
                node_sq += 0.5 * float(
                    np.mean((s.v_free_v - v_f) ** 2) + np.mean((s.v_clamped_v - v_c) ** 2)
                )
                count += 1
            start = max(stop - 1, start + 1)
    if count == 0:
        raise BridgeConfigError("prediction_error: the segments hold no frames to predict")
    return {
        "gate_rms_v": float(np.sqrt(gate_sq / count)),
        "node_rms_v": float(np.sqrt(node_sq / count)),
        "frames": float(count),
    }


def parameter_errors(
    fitted: dict[str, np.ndarray], hidden: dict[str, np.ndarray], nominal: EdgeParams
) -> dict[str, float]:
    """How close fitted and nominal per-edge values come to the hidden ones (RMS over edges).

    Only a gain over its capacitor is observable (the gate moves at ``a / (R C)``), so gains are
    compared as ``a / C`` relative to the hidden one; thresholds in volts.
    """
    n = fitted["v_t_v"].size
    cols = nominal.columns(n)
    assert isinstance(nominal.device, TransistorDevice)
    out: dict[str, float] = {}
    ok = np.asarray(fitted.get("dynamics_fitted", np.ones(n, dtype=bool)), dtype=bool)
    out["edges_dynamics_fitted"] = float(ok.sum())
    for key in ("a_free_per_v", "a_clamp_per_v"):
        hid = hidden[key][ok] / hidden["c_gate_f"][ok]
        fit = fitted[key][ok] / cols["c_gate_f"][ok]
        nom = cols[key][ok] / cols["c_gate_f"][ok]
        name = key.split("_")[1]
        out[f"gain_{name}_rel_rms_fitted"] = float(np.sqrt(np.mean((fit / hid - 1) ** 2)))
        out[f"gain_{name}_rel_rms_nominal"] = float(np.sqrt(np.mean((nom / hid - 1) ** 2)))
    vt_nom = np.broadcast_to(nominal.device.v_t_v, (n,))
    out["v_t_rms_fitted_v"] = float(np.sqrt(np.mean((fitted["v_t_v"] - hidden["v_t_v"]) ** 2)))
    out["v_t_rms_nominal_v"] = float(np.sqrt(np.mean((vt_nom - hidden["v_t_v"]) ** 2)))
    return out
