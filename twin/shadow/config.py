"""Settings of a shadow: detector, alarm timing, resync policy, document cadence."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from twin._validators import positive
from twin.board.errors import BridgeConfigError
from twin.shadow.threshold_track import ThresholdTrackConfig

__all__ = [
    "DESIGN_MARGIN",
    "DRIVE_MARGINS",
    "PROBE_DUTY",
    "ShadowConfig",
    "detector_hours",
    "share_words",
]


def _resync_mode(_inst: object, _attr: object, value: str) -> None:
    if value not in ("off", "periodic", "on_alarm"):
        raise BridgeConfigError(f"resync: expected off, periodic or on_alarm, got {value!r}")


#: A probe may hold the board at most one part in this many of the time.
PROBE_DUTY = 10.0
#: Board time between passive node checks when a calibrated twin shadows from the command line
#: and ``--node-every`` is not given, s (``--no-node-check`` turns it off).
DEFAULT_NODE_EVERY_S = 0.25


def default_node_every_s(calibrated: bool) -> float | None:
    """The node check's period when none is asked, s: :data:`DEFAULT_NODE_EVERY_S` for a
    calibrated twin (the check needs its conductance model), ``None`` (off) otherwise. The CLI
    and the false-alarm benchmark both take it from here."""
    return DEFAULT_NODE_EVERY_S if calibrated else None


#: Each detector is set :data:`DESIGN_MARGIN` times below its share of the shadow's false-alarm
#: budget. Set at the target itself, a shadow that met it exactly could never be shown to: the
#: 95 % upper bound of a count of its fault-free board-hours stays above the target however long
#: the count runs. At a third of it (one per 30 board-hours for the default 10), about 50
#: board-hours with at most one alarm show the target holds (95 % upper bound 4.74 / 50 h).
DESIGN_MARGIN = 3.0


def detector_hours(config: ShadowConfig, *, calibrated: bool) -> float:
    """Board-hours between false alarms each detector is set for: ``config.false_alarm_hours``
    times the number of detectors that may alarm (the gates' CUSUM; with a calibrated twin also
    the active probe and the passive node check, each when asked for), times
    :data:`DESIGN_MARGIN`. Their false-alarm rates add (a union bound), so each detector set to
    one per ``3 n T`` hours keeps the shadow as a whole to one per ``3 T``, a third of its
    target of one per ``T``."""
    n = 1
    if calibrated:
        n += (config.probe_every_s is not None) + (config.node_every_s is not None)
    return config.false_alarm_hours * n * DESIGN_MARGIN


def share_words(false_alarm_hours: float) -> str:
    """A detector's setting beside the shadow's target, in words (``detector.note``, the demo's
    detector row), from :data:`DESIGN_MARGIN`."""
    return f"1/{DESIGN_MARGIN:g} of its share of the shadow's one per {false_alarm_hours:g}"


#: The detector's gross-drive margins (``ShadowConfig.drive_margin``, ``--drive-margin``).
DRIVE_MARGINS = ("fit", "flat")


def _drive_margin(_inst: object, _attr: object, value: str) -> None:
    if value not in DRIVE_MARGINS:
        raise BridgeConfigError(f"drive_margin: expected fit or flat, got {value!r}")


def _at_most_60(_inst: object, attr: Any, value: float) -> None:
    if value > 60.0:
        raise BridgeConfigError(f"{attr.name}: must be at most 60 s, got {value!r}")


def _window_frames(_inst: object, attr: Any, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 10_000:
        raise BridgeConfigError(f"{attr.name}: expected an integer 2..10000, got {value!r}")


@attrs.frozen(kw_only=True)
class ShadowConfig:
    """Settings of a shadow.

    Parameters
    ----------
    threshold
        Divergence score (the largest edge CUSUM over its decision level) above which the
        board diverges.
    hold_s, clear_s
        Board time above threshold before an alarm, below before it ends, s (the CUSUM
        already integrates: no hold by default).
    false_alarm_hours
        Target mean time between false alarms of the shadow as a whole, board-hours: shared
        between the detectors that may alarm, each set at a third of its share
        (:func:`detector_hours`, :data:`DESIGN_MARGIN`), it sets the CUSUM's
        decision level (:class:`~twin.shadow.detector.FalseAlarmCurve`), the probe's Bonferroni
        level and the node check's level (from its measured tail, :mod:`twin.shadow.node_tail`).
    warmup_s
        Board time over which an uncalibrated shadow learns its residuals' spread, s (no
        alarm before; its false-alarm rate is not established).
    resync, resync_interval_s
        When to reset the twin's gates to the board's: ``off``, ``periodic`` (every
        ``resync_interval_s`` of board time) or ``on_alarm``.
    sample_interval_s
        Run time between sample and energy documents, s.
    compare_nodes_every
        Compare node voltages every this many frames (gates are compared at every frame).
    history_every
        Frames between rows of the plot history.
    silence_s
        :meth:`Shadow.run` gives up after this long (wall) without a frame, s.
    probe_every_s
        Board time between active probes, s (``None``: no probe): a short ``run_inference``
        whose held node voltages the calibrated twin predicts (:mod:`twin.shadow.probe`).
    probe_hold_s
        Hold of each probe, s (the board's learning pauses that long).
    node_every_s
        Board time between passive node checks, s (``None``: none): the last ``node_window``
        training frames' free node readings against the calibrated twin
        (:mod:`twin.shadow.node_watch`; no command, no pause).
    node_window
        Consecutive training frames per node check.
    track_drift
        Track each edge's gain factor and extra drift online and correct the prediction with
        them (:class:`~twin.shadow.tracker.DriftTracker`): slow drift is absorbed, not alarmed.
    track_thresholds
        How the probe and the node check track each edge's threshold from their clean tests
        (:class:`~twin.shadow.threshold_track.ThresholdTracker`: slow threshold drift and the
        calibration's threshold error absorbed, not alarmed); ``None``: they test against the
        calibration's thresholds.
    hold_pinned
        Hold a gate the board reports pinned at a rail where the calibrated twin cannot tell
        its drive's direction, through each state resync's interval (:mod:`twin.shadow.pinned`).
        Off by default: on fault-free boards it raised more false alarms than it removed.
    drive_margin
        The detector's margin for a gate's gross drive (:mod:`twin.shadow.drive_margin`):
        ``fit``, sized per edge from the calibration's fitted gains' covariance where the
        calibration carries it (else flat; the default: 0 false alarms in two fault-free
        board-hours and one drifting board-hour); ``flat``, a fixed fraction of the gross drive.
    """

    threshold: float = attrs.field(default=1.0, validator=positive(BridgeConfigError))
    hold_s: float = 0.0
    clear_s: float = 0.2
    resync: Literal["off", "periodic", "on_alarm"] = attrs.field(
        default="periodic", validator=_resync_mode
    )
    resync_interval_s: float = attrs.field(default=0.25, validator=positive(BridgeConfigError))
    sample_interval_s: float = attrs.field(default=0.1, validator=positive(BridgeConfigError))
    compare_nodes_every: int = 1
    history_every: int = 10
    silence_s: float = attrs.field(default=10.0, validator=positive(BridgeConfigError))
    false_alarm_hours: float = attrs.field(default=10.0, validator=positive(BridgeConfigError))
    warmup_s: float = attrs.field(default=2.0, validator=positive(BridgeConfigError))
    track_drift: bool = True
    probe_every_s: float | None = attrs.field(
        default=None, validator=positive(BridgeConfigError, optional=True)
    )
    probe_hold_s: float = attrs.field(
        default=0.01, validator=[positive(BridgeConfigError), _at_most_60]
    )
    node_every_s: float | None = attrs.field(
        default=None, validator=positive(BridgeConfigError, optional=True)
    )
    node_window: int = attrs.field(default=10, validator=_window_frames)
    track_thresholds: ThresholdTrackConfig | None = attrs.field(factory=ThresholdTrackConfig)
    drive_margin: Literal["fit", "flat"] = attrs.field(default="fit", validator=_drive_margin)
    hold_pinned: bool = False

    def __attrs_post_init__(self) -> None:
        every = self.probe_every_s
        if every is not None and every < PROBE_DUTY * self.probe_hold_s:
            raise BridgeConfigError(
                f"probe every {every:g} s: expected at least {PROBE_DUTY:g} x the probe's hold "
                f"({self.probe_hold_s:g} s), so the board learns most of the time"
            )

    def evolve(self, **changes: Any) -> ShadowConfig:
        return attrs.evolve(self, **changes)
