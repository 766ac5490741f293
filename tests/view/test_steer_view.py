"""The live page of a steering run: the board's error against the twin's plan, and the commands.

The state (no browser): commands are kept (bounded) and counted per status, a re-plan replaces
the plan from the time it was made, the lambda = 0 baseline is not plotted, and the plans' own
stop documents do not end the run. In headless Chromium: a predictive steering run of an
emulated board, fed to a served state, shows both series and the commands sent.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from twin.documents import energy_doc, sample_doc, start_doc, stop_doc
from twin.view import LiveState, ViewServer


def _command(run: str, seq: int, status: str = "acked") -> dict[str, Any]:
    return {
        "doc": "command",
        "run": run,
        "seq": seq,
        "t_s": 0.01 * seq,
        "name": "set_params",
        "key": f"k{seq}",
        "args": {"lam": 0.1},
        "status": status,
        "attempts": 1,
    }


def _plan(state: LiveState, board_uid: str, t0_s: float, errors: list[float]) -> str:
    start = start_doc(
        source="twin", kind="steer", params={"role": "plan", "peer_run": board_uid, "t0_s": t0_s}
    )
    state(start)
    for i, e in enumerate(errors):
        state(sample_doc(start["uid"], i, t0_s + 0.1 * i, {"error": [e]}))
    state(stop_doc(start["uid"], status="complete"))
    return str(start["uid"])


def test_steer_state_keeps_commands_and_replaces_the_plan_on_a_replan() -> None:
    state = LiveState(window=100, max_events=5, mode="steer")
    board = start_doc(source="board", kind="steer", params={}, board="b1")
    state(board)
    for i in range(8):
        state(_command(board["uid"], i, "refused" if i == 3 else "acked"))
    _plan(state, board["uid"], 0.0, [1.0, 0.5, 0.25, 0.1])  # t = 0 .. 0.3
    _plan(state, board["uid"], 0.15, [0.6, 0.3])  # re-planned at 0.15: t = 0.15, 0.25
    base = start_doc(source="twin", kind="steer", params={"role": "baseline"})
    state(base)
    state(sample_doc(base["uid"], 0, 0.0, {"error": [9.0]}))
    state(energy_doc(base["uid"], 0, 0.0, 1.0, 5.0, component="free_network"))
    state(stop_doc(base["uid"], status="complete"))
    state(sample_doc(board["uid"], 0, 0.1, {"error": [0.7]}))
    snap = state.snapshot()
    plan = [x for p in snap["series"]["twin"] for x in p[1:3]]
    assert plan == pytest.approx([0.0, 1.0, 0.1, 0.5, 0.15, 0.6, 0.25, 0.3])
    assert [p[2] for p in snap["series"]["board"]] == [0.7]
    latest = snap["latest"]
    assert latest["status"]["run"] == "running"  # the plans' stops are not the run's
    assert latest["energy_j"] == {}  # predicted joules are not spent ones
    assert latest["command_counts"] == {"acked": 7, "refused": 1}
    assert [c["seq"] for c in latest["commands"]] == [3, 4, 5, 6, 7]  # bounded: the last 5
    assert latest["commands"][0] == {
        "seq": 3,
        "t_s": 0.03,
        "name": "set_params",
        "args": {"lam": 0.1},
        "status": "refused",
        "attempts": 1,
    }
    state(stop_doc(board["uid"], status="complete"))
    assert state.snapshot()["latest"]["status"]["run"] == "complete"


def test_page_shows_the_plan_the_board_and_the_commands(page: Any) -> None:
    from playwright.sync_api import expect

    state = LiveState(window=100, mode="steer")
    with ViewServer(state, update_hz=20.0) as server:
        board = start_doc(source="board", kind="steer", params={}, board="b1")
        state(board)
        _plan(state, board["uid"], 0.0, [1.0, 0.5, 0.25, 0.1])
        state(_command(board["uid"], 0))
        page.goto(server.url)
        expect(page.locator("#mode")).to_contain_text("steering")
        page.wait_for_function("() => liveView.sizes().twin === 4")
        # live: board samples and commands arrive; a re-plan replaces the plan from its start
        for i in range(5):
            state(sample_doc(board["uid"], i, 0.05 * i, {"error": [1.0 - 0.1 * i]}))
        state(_command(board["uid"], 1, "refused"))
        _plan(state, board["uid"], 0.15, [0.6, 0.3])
        page.wait_for_function("() => liveView.sizes().board === 5 && liveView.sizes().twin === 4")
        assert page.evaluate("() => liveView.lastT()") == pytest.approx(0.25)
        expect(page.locator("#n-commands")).to_have_text("2")
        expect(page.locator("#commands li").first).to_contain_text("set_params lam=0.100")
        expect(page.locator("#commands li.refused")).to_have_count(1)
        expect(page.locator("#st-refused")).to_have_text("1")
        expect(page.locator("#events")).to_contain_text("plan")
        assert page.locator("#plot-residual").is_hidden()
        assert page.locator(".steer-only .sw.twin").is_visible()
        state(stop_doc(board["uid"], status="complete"))
        expect(page.locator("#st-run")).to_have_text("complete")


@pytest.mark.slow  # a predictive steering run of an emulated board (~10 s on a loaded machine)
def test_page_shows_the_plan_against_the_board_and_the_commands(page: Any) -> None:
    from playwright.sync_api import expect

    from tests.steer.conftest import emulated
    from twin.steer import PolicySpec, SteerConfig, steer_board
    from twin.steer.planner import PlannerConfig

    state = LiveState(window=400, mode="steer")
    planner = PlannerConfig(lams=(0.0, 0.1), switch_factors=(30.0,))
    done: dict[str, Any] = {}

    def steer() -> None:
        done["summary"] = steer_board(
            emulated(),
            policy=PolicySpec(name="predictive", planner=planner),
            config=SteerConfig(tolerance_rel=1e-2),
            emit=state,
        ).summary

    with ViewServer(state, update_hz=20.0) as server:
        thread = threading.Thread(target=steer, daemon=True)
        thread.start()
        page.goto(server.url)
        expect(page.locator("#mode")).to_contain_text("steering")
        expect(page.locator("#st-run")).to_have_text("complete", timeout=60_000)
        thread.join(60)
        s = done["summary"]
        assert s["reached"], s
        page.wait_for_function("() => liveView.sizes().board > 0 && liveView.sizes().twin > 10")
        # the plan reaches the tolerance; the board's error is plotted beside it
        plan_end = page.evaluate("() => liveView.lastT()")
        assert plan_end > 0
        expect(page.locator("#commands li").first).to_contain_text("stop_training")
        expect(page.locator("#commands")).to_contain_text("set_params lam=")
        counts = state.snapshot()["latest"]["command_counts"]
        assert counts.get("acked", 0) == s["commands"]["acked"]
        expect(page.locator("#n-commands")).to_have_text(str(sum(counts.values())))
        expect(page.locator("#st-refused")).to_have_text(str(s["commands_refused"]))
        assert page.locator("#plot-residual").is_hidden()
        assert page.locator(".steer-only .sw.twin").is_visible()
