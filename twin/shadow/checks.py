"""The shadow's checks of the conductance model beside the detector: the active probe
(:mod:`twin.shadow.probe`) and the passive node check (:mod:`twin.shadow.node_watch`).

Both test node readings against the calibrated twin's free response, so both need a calibrated
twin: without one they are off, and the summary says why.
"""

from __future__ import annotations

import logging
from typing import Any

from twin.shadow.commands import Commander
from twin.shadow.config import ShadowConfig, detector_hours
from twin.shadow.node_test import check_off
from twin.shadow.node_watch import NodeWatch
from twin.shadow.probe import InferenceProbe
from twin.shadow.state import TwinState

__all__ = ["build_checks", "check_summaries"]

log = logging.getLogger("twin.shadow")


def build_checks(
    config: ShadowConfig, *, calibrated: bool, state: TwinState, commander: Commander
) -> tuple[InferenceProbe | None, NodeWatch | None]:
    """The probe (``config.probe_every_s``) and the node check (``config.node_every_s``) asked
    for, when the twin is calibrated (else none, with a warning), each at its share of the
    shadow's false-alarm budget (:func:`~twin.shadow.config.detector_hours`)."""
    asked = config.probe_every_s is not None or config.node_every_s is not None
    if not calibrated:
        if asked:
            log.warning("probe and node check off: uncalibrated twin (calibrate first)")
        return None, None
    probe = nodes = None
    hours = detector_hours(config, calibrated=True)  # each check's share of the budget
    if config.probe_every_s is not None:
        probe = InferenceProbe(
            every_s=config.probe_every_s,
            hold_s=config.probe_hold_s,
            false_alarm_hours=hours,
            state=state,
            commander=commander,
            track=config.track_thresholds,
        )
    if config.node_every_s is not None:
        nodes = NodeWatch(
            every_s=config.node_every_s,
            window=config.node_window,
            false_alarm_hours=hours,
            state=state,
            track=config.track_thresholds,
        )
    return probe, nodes


def check_summaries(
    config: ShadowConfig, probe: InferenceProbe | None, nodes: NodeWatch | None
) -> dict[str, Any]:
    """The summary's ``probe`` and ``nodes`` entries (``None``: not asked; ``off``: why)."""
    return {
        "probe": probe.summary() if probe is not None else check_off(config.probe_every_s),
        "nodes": nodes.summary() if nodes is not None else check_off(config.node_every_s),
    }
