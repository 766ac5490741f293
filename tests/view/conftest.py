"""Fixtures of the live-view tests: a served state, and headless Chromium (Debian's) via Playwright.

The browser tests are skipped, with the reason, only when Chromium or Playwright is absent;
``make test`` installs Chromium when ``/usr/bin/chromium`` is missing and it can (``.ci/chromium``:
root and apt-get), and the run ends with one line saying how many browser tests were skipped and
why (``tests/conftest.py``, from the :data:`BROWSER_SKIP` prefix of the reasons).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BROWSER_SKIP
from twin.view import LiveState, ViewServer

CHROMIUM = os.environ.get("TWIN_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def served() -> Iterator[ViewServer]:
    """A view server (port 0) of a fresh state, 20 updates per second."""
    with ViewServer(LiveState(window=200), update_hz=20.0) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module (skipped when Chromium or Playwright is absent).

    Module scope, not session: Playwright's sync API holds an event loop in the main thread
    while it runs, and ``asyncio.run`` in later tests must not find it there.
    """
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"{BROWSER_SKIP}no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason=f"{BROWSER_SKIP}playwright is not installed"
    )
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--enable-precise-memory-info", "--js-flags=--expose-gc"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page, 1280 x 900 (closed after the test)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
