"""A shadow of an in-process emulated board, run in a background thread and fed to a live view.

The test thread drives the browser; this thread owns the board and the shadow. The test asks for
a board restart or a pause through events (the board is only touched by this thread).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from twin.board.inprocess import Fault, InProcessBoard
from twin.documents import Dispatcher
from twin.shadow.detector import SpreadModel
from twin.shadow.session import EmulationSpec, make_emulator
from twin.shadow.shadow import Shadow, ShadowConfig
from twin.view import LiveState, ShadowFeed

__all__ = ["ShadowDriver"]


#: Without hidden variation the nominal twin is the board: its residual spread is the gate
#: ADC's (1 mV noise, 1.3 mV LSB, on the reading and on the resync) plus a little slack.
EXACT_TWIN_SPREAD = SpreadModel(
    floor_v=np.full(32, 2.5e-3), slope_v_per_s=np.full(32, 5e-3), rel=np.full(32, 5e-3)
)


class ShadowDriver:
    """Shadow an emulated board into ``state`` until :meth:`stop` (or ``max_board_s``).

    Parameters
    ----------
    state
        The live view's state.
    realtime
        Pace the board by the wall clock (else as fast as the shadow keeps up).
    faults
        Faults injected into the emulated board.
    max_board_s
        Board time after which the thread ends by itself, s.
    """

    def __init__(
        self,
        state: LiveState,
        *,
        realtime: bool = False,
        faults: Sequence[Fault] = (),
        max_board_s: float = 120.0,
        seed: int = 0,
        variation: str = "none",
    ) -> None:
        spec = EmulationSpec(seed=seed, realtime=realtime, variation=variation)
        self.board = InProcessBoard(make_emulator(spec), realtime=realtime, faults=tuple(faults))
        self.shadow = Shadow(
            self.board,
            ShadowConfig(sample_interval_s=0.05),
            rng=np.random.default_rng([seed, 3]),
            emit=Dispatcher([state]),
            spread=EXACT_TWIN_SPREAD if variation == "none" else None,
        )
        self.feed = ShadowFeed(state, self.shadow)
        self.shadow.on_alarm = self.feed.alarm
        self.max_board_s = max_board_s
        self.restart_wanted = threading.Event()
        self.running = threading.Event()
        self.running.set()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="shadow-driver", daemon=True)

    def start(self) -> ShadowDriver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.running.set()
        self._thread.join(30.0)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            self.shadow.open()
            info: dict[str, object] = {"duration_s": None, "lag_p99_s": None}
            steps = 0
            while not self._stop.is_set() and self.shadow.run_t_s < self.max_board_s:
                if not self.running.is_set():  # paused: the stream stalls, the page must say so
                    self.running.wait()
                    continue
                if self.restart_wanted.is_set():
                    self.restart_wanted.clear()
                    self.board.restart()
                self.shadow.step(0.05)
                steps += 1
                if steps % 20 == 0:  # the lag quantiles cost O(frames): not every step
                    info = self.shadow.progress_info()
                self.feed(info)
            self.shadow.close()
        except BaseException as exc:  # handed to the test thread by stop()
            self.error = exc
