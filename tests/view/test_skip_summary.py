"""Browser tests never skip silently: the run says in one line how many were skipped and why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_without_chromium_says_how_many_browser_tests_it_skipped(tmp_path: Path) -> None:
    env = {**os.environ, "TWIN_CHROMIUM": str(tmp_path / "no-chromium"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/view/test_page.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("browser tests:")]
    assert len(lines) == 1, done.stdout
    assert lines[0].startswith("browser tests: 5 skipped: no Chromium at ")
    assert "apt-get" in lines[0]


def test_the_installer_does_nothing_when_chromium_is_there() -> None:
    env = {**os.environ, "TWIN_CHROMIUM": "/bin/sh"}
    done = subprocess.run(
        [str(ROOT / ".ci" / "chromium")], env=env, capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
