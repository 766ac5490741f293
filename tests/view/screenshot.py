"""Screenshot of the live page and its update rate (run by hand; the README's picture).

Shadows an emulated board paced by the wall clock, with a fault on edge 7 (so an alarm and a
residual show) and a board restart, watches it in headless Chromium, saves a PNG and prints the
page's measured update rate and traffic::

    PYTHONPATH=. .venv/bin/python -m tests.view.screenshot docs/live-view.png
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tests.view.conftest import CHROMIUM
from tests.view.driver import ShadowDriver
from twin.board.inprocess import parse_fault
from twin.view import LiveState, ViewServer


def main(out: Path, run_s: float = 9.0) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    state = LiveState(window=600)
    faults = [parse_fault("7:free_gain=3@4")]
    with ViewServer(state, update_hz=10.0) as server, sync_playwright() as pw:
        driver = ShadowDriver(state, faults=faults).start()
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url)
        t0 = time.monotonic()
        page.wait_for_function("() => window.liveView.stats().messages > 2")
        first = page.evaluate("() => window.liveView.stats()")
        page.wait_for_function("() => (window.liveView.lastT() || 0) > 2.0", timeout=30_000)
        driver.restart_wanted.set()
        page.wait_for_function(f"() => (window.liveView.lastT() || 0) > {run_s}", timeout=60_000)
        last = page.evaluate("() => window.liveView.stats()")
        wall_s = time.monotonic() - t0
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
        driver.stop()
    span_s = (last["lastMs"] - first["lastMs"]) / 1000
    return {
        "updates_per_s": (last["messages"] - first["messages"]) / span_s,
        "renders_per_s": (last["renders"] - first["renders"]) / span_s,
        "bytes_per_s": (last["bytes"] - first["bytes"]) / span_s,
        "wall_s": wall_s,
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/live-view.png"))))  # noqa: T201
