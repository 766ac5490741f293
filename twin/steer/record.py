"""What a steering run records beside its commands: board energy per phase, and the twin's runs.

The board's run (kind ``steer``, source ``board``) gets energy entries per interval between
decision points, per phase (the board's mode: ``training``, ``inference``, ``idle``) and
component (method ``estimate``: the meter's ``k dV^2`` of the reported voltages), so the
ledger's phase totals are the meter's totals. The twin's predictions are runs of their own (kind
``steer``, source ``twin``, method ``integral``), each naming the board's run as
``params.peer_run`` and its ``role``:

- ``plan``: one run per (re-)plan of the predictive policy, from the board time it was made:
  the predicted error and energy trajectory (samples) and the predicted training energy to the
  tolerance (an entry), set beside what happened (the board run's samples carry the plan's
  prediction at each decision point as ``plan_error``);
- ``baseline``: lambda = 0 from the same start to the same tolerance (the ``baseline_energy_j``
  of the summary).

``twin energy compare BOARD_RUN TWIN_RUN`` sets their joules side by side.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from twin.documents import Dispatcher, energy_doc, sample_doc, start_doc, stop_doc

from .planner import Plan, Prediction

__all__ = ["PHASES", "EnergyBook", "record_plans", "record_prediction"]

#: Ledger phase of each board mode.
PHASES = {"training": "training", "inference": "inference", "idle": "idle"}

#: Most samples a prediction run records (the planner's trajectory is thinned to this).
MAX_PREDICTION_SAMPLES = 400


class EnergyBook:
    """Energy entries of the board's run: what the meter booked since the last flush."""

    def __init__(self, dispatch: Dispatcher, uid: str) -> None:
        self.dispatch = dispatch
        self.uid = uid
        self.seq = 0
        self.t_open_s = 0.0
        self._booked: dict[tuple[str, str], float] = defaultdict(float)

    def flush(self, t_s: float, totals: Mapping[tuple[str, str], float]) -> None:
        """Emit entries for the joules booked in ``totals`` ((mode, component) -> J) since the
        last flush, over board time ``[last flush, t_s]``."""
        t1 = max(float(t_s), self.t_open_s)
        for (mode, component), total_j in sorted(totals.items()):
            delta = float(total_j) - self._booked[(mode, component)]
            if delta <= 0:
                continue
            self.dispatch(
                energy_doc(
                    self.uid,
                    self.seq,
                    self.t_open_s,
                    t1,
                    delta,
                    component=component,
                    phase=PHASES.get(mode, "idle"),
                    source="board",
                    method="estimate",
                )
            )
            self.seq += 1
            self._booked[(mode, component)] = float(total_j)
        self.t_open_s = t1


def _thin(n: int) -> np.ndarray:
    """Indices of at most :data:`MAX_PREDICTION_SAMPLES` of ``n`` samples, the last included."""
    if n <= MAX_PREDICTION_SAMPLES:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_PREDICTION_SAMPLES).round().astype(int))


def record_prediction(
    dispatch: Dispatcher,
    prediction: Prediction,
    *,
    role: str,
    peer_run: str,
    board: str,
    t0_s: float,
    params: Mapping[str, Any],
) -> str:
    """Record ``prediction`` (made at board time ``t0_s``) as a twin run; its uid."""
    start = start_doc(
        source="twin",
        kind="steer",
        params={**params, "role": role, "peer_run": peer_run, "t0_s": t0_s},
        board=board,
    )
    uid = start["uid"]
    dispatch(start)
    for seq, i in enumerate(_thin(len(prediction.t_s))):
        data = {"error": [float(prediction.error[i])], "energy_j": [float(prediction.energy_j[i])]}
        dispatch(sample_doc(uid, seq, t0_s + float(prediction.t_s[i]), data))
    end = len(prediction.t_s) - 1
    energy_j = float(prediction.energy_j[end] - prediction.energy_j[0])
    t1_s = t0_s + float(prediction.t_s[end])
    if energy_j > 0:
        dispatch(energy_doc(uid, 0, t0_s, t1_s, energy_j, component="free_network", source="twin"))
    summary = {
        "role": role,
        "schedule": prediction.as_dict()["schedule"],
        "reached_s": prediction.reached_s,
        "energy_to_tol_j": prediction.energy_to_tol_j,
    }
    reason = "" if prediction.reached_s is not None else "tolerance not reached within the horizon"
    dispatch(stop_doc(uid, status="complete", summary=summary, reason=reason))
    return str(uid)


def record_plans(
    dispatch: Dispatcher,
    plans: Sequence[tuple[float, Plan]],
    *,
    peer_run: str,
    board: str,
    t0_s: float,
    params: Mapping[str, Any],
) -> list[str]:
    """Record ``plans`` (a policy's new ``(board time, plan)`` pairs) as twin runs (role
    ``plan``) from board time ``t0_s`` (when training resumes with them); their uids, ``""``
    for a plan without a chosen schedule."""
    uids = []
    for _, plan in plans:
        uid = ""
        if plan.best is not None:
            uid = record_prediction(
                dispatch,
                plan.best,
                role="plan",
                peer_run=peer_run,
                board=board,
                t0_s=t0_s,
                params=params,
            )
        uids.append(uid)
    return uids
