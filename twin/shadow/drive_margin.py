"""The shadow's margin for a gate's gross drive: what the twin's fitted gains leave unknown.

A gate's drive is the difference of two terms (the squared free and clamped drops times their
gains), which nearly cancel near a fixed point of the learning rule, so a small error in the two
gains' balance moves the gate at a fraction of the *gross* drive (the two terms added). The
detector (:meth:`twin.shadow.watch.Watch.edge_scores`) adds this rate, times the time since the
resync, to the twin's stated accuracy: a flat :data:`DRIVE_REL` of the gross drive, or, given the
calibration's covariance of each edge's two fitted gains, :data:`DRIVE_SIGMAS` standard deviations
of the net drive's error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from twin.board.circuit import BoardCircuit, EdgeModel
    from twin.shadow.detector import SpreadModel

__all__ = [
    "DRIVE_REL",
    "DRIVE_SIGMAS",
    "GAIN_COV_KEYS",
    "drive_margin_v_per_s",
    "drive_sd_v_per_s",
    "edge_drive_sd_v_per_s",
    "gain_covariance",
    "margin_covariance",
    "margin_text",
]

#: The twin's stated accuracy on a gate's gross drive, relative: the free and clamped drive terms
#: (squared drops times their gains) added instead of subtracted. The two terms nearly cancel, so
#: a gate's net travel can be small while each term is not, and a gain error of a fraction of a
#: percent between them moves the gate at that fraction of the gross drive. Held-out board 314's
#: edge 30 at 1.6-1.7 V (near a fixed point; its fitted gains 3 % off as a scale, 0.2 % as a
#: ratio, within 1.2 standard errors) parted from the twin at ~0.2 V/s; the twin with the board's
#: hidden gains did not. The margin gains this fraction of the gross drive's travel since the
#: resync (its rate now times the time since the resync). Chosen on board 314 as the smallest of
#: 1, 2 and 5 % that removes its alarm (all three do); 5 % cost the detection of dead gates and
#: both-gain faults (0/8 each on seeds 200-207), whose residual is the net travel.
DRIVE_REL = 0.01
#: With the calibration's covariance of each edge's two fitted gains (the default,
#: ``ShadowConfig(drive_margin="fit")``, ``twin shadow --drive-margin fit``; the calibration
#: carries it in :attr:`twin.shadow.detector.SpreadModel.gain_cov` and its file in
#: ``fit.a_free_clamp_cov_per_v2``), the gross-drive margin is instead this
#: many standard deviations of the net drive's error those gains leave,
#: ``sd(da_F X_F - da_C X_C) / (R C)`` (``X`` the squared drops), times the time since the
#: resync. The two gains' errors are almost perfectly correlated (a common scale, which
#: :data:`twin.shadow.watch.MODEL_REL` of the net travel covers), so this is far below the flat
#: 1 %: measured (2SLS covariance, fault-free twin 0.2 s past the fault time), correlation
#: 0.991-0.99997 and a net-drive sd of 0.03-0.07 % of the gross drive on board 314's edge 30
#: and on the two edges whose faults the flat 1 % hid (board 209's edge 11, 215's edge 28); over
#: all driven edges of those boards median 0.07-0.08 %, p90 0.2-0.4 %, p99 0.5-0.6 %. Board 314's
#: divergence (~0.2 V/s against the sd's 0.18 V/s) is 1.2 sd. The default (``drive_margin``
#: ``fit``): 0 false alarms in two fault-free board-hours (seeds 2100-2129, 2200-2229) and in
#: the drifting board-hour of seed 950.
DRIVE_SIGMAS = 3.0


#: The calibration's fitted values :func:`gain_covariance` takes, in order (standard errors of
#: the free and clamped gains, 1/V, and their covariance, 1/V^2).
GAIN_COV_KEYS = ("a_free_se_per_v", "a_clamp_se_per_v", "a_free_clamp_cov_per_v2")


def gain_covariance(
    a_free_se_per_v: np.ndarray, a_clamp_se_per_v: np.ndarray, cov_per_v2: np.ndarray
) -> np.ndarray:
    """Per-edge ``(var a_F, var a_C, cov(a_F, a_C))``, 1/V^2, ``(E, 3)``, from the calibration's
    standard errors and covariance (NaN where an edge kept its nominal gains)."""
    se_f, se_c = np.asarray(a_free_se_per_v, float), np.asarray(a_clamp_se_per_v, float)
    return np.stack([se_f**2, se_c**2, np.asarray(cov_per_v2, float)], axis=1)


def drive_sd_v_per_s(
    gain_cov: np.ndarray, free_x_v2: np.ndarray, clamped_x_v2: np.ndarray, rc_s: np.ndarray
) -> np.ndarray:
    """Standard deviation of each edge's net drive (V/s) from its fitted gains' errors,
    ``sd(da_F X_F - da_C X_C) / (R C)``, at squared drops ``free_x_v2`` (times ``1 - lambda``)
    and ``clamped_x_v2``, V^2, and charging time ``rc_s`` (NaN where the gains were not fitted)."""
    c = np.asarray(gain_cov, float)
    xf, xc = np.asarray(free_x_v2, float), np.asarray(clamped_x_v2, float)
    var = xf * xf * c[:, 0] + xc * xc * c[:, 1] - 2.0 * xf * xc * c[:, 2]
    return np.asarray(np.sqrt(np.maximum(var, 0.0)) / rc_s)


def edge_drive_sd_v_per_s(
    circuit: BoardCircuit,
    model: EdgeModel,
    gain_cov: np.ndarray | None,
    v_free_v: np.ndarray,
    v_clamped_v: np.ndarray,
    *,
    lam: float,
) -> np.ndarray | None:
    """:func:`drive_sd_v_per_s` of every edge at the node voltages ``v_free_v`` and
    ``v_clamped_v`` (V) and power weight ``lam``; ``None`` without a covariance of the
    circuit's edges (an uncalibrated twin, a flat margin)."""
    if gain_cov is None or gain_cov.shape[0] != circuit.n_edges:
        return None
    return drive_sd_v_per_s(
        gain_cov,
        (1.0 - lam) * circuit.drops(v_free_v) ** 2,
        circuit.drops(v_clamped_v) ** 2,
        model.r_charge_ohm * model.c_gate_f,
    )


