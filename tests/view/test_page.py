"""The live page in headless Chromium against an emulated board and the CLI.

The page loads, its numbers update, a board restart shows as a resync, a stalled stream shows at
once, memory stays bounded over a long run, and ``--view`` works from ``twin shadow`` and
``twin simulate``. Polling with timeouts only (Playwright ``expect`` / ``wait_for_function``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import run_cli
from tests.ports import free_port, wait_listening
from tests.view.driver import ShadowDriver
from twin.documents import sample_doc, start_doc
from twin.view import ViewServer

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


def _number(page: Any, selector: str) -> float:
    return float(page.text_content(selector))


def test_page_follows_a_shadowed_board_through_a_restart_and_a_stall(
    served: ViewServer, page: Any
) -> None:
    driver = ShadowDriver(served.state, max_board_s=60.0).start()
    try:
        page.goto(served.url)
        page.wait_for_function("() => liveView.sizes().board > 5 && liveView.sizes().twin > 5")
        # its numbers update
        frames = _number(page, "#st-frames")
        page.wait_for_function(f"() => liveView.status().frames > {frames}")
        t_s = page.evaluate("() => liveView.lastT()")
        page.wait_for_function(f"() => liveView.lastT() > {t_s}")
        expect(page.locator("#link")).to_have_text("live")
        expect(page.locator("#energy-board")).to_contain_text("J")
        expect(page.locator("#energy-twin")).to_contain_text("J")
        assert page.evaluate("() => liveView.edges()") == {"drawn": 32, "coloured": 32}
        page.select_option("#edge-mode", "k-board")
        expect(page.locator("#cb-hi")).to_contain_text("S")
        assert page.evaluate("() => liveView.edges().coloured") == 32
        # a board restart (new epoch) shows as a resync
        epoch = page.evaluate("() => String(liveView.status().epoch)")
        expect(page.locator("#st-restarts")).to_have_text("0")
        driver.restart_wanted.set()
        expect(page.locator("#st-restarts")).to_have_text("1")
        expect(page.locator("#st-resyncs")).to_have_text("2")
        expect(page.locator("#events li.restart")).to_have_count(1)
        assert page.evaluate("() => String(liveView.status().epoch)") != epoch
        # the stream stalls: the page says so at once, and recovers
        driver.running.clear()
        expect(page.locator("#link")).to_have_class(re.compile("stalled"), timeout=5_000)
        expect(page.locator("#link")).to_contain_text("last frame")
        driver.running.set()
        expect(page.locator("#link")).to_have_text("live")
    finally:
        driver.stop()


def _heap_bytes(cdp: Any) -> int:
    cdp.send("HeapProfiler.collectGarbage")
    return int(cdp.send("Runtime.getHeapUsage")["usedSize"])


def test_memory_stays_bounded_over_a_long_run(served: ViewServer, page: Any) -> None:
    state, window = served.state, served.state.window
    board = start_doc(source="board", kind="shadow", params={})
    twin = start_doc(source="twin", kind="shadow", params={})
    state(board)
    state(twin)
    page.goto(served.url)
    page.wait_for_function("() => liveView.stats().snapshots === 1")
    cdp = page.context.new_cdp_session(page)
    n = 0

    def push(windows: int) -> None:
        nonlocal n
        for _ in range(windows):
            for _ in range(window):
                n += 1
                gates = {f"gate_v_{i}": [0.1 + 1e-4 * (n % 100)] for i in range(32)}
                state(sample_doc(board["uid"], n, float(n), {"error": [1.0], **gates}))
                state(sample_doc(twin["uid"], n, float(n), {"error": [0.9], **gates}))
                if n % 50 == 0:
                    state.event("resync", f"resync {n}", t_s=float(n))
            page.wait_for_function(f"() => liveView.lastT() >= {n}")

    push(5)
    before = _heap_bytes(cdp)
    push(15)  # 20 windows in all: 4000 samples per source
    after = _heap_bytes(cdp)
    sizes = page.evaluate("() => liveView.sizes()")
    assert sizes["board"] == window
    assert sizes["twin"] == window
    assert sizes["events"] <= 40
    server = state.sizes()
    assert server["series_board"] == window
    assert server["series_twin"] == window
    assert server["events"] <= 40
    assert after - before < 1_000_000, f"JS heap grew by {after - before} bytes"


@pytest.fixture
def cli_run(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Run ``twin ARGS --view --port P`` in a thread (in process: no start-up cost); the URL."""
    threads: list[tuple[threading.Thread, dict[str, Any]]] = []

    def start(*args: str) -> tuple[threading.Thread, dict[str, Any], str]:
        port = free_port()
        result: dict[str, Any] = {}

        def run() -> None:
            result["code"], result["out"], result["err"] = run_cli(
                capsys, *args, "--view", "--port", str(port), "--json", "--no-db"
            )

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append((thread, result))
        wait_listening(port)
        return thread, result, f"http://127.0.0.1:{port}/"

    yield start
    for thread, _ in threads:
        thread.join(60)


