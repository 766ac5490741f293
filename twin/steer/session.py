"""Composition: the twin to steer with, the policy by name, and one steering run.

The twin's edges come from the shadow: :func:`calibrated_twin` calibrates an emulated board's
twin with the shadow's calibration (:func:`twin.shadow.session.calibrate_emulator`, on a
recording of the same hidden board) and judges whether to trust it from its held-out
prediction error; :func:`nominal_twin` is the uncalibrated twin (a board reached over the wire
that has not been calibrated).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from twin.board.contract import Board
from twin.documents import Subscriber
from twin.learning.rules import LambdaControl
from twin.simulation.edge import EdgeParams, board_edge_params

from .config import SteerConfig
from .errors import SteerConfigError
from .planner import PlannerConfig
from .policies import ControlPolicy, FixedPolicy, Policy, PredictivePolicy
from .report import SteerResult
from .steerer import PolicyFactory, SteerContext, Steerer

__all__ = [
    "POLICIES",
    "PolicySpec",
    "SteerTwin",
    "calibrated_twin",
    "make_policy",
    "nominal_twin",
    "saved_twin",
    "steer_board",
    "twin_of_calibration",
]

POLICIES = ("control", "predictive", "fixed", "overclamp")


@attrs.frozen(kw_only=True)
class SteerTwin:
    """The twin's edges, whether it is trusted, and the calibration report behind that."""

    edges: EdgeParams
    trusted: bool
    report: dict[str, Any] = attrs.field(factory=dict)


def nominal_twin() -> SteerTwin:
    """The uncalibrated twin: trusted until the board departs from it (then re-planned)."""
    return SteerTwin(
        edges=board_edge_params("transistor"), trusted=True, report={"twin": "nominal"}
    )


def calibrated_twin(
    emulation: Any,
    *,
    trust_gate_rms_v: float = 0.05,
    seed: int = 0,
    etas: tuple[float, ...] = (),
    idle_s: float = 0.0,
) -> SteerTwin:
    """Calibrate the twin of the emulated board ``emulation`` (a shadow ``EmulationSpec``).

    The recording runs on a second emulator of the same seed (the same hidden board), so the
    board to steer starts untouched. Trusted when the calibrated twin's held-out gate
    prediction error is at most ``trust_gate_rms_v``. ``etas``: the calibration's episodes
    train at these nudges in turn (default: the board's own); ``idle_s`` > 0: each is held idle
    that long first, so the fit separates the drift of a held gate (leak, comparator offsets)
    from the learning bias, and the twin predicts a held board's drift.
    """
    from twin.shadow.session import calibrate_emulator, make_emulator

    emulator = make_emulator(emulation)
    result, report = calibrate_emulator(emulator, seed=seed, etas=etas, idle_s=idle_s)
    return twin_of_calibration(result, report, trust_gate_rms_v=trust_gate_rms_v)


def twin_of_calibration(
    result: Any, report: Mapping[str, Any], *, trust_gate_rms_v: float = 0.05
) -> SteerTwin:
    """The twin of a calibration ``result`` (a shadow ``CalibrationResult``) and its held-out
    ``report``: trusted when the held-out gate prediction error is at most
    ``trust_gate_rms_v``."""
    rms = float(report["prediction"]["calibrated"]["gate_rms_v"])
    summary = {
        "twin": "calibrated",
        "held_out_gate_rms_v": rms,
        "gate_improvement": float(report["gate_improvement"]),
    }
    return SteerTwin(edges=result.edges, trusted=rms <= trust_gate_rms_v, report=summary)


def saved_twin(saved: Any, *, trust_gate_rms_v: float = 0.05) -> SteerTwin:
    """The twin of a saved calibration (a shadow ``SavedCalibration``), trusted as
    :func:`twin_of_calibration` decides when its file holds the held-out report (else trusted
    until the board departs from it, as the nominal twin)."""
    summary = saved.summary()
    rms = summary.get("held_out_gate_rms_v")
    trusted = rms is None or float(rms) <= trust_gate_rms_v
    return SteerTwin(edges=saved.edges, trusted=trusted, report={"twin": "saved", **summary})


@attrs.frozen(kw_only=True)
class PolicySpec:
    """A policy by name with its settings (``lam`` for ``fixed``; Eq. 18's ``rho``, ``p``,
    ``lam0`` and board time unit for ``control`` and the fallback of ``predictive``; the
    ``overclamp_eta`` of ``overclamp``, ``None``: the board's own; ``eta`` the nudge ``fixed``
    trains at, ``None``: the board's own)."""

    name: str = "control"
    lam: float = 0.0
    rho: float = 1.0
    p: float = 0.02
    lam0: float = 0.01
    time_unit_s: float = 0.1
    planner: PlannerConfig = attrs.field(factory=PlannerConfig)
    max_replans: int = 3
    overclamp_eta: float | None = 32 / 129
    eta: float | None = None

    def __attrs_post_init__(self) -> None:
        if self.name not in POLICIES:
            raise SteerConfigError(
                f"--policy: expected one of {', '.join(POLICIES)}, got {self.name!r}"
            )


def make_policy(spec: PolicySpec, *, trusted: bool = True) -> PolicyFactory:
    """The factory of ``spec``'s policy (built once the tolerance is known)."""

    def build(ctx: SteerContext) -> Policy:
        control = ControlPolicy(
            LambdaControl(tol=ctx.tol, rho=spec.rho, p=spec.p, lam0=spec.lam0),
            time_unit_s=spec.time_unit_s,
        )
        if spec.name == "fixed":
            return FixedPolicy(lam=spec.lam, eta=spec.eta)
        if spec.name == "control":
            return control
        return PredictivePolicy(
            ctx.planner, ctx.tol, control, trusted=trusted, max_replans=spec.max_replans
        )

    return build


def steer_board(
    board: Board,
    *,
    policy: PolicySpec,
    config: SteerConfig,
    twin: SteerTwin | None = None,
    emit: Subscriber | None = None,
    dry_run: bool = False,
    seed: int = 0,
) -> SteerResult:
    """Steer ``board`` with ``policy`` (the board is not closed here)."""
    twin = twin if twin is not None else nominal_twin()
    if policy.name == "overclamp":
        from .overclamp import OverclampRun

        run = OverclampRun(
            board, config, edges=twin.edges, emit=emit, dry_run=dry_run, eta=policy.overclamp_eta
        )
        result = run.run()
        result.summary["twin"] = dict(twin.report, trusted=twin.trusted)
        return result
    steerer = Steerer(
        board,
        make_policy(policy, trusted=twin.trusted),
        config,
        edges=twin.edges,
        emit=emit,
        dry_run=dry_run,
        seed=seed,
        planner=policy.planner,
    )
    result = steerer.run()
    result.summary["twin"] = dict(twin.report, trusted=twin.trusted)
    return result