def drive_margin_v_per_s(
    gross_v_per_s: np.ndarray, drive_sd: np.ndarray | None = None
) -> np.ndarray:
    """The margin's rate per edge, V/s: :data:`DRIVE_SIGMAS` x ``drive_sd`` where it is finite,
    else :data:`DRIVE_REL` x ``gross_v_per_s``."""
    flat = DRIVE_REL * np.asarray(gross_v_per_s, float)
    if drive_sd is None or np.shape(drive_sd) != flat.shape:
        return flat
    sd = np.asarray(drive_sd, float)
    return np.where(np.isfinite(sd), DRIVE_SIGMAS * sd, flat)


def margin_covariance(choice: str, spread: SpreadModel | None) -> np.ndarray | None:
    """The gains' covariance the detector sizes its margin with: the calibration's
    (``spread.gain_cov``) when ``choice`` is ``fit``, else ``None`` (the flat margin)."""
    return spread.gain_cov if choice == "fit" and spread is not None else None


def margin_text(gain_cov: np.ndarray | None, choice: str, calibrated: bool) -> str:
    """What a run's summary says about the gross-drive margin it used, and why."""
    flat = f"flat: {DRIVE_REL:.0%} of the gross drive"
    if gain_cov is not None:
        fitted = int(np.isfinite(gain_cov).all(axis=1).sum())
        return (
            f"fit: {DRIVE_SIGMAS:g} sd of the net drive's error from the calibration's fitted "
            f"gains' covariance ({fitted} of {len(gain_cov)} edges; the rest {flat[6:]})"
        )
    if choice == "flat":
        return f"{flat} (--drive-margin flat)"
    if not calibrated:
        return f"{flat} (uncalibrated twin: no fitted gains)"
    return (
        f"{flat} (the calibration carries no gains' covariance, e.g. a file written before it: "
        "recalibrate for the fitted margin)"
    )