def test_twin_shadow_view_serves_the_page(cli_run: Any, page: Any) -> None:
    thread, result, url = cli_run("shadow", "--emulate", "--realtime", "--duration", "1.5")
    page.goto(url)
    page.wait_for_function("() => liveView.sizes().board > 3 && liveView.sizes().twin > 3")
    expect(page.locator("#mode")).to_contain_text("shadow")
    assert page.evaluate("() => liveView.edges().drawn") == 32
    assert _number(page, "#st-frames") > 0
    expect(page.locator("#st-run")).to_have_text("complete", timeout=60_000)
    thread.join(60)
    assert result["code"] == 0
    assert f"live view: {url}" in result["err"]


def test_twin_simulate_view_serves_the_page(cli_run: Any, page: Any) -> None:
    thread, result, url = cli_run("simulate", "--realtime", "--duration", "2", "--sample-s", "0.05")
    page.goto(url)
    page.wait_for_function("() => liveView.sizes().twin > 3")
    expect(page.locator("#mode")).to_contain_text("simulation")
    assert page.evaluate("() => liveView.edges()") == {"drawn": 32, "coloured": 32}
    page.select_option("#edge-mode", "k-twin")
    expect(page.locator("#cb-hi")).to_contain_text("S")
    assert page.evaluate("() => liveView.edges().coloured") == 32
    expect(page.locator("#st-run")).to_have_text("complete", timeout=60_000)
    thread.join(60)
    assert result["code"] == 0


def test_page_shows_an_xy_network_training(page: Any) -> None:
    import numpy as np

    from twin.learning.ep_train import XYTrainConfig, train_xy
    from twin.physics.xy.spec import graph_from_spec
    from twin.physics.xy.tasks import xor
    from twin.view import LiveState, XYFeed

    state = LiveState(window=200, mode="xy")
    graph = graph_from_spec("lattice:3x3:skip=2", 2, 1)
    with ViewServer(state, update_hz=20.0) as server:
        feed = XYFeed(state, graph, epochs=60)
        train_xy(graph, xor(), XYTrainConfig(epochs=60, sample_every=5),
                 np.random.default_rng(0), emit=state, watch=feed)  # fmt: skip
        page.goto(server.url)
        page.wait_for_function("() => liveView.sizes().twin === 13")  # epochs 0, 5, ..., 55, 59
        expect(page.locator("#mode")).to_contain_text("equilibrium propagation")
        expect(page.locator("#title-error")).to_contain_text("Loss")
        expect(page.locator("#st-t_s")).to_have_text("59 / 60")
        page.wait_for_function("() => liveView.nodes().coloured === 9")
        assert page.evaluate("() => liveView.edges()") == {"drawn": graph.n_edges,
                                                           "coloured": graph.n_edges}  # fmt: skip
        expect(page.locator("#plot-power")).to_be_hidden()  # an XY network has no watts
        expect(page.locator("#energy")).to_be_hidden()
        expect(page.locator("#cb-hi")).not_to_contain_text("V")  # couplings: model units
