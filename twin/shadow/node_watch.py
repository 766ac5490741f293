"""The passive node check: the board's own training frames tested as a probe's hold would be.

A board in training publishes every node of its free network at the task's training inputs with
each frame (``v_free_v``): the same readings an inference at those inputs holds for the active
probe (:mod:`twin.shadow.probe`), taken while the gates move slowly instead of held. Every
``every_s`` of board time :class:`NodeWatch` tests the last ``window`` consecutive training frames
with the probe's node test (:class:`~twin.shadow.node_test.NodeTester`: the twin's calibrated
free response at the reported gates, mean over the window, absolute and step tests at a level
for ``false_alarm_hours`` set from the measured tail of their largest statistics on fault-free
boards, :mod:`twin.shadow.node_tail`), without sending a command or pausing learning.

What it reveals is what the probe reveals, at the training inputs only: the map from gate to
conductance and the readout (threshold faults of conducting edges, pinned at the upper rail or
not; a node ADC's offset), not how a gate learns. An edge in cutoff carries no current at these
inputs and is invisible to it; the active probe, at other inputs, may still see it.
The gates' travel within the window adds to the reads' spread, which the test measures, so it
widens the test rather than biasing it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from twin.board.contract import BoardState
from twin.shadow.alarms import Alarm
from twin.shadow.node_tail import NodeTail, default_node_tail
from twin.shadow.node_test import PROBE_MODEL_V, PROBE_STEP_REL, NodeCheck, NodeTester
from twin.shadow.state import TwinState
from twin.shadow.threshold_track import ThresholdTrackConfig
from twin.simulation.edge import EdgeParams

__all__ = ["NodeWatch"]


class NodeWatch(NodeCheck):
    """Tests the board's training frames' node readings against the twin every ``every_s``.

    Parameters
    ----------
    every_s
        Board time between tests, s.
    window
        Consecutive training frames per test (the probe's hold at 1 kHz is 10 frames).
    false_alarm_hours
        Target mean time between false alarms, board-hours.
    state
        The shadow's state (task, circuit, reported frames); read only.
    track
        Track each edge's threshold from the clean tests (``None``: test against the
        calibration's thresholds): see :class:`~twin.shadow.node_test.NodeTester`.
    tail
        The measured tail the level is set from (default: the emulated board's,
        :func:`~twin.shadow.node_tail.default_node_tail`).
    """

    def __init__(
        self,
        *,
        every_s: float,
        window: int,
        false_alarm_hours: float,
        state: TwinState,
        track: ThresholdTrackConfig | None = None,
        tail: NodeTail | None = None,
    ) -> None:
        self.every_s = float(every_s)
        self.window = int(window)
        self.state = state
        self.tail = tail if tail is not None else default_node_tail()
        self.tester = NodeTester(
            every_s=every_s,
            false_alarm_hours=false_alarm_hours,
            state=state,
            source="nodes",
            track=track,
            tail=self.tail,
        )
        self._frames: deque[BoardState] = deque(maxlen=self.window)
        self._next_s: float | None = None
        self.skipped = 0

    def step(
        self,
        states: Sequence[BoardState],
        edges: EdgeParams,
        params: Mapping[str, Any],
        on_alarm: Callable[[Alarm], None],
    ) -> None:
        """Take the frames the shadow just ingested; test the window when a test is due (an
        alarm raised or ended goes to ``on_alarm``, the shadow's alarm path)."""
        for s in states:
            if s.mode != "training":
                self._frames.clear()
                continue
            self._frames.append(s)
            if len(self._frames) < self.window:
                continue
            if self._next_s is None:
                self._next_s = s.t_s
            if s.t_s < self._next_s - 1e-12:
                continue
            # a window is consecutive training frames of one epoch at one input: checked only
            # when a test is due (not on every frame, the shadow's hot path); frames up to the
            # last break are dropped and the test waits for a whole window after it
            frames = list(self._frames)
            cut = _last_break(frames)
            if cut:
                for _ in range(cut):
                    self._frames.popleft()
                continue
            self._next_s = s.t_s + self.every_s
            result = self.tester.evaluate(
                frames, np.asarray(s.inputs_v, dtype=float), edges, params, clamped_reads=False
            )
            if result is None:
                self.skipped += 1
                continue
            alarm = self.tester.feed(result, s.board_id, s.epoch)
            if alarm is not None:
                on_alarm(alarm)

    def summary(self) -> dict[str, Any]:
        """Tests made and skipped, alarms, the largest score and the setting."""
        return {
            "every_s": self.every_s,
            "window_frames": self.window,
            "false_alarm_hours": self.tester.false_alarm_hours,
            "accuracy_v": PROBE_MODEL_V,
            "accuracy_step_rel": PROBE_STEP_REL,
            "evaluated": self.tester.evaluated,
            "skipped": self.skipped,
            "alarms": len(self.alarms),
            "score_max": self.tester.score_max,
            "z_max": self.tester.z_max,
            "z_crit": self.tester.z_crit,
            "level_from": "the measured tail of fault-free boards' largest statistics "
            f"({self.tail.boards} boards, twin/shadow/node_tail.json)",
            "reveals": "threshold/conductance faults of conducting edges at the training inputs, "
            "node ADC",
            "blind_to": "gain faults, dead gates and leaks; edges in cutoff at the training inputs",
            "thresholds_tracked": self.thresholds_tracked(),
        }


def _last_break(frames: Sequence[BoardState]) -> int:
    """How many leading frames precede the last break in ``frames`` (another epoch, a missing
    sequence number or other inputs than the frame before): 0 when they are consecutive."""
    for i in range(len(frames) - 1, 0, -1):
        a, b = frames[i - 1], frames[i]
        if b.epoch != a.epoch or b.seq != a.seq + 1 or not np.array_equal(b.inputs_v, a.inputs_v):
            return i
    return 0
