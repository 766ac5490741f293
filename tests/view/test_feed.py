"""The shadow's feed: link status, restart and resync events, alarms (no browser)."""

from __future__ import annotations

from tests.view.driver import ShadowDriver
from twin.board.inprocess import parse_fault
from twin.view import LiveState


def _step_until(driver: ShadowDriver, board_s: float) -> None:
    sh = driver.shadow
    while sh.run_t_s < board_s:
        sh.step(0.05)
        driver.feed({"duration_s": None, "lag_p99_s": 0.0})


def test_feed_reports_link_restarts_and_alarms() -> None:
    state = LiveState(window=50)
    driver = ShadowDriver(state, faults=[parse_fault("7:free_gain=3@0.25")])
    driver.shadow.open()
    _step_until(driver, 0.2)
    status = state.snapshot()["latest"]["status"]
    assert status["frames"] >= 200
    assert status["resyncs"] == 1
    assert status["restarts"] == 0
    assert isinstance(status["epoch"], str)  # 63-bit epochs travel as text (exact in JS)
    assert status["last_frame_unix"] is not None
    epoch = status["epoch"]
    driver.board.restart()
    _step_until(driver, 0.7)
    latest = state.snapshot()["latest"]
    assert latest["status"]["restarts"] == 1
    assert latest["status"]["resyncs"] == 2
    assert latest["status"]["epoch"] != epoch
    kinds = [e["kind"] for e in latest["events"]]
    assert kinds.count("restart") == 1
    assert latest["n_alarms"] >= 1  # the fault on edge 7 (board time 0.25 s after the restart)
    assert 7 in latest["alarms"][0]["edges"]
    driver.shadow.close()
