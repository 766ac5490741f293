"""Calibration: fit the twin's per-edge parameters to a board's recorded states.

Two fits with :func:`scipy.optimize.least_squares`, both from reported states only:

Thresholds (KCL)
    At every node no boundary condition holds, the currents ``k_i dV_i`` of the free and of the
    clamped network sum to zero. With the transistor's ``k_i = k(V_G,i, V_mid,i; V_t,i)`` at the
    measured gates and node voltages, the per-edge thresholds ``V_t,i`` are fitted to make the
    measured states obey Kirchhoff's law (a weak prior at the nominal threshold fixes the one
    direction node voltages cannot see).
Gate dynamics (integrated, errors in variables)
    Per edge, ``dV_G/dt = g_F (1 - lam) dV_F^2 - g_C dV_C^2 + c - r V_G``
    (:mod:`twin.simulation.edge` with ``g = a / (R C)``, a comparator offset and leak in ``c`` and
    ``r``) is linear in ``(g_F, g_C, c, r)``; integrated over windows of ``window_s`` it is fitted
    to the measured gate increments (windows touching a rail are skipped). The regressors come
    from noisy 10-bit node readings, so ordinary least squares is biased (gains 2-5 % low on
    average, up to 25-46 % on the worst edge): the fit is two-stage least squares, with the same
    integrals from the window's other frames (independent noise) as instruments, bounded to
    physical ranges (gains within x/:data:`GAIN_RANGE` of nominal, leak time >=
    :data:`MIN_LEAK_TAU_S`), with standard errors. The fitted ``g`` become gains at the nominal
    ``R C``, ``r`` a leak time constant and ``c / r`` its rest voltage; a negligible leak keeps
    the fitted drift (at :data:`DRIFT_REF_V`).
Learning bias (arXiv 2505.22887)
    A gate drifts at ``B`` V/s while its edge learns, whatever the drops; training frames alone
    cannot tell that from the leak's pull to a rest voltage off the nominal one (``c`` is both).
    Frames of the board held idle can (:mod:`twin.shadow.calibrate_dynamics`: the idle windows
    give the leak's own constant ``c_0``, and ``B = c - c_0``, as the lab reads learning drift
    minus idle drift). Without them ``B = c - r v_0`` (``v_0`` the nominal rest voltage): the
    drift beyond the leak's pull to it, which on an emulated board is the bias plus its comparator
    offset's ``o / (R C)``, and carries the leak's error extrapolated from the gates' range to
    ``v_0``. Either way the twin carries ``B`` as :attr:`EdgeParams.bias_v_per_s` and the leak the
    rest: while training it drifts at ``c - r V`` as before, a held gate (idle, inference, probes)
    with the leak alone, as a biased board's does.

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
from twin.physics.task import Task
from twin.shadow.calibrate_dynamics import (
    DRIFT_REF_V,
    MIN_LEAK_PER_S,
    fit_gate_dynamics,
    stack,
)
from twin.shadow.detector import SpreadModel, predict_horizons
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

#: Fitted thresholds stay within this of the nominal threshold, V.
THRESHOLD_RANGE_V = 0.3
#: A gate moving more than this in one frame was reset (V).
JUMP_V = 0.3


@attrs.frozen(kw_only=True, eq=False)
class CalibrationResult:
    """Fitted edges and the per-edge values (``a_free_per_v``, ``a_clamp_per_v``, ``v_t_v``,
    ``tau_leak_s``, ``v_rest_v``, ``drift_v_per_s`` at :data:`DRIFT_REF_V`, the learning bias
    ``bias_v_per_s`` and ``bias_from_idle``, whether idle frames separated it from the leak) with
    their standard errors (``a_free_se_per_v``, ``a_clamp_se_per_v``, the two gains' covariance
    ``a_free_clamp_cov_per_v2``, ``drift_se_v_per_s``,
    ``leak_per_s_se``, ``bias_se_v_per_s``;
    NaN where an edge kept its nominal values), the fits' final costs, and the fault-free residual
    spread of the calibrated twin (``spread``, :func:`twin.shadow.detector.learn_spread`)."""

    edges: EdgeParams
    fitted: dict[str, np.ndarray]
    cost: dict[str, float]
    frames: int
    spread: SpreadModel | None = None


def split_segments(
    states: Iterable[BoardState], *, jump_v: float = JUMP_V, mode: str = "training"
) -> list[list[BoardState]]:
    """Runs of consecutive frames in ``mode`` (``training``; ``idle``: the board held): same
    epoch, consecutive seq, same eta and lambda, and no gate jumping by more than ``jump_v`` in
    one frame (a reset)."""
    segments: list[list[BoardState]] = []
    run: list[BoardState] = []
    for s in states:
        prev = run[-1] if run and s.mode == mode else None
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
        run = [s] if s.mode == mode else []
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
    gates = stack([states[i] for i in pick], "gate_v")
    v_f = stack([states[i] for i in pick], "v_free_v")
    v_c = stack([states[i] for i in pick], "v_clamped_v")
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

    fit = least_squares(
        residuals,
        vt0,
        x_scale=0.01,
        method="trf",
        bounds=(vt0 - THRESHOLD_RANGE_V, vt0 + THRESHOLD_RANGE_V),
    )
    return fit.x, float(fit.cost)


def calibrate(
    segments: Sequence[Sequence[BoardState]],
    task: Task,
    *,
    base: EdgeParams | None = None,
    window_s: float = 0.005,
    idle: Sequence[Sequence[BoardState]] = (),
) -> CalibrationResult:
    """Fit thresholds and gate dynamics per edge; the twin's calibrated :class:`EdgeParams`.

    ``idle``: runs of frames of the board held idle (:func:`split_segments` with ``mode``
    ``"idle"``), which separate each edge's learning bias from its leak (module docstring)."""
    base = base if base is not None else board_edge_params("transistor")
    segments = [s for s in segments if len(s) > 1]
    if not segments:
        raise BridgeConfigError("calibrate: no training segment in the recording")
    n = task.network.n_edges
    cols = base.columns(n)
    rails = (float(np.max(cols["v_min_v"])), float(np.min(cols["v_max_v"])))
    vt, cost_vt = fit_thresholds(segments, task, base)
    idle = [s for s in idle if len(s) > 1]
    dyn, cost_dyn = fit_gate_dynamics(segments, task, window_s=window_s, rails_v=rails, idle=idle)
    rc = cols["r_charge_ohm"] * cols["c_gate_f"]
    nominal = dyn["fitted"] == 0
    dyn["g_free"][nominal] = cols["a_free_per_v"][nominal] / rc[nominal]
    dyn["g_clamp"][nominal] = cols["a_clamp_per_v"][nominal] / rc[nominal]
    # The fit's drift c - r V_G; a negligible leak is represented at MIN_LEAK_PER_S with the
    # drift at DRIFT_REF_V kept (c_eff - r_eff V_ref = c - r V_ref), never dropped.
    leak = dyn["leak_per_s"]
    r_eff = np.maximum(leak, MIN_LEAK_PER_S)
    c_eff = dyn["c_v_per_s"] + (r_eff - leak) * DRIFT_REF_V
    nominal_cols = ~dyn["fitted"].astype(bool)
    tau = np.where(nominal_cols, cols["tau_leak_s"], 1.0 / r_eff)
    # c_eff = B + c0_eff: the leak's constant from the idle windows where there were some, else
    # its pull to the nominal rest voltage v0; the bias is the rest.
    v0 = cols["v_rest_v"]
    from_idle = dyn["idle_fitted"].astype(bool)
    c0_eff = np.where(from_idle, c_eff - np.nan_to_num(dyn["bias_v_per_s"]), r_eff * v0)
    bias = np.where(nominal_cols, 0.0, c_eff - c0_eff)
    at = np.where(leak >= MIN_LEAK_PER_S, v0, DRIFT_REF_V)  # d bias / d r = -at (without idle)
    bias_var = dyn["c_v_per_s_se"] ** 2 + at**2 * dyn["leak_per_s_se"] ** 2
    bias_var -= 2 * at * dyn["c_leak_cov"]
    bias_se = np.where(from_idle, dyn["bias_se_v_per_s"], np.sqrt(np.maximum(bias_var, 0.0)))
    v_rest = np.where(nominal_cols, cols["v_rest_v"], c0_eff / r_eff)
    fitted = {
        "a_free_per_v": dyn["g_free"] * rc,
        "a_clamp_per_v": dyn["g_clamp"] * rc,
        "v_t_v": vt,
        "tau_leak_s": tau,
        "v_rest_v": v_rest,
        "dynamics_fitted": dyn["fitted"].astype(bool),
        "a_free_se_per_v": dyn["g_free_se"] * rc,
        "a_clamp_se_per_v": dyn["g_clamp_se"] * rc,
        "a_free_clamp_cov_per_v2": dyn["g_free_clamp_cov"] * rc * rc,
        "drift_v_per_s": np.where(nominal_cols, 0.0, dyn["c_v_per_s"] - leak * DRIFT_REF_V),
        "drift_se_v_per_s": dyn["drift_se_v_per_s"],
        "leak_per_s_se": dyn["leak_per_s_se"],
        "bias_v_per_s": bias,
        "bias_se_v_per_s": np.where(nominal_cols, np.nan, bias_se),
        "bias_from_idle": from_idle,
    }
    assert isinstance(base.device, TransistorDevice)
    edges = base.evolve(
        device=attrs.evolve(base.device, v_t_v=vt),
        a_free_per_v=fitted["a_free_per_v"],
        a_clamp_per_v=fitted["a_clamp_per_v"],
        tau_leak_s=tau,
        v_rest_v=v_rest,
        bias_v_per_s=bias,
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
    for _, _, s, track in predict_horizons(
        segments, task, edges, horizon_s=horizon_s, step_s=step_s, seed=seed
    ):
        v_f, v_c = track.node_voltages()
        gate_sq += float(np.mean((np.asarray(s.gate_v) - track.gates()) ** 2))
        node_sq += 0.5 * float(
            np.mean((s.v_free_v - v_f) ** 2) + np.mean((s.v_clamped_v - v_c) ** 2)
        )
        count += 1
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
    if "bias_v_per_s" in fitted and "bias_v_per_s" in hidden:
        err = fitted["bias_v_per_s"][ok] - hidden["bias_v_per_s"][ok]
        out["bias_rms_error_v_per_s"] = float(np.sqrt(np.mean(err**2)))
        out["bias_rms_hidden_v_per_s"] = float(np.sqrt(np.mean(hidden["bias_v_per_s"] ** 2)))
    vt_nom = np.broadcast_to(nominal.device.v_t_v, (n,))
    out["v_t_rms_fitted_v"] = float(np.sqrt(np.mean((fitted["v_t_v"] - hidden["v_t_v"]) ** 2)))
    out["v_t_rms_nominal_v"] = float(np.sqrt(np.mean((vt_nom - hidden["v_t_v"]) ** 2)))
    return out
