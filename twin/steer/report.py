"""A steering run's summary: the ``--json`` object of ``twin steer``."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from .actions import SAFE_MODE
from .client import CommandCounters
from .meter import BoardMeter
from .policies import Policy

__all__ = ["SteerResult", "summarize"]


@attrs.frozen(kw_only=True)
class SteerResult:
    """The run's summary (``summary`` is the ``--json`` object) and its run uid."""

    summary: dict[str, Any]
    uid: str


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
    baseline: Any,
    last_error: float,
    e_join_j: float,
    step_s: float,
    board_time_s: float,
    dry_run: bool,
) -> dict[str, Any]:
    """The summary of a run that ended with ``out`` (reached, reason, verification, safe mode).

    ``baseline`` is the twin's lambda = 0 prediction to the tolerance (or None), ``e_join_j``
    the board's training energy before steering began (J) and ``step_s`` the board's learning
    step (s); non-finite numbers become None.
    """
    c = counters
    plan = getattr(policy, "current", None)
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
        "baseline_energy_j": None if baseline is None else baseline.energy_to_tol_j,
        "baseline_time_s": None if baseline is None else baseline.reached_s,
        "predicted_energy_j": None if plan is None else plan.energy_to_tol_j,
        "steps": round(meter.training_s / step_s),
        "commands_sent": c.sent,
        "commands_refused": c.refused,
        "commands": c.as_dict(),
        "replans": policy.replans,
        "board_time_s": board_time_s,
        "training_time_s": meter.training_s,
        "safe_mode": out.get("safe_mode", SAFE_MODE),
        "dry_run": dry_run,
        **counts,
    }
    return {k: _finite_or_none(v) for k, v in summary.items()}
