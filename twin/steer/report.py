"""A steering run's summary: the ``--json`` object of ``twin steer``."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from .actions import SAFE_MODE
from .client import CommandCounters
from .meter import BoardMeter
from .observation import Policy
from .planner import Phase, Planner, Prediction

__all__ = ["Baseline", "SteerResult", "predict_baseline", "summarize"]


@attrs.frozen(kw_only=True)
class SteerResult:
    """The run's summary (``summary`` is the ``--json`` object) and its run uid."""

    summary: dict[str, Any]
    uid: str


@attrs.frozen(kw_only=True, eq=False)
class Baseline:
    """The twin's lambda = 0 prediction from the run's start to its tolerance, at the board's
    own eta (``prediction``; ``None``: not made), why it gives no energy (``note``; ``None``
    when it does), and at the highest eta steering set (``at_eta``, ``None`` without one)."""

    prediction: Prediction | None
    note: str | None
    at_eta: Prediction | None = None
    eta: float | None = None


def predict_baseline(
    planner: Planner,
    gates_v: np.ndarray,
    tol: float,
    *,
    horizon_s: float,
    wanted: bool = True,
    status: str = "complete",
    eta_steered: float | None = None,
) -> Baseline:
    """lambda = 0 on the twin from ``gates_v`` to ``tol`` within ``horizon_s`` (the run's own
    time limit, not a plan's horizon: a board that needs longer than a plan looks ahead is still
    compared), unless not ``wanted`` or the run was not ``complete`` (aborted); also at
    ``eta_steered`` when steering raised the board's eta."""
    if not wanted:
        return Baseline(prediction=None, note="not asked for")
    if status != "complete":
        return Baseline(prediction=None, note=f"run {status}: no lambda = 0 prediction made")
    schedule = (Phase(lam=0.0, until_error=tol),)
    pred = planner.simulate(gates_v, schedule, tol, horizon_s=horizon_s, eta=planner.eta)
    note = None
    if pred.energy_to_tol_j is None:
        low = float(np.min(pred.error)) if pred.error.size else float("nan")
        note = (
            f"the twin predicts lambda = 0 does not reach the tolerance {tol:.3g} V^2 within "
            f"{horizon_s:g} s (it stalls at {low:.3g} V^2 after {pred.t_s[-1]:.3g} s)"
        )
    at_eta = None
    if eta_steered is not None:
        at_eta = planner.simulate(gates_v, schedule, tol, horizon_s=horizon_s, eta=eta_steered)
    return Baseline(prediction=pred, note=note, at_eta=at_eta, eta=eta_steered)


def _finite_or_none(value: Any) -> Any:
    """``None`` for a non-finite float (JSON has no NaN), else the value."""
    return None if isinstance(value, float) and not np.isfinite(value) else value


def summarize(
    *,
    meter: BoardMeter,
    policy: Policy,
    counters: CommandCounters,
    counts: dict[str, int],
    tol: float,
    e0: float,
    out: dict[str, Any],
    baseline: Baseline,
    last_error: float,
    e_join_j: float,
    step_s: float,
    board_time_s: float,
    dry_run: bool,
) -> dict[str, Any]:
    """The summary of a run that ended with ``out`` (reached, reason, verification, safe mode).

    ``baseline`` is the twin's lambda = 0 prediction to the tolerance (one that does not reach
    it leaves ``baseline_energy_j`` None, ``baseline_note`` saying why and
    ``baseline_lowest_error_v2`` how low it got), ``e_join_j``
    the board's training energy before steering began (J) and ``step_s`` the board's learning
    step (s); non-finite numbers become None.
    """
    c = counters
    plan = getattr(policy, "current", None)
    base, at_eta = baseline.prediction, baseline.at_eta
    summary = {
        "reached": out["reached"],
        "reason": out["reason"],
        "policy": policy.name,
        "fell_back": getattr(policy, "fell_back", None),
        "tolerance_v2": tol,
        "error_initial": e0,
        "error_final": out["verified_error"] if out["reached"] else last_error,
        "verified_error": out["verified_error"],
        "predicted_inference_error": out["predicted_inference_error"],
        "training_energy_j": meter.training_energy_j - e_join_j,
        "pre_steer_energy_j": e_join_j,
        "gate_restore_energy_j": meter.gate_write_j,
        "baseline_energy_j": None if base is None else base.energy_to_tol_j,
        "baseline_time_s": None if base is None else base.reached_s,
        "baseline_reached": None if base is None else base.reached_s is not None,
        "baseline_lowest_error_v2": (
            None if base is None or not base.error.size else float(np.min(base.error))
        ),
        "baseline_note": baseline.note,
        "baseline_at_eta_energy_j": None if at_eta is None else at_eta.energy_to_tol_j,
        "predicted_energy_j": None if plan is None else plan.energy_to_tol_j,
        "steps": round(meter.training_s / step_s),
        "commands_sent": c.sent,
        "commands_refused": c.refused,
        "commands": c.as_dict(),
        "replans": policy.replans,
        "resyncs": len(getattr(policy, "resyncs", [])),
        "resync_gate_moves_v": list(getattr(policy, "resyncs", [])),
        "plans_truncated": sum(p.truncated for _, p in getattr(policy, "plans", [])),
        "plans_lowest": sum(  # no schedule reached: the one predicted lowest followed
            p.best is not None and p.best.reached_s is None for _, p in getattr(policy, "plans", [])
        ),
        "lowest_switches": getattr(policy, "lowest_switches", 0),  # next lowest tried (tries.py)
        "board_time_s": board_time_s,
        "training_time_s": meter.training_s,
        "safe_mode": out.get("safe_mode", SAFE_MODE),
        "eta_steered": getattr(policy, "eta", None),
        "eta_final": out.get("eta_final", "unchanged"),
        "dry_run": dry_run,
        **counts,
    }
    return {k: _finite_or_none(v) for k, v in summary.items()}
