"""The default suite is reproducible: property tests run under the derandomized ``ci`` profile."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

from tests.hypothesis_profiles import FUZZ_FACTOR, PROFILE_ENV, scaled

ROOT = Path(__file__).resolve().parents[1]


def test_the_default_profile_is_derandomized() -> None:
    if os.environ.get(PROFILE_ENV, "ci") not in ("", "ci"):
        assert settings.get_current_profile_name() == os.environ[PROFILE_ENV]
        return
    assert settings.get_current_profile_name() == "ci"
    assert settings.default.derandomize
    assert settings.default.deadline is None  # wall time on a shared machine is no property
    assert scaled(30) == 30


def test_no_test_module_switches_the_profile_for_the_others() -> None:
    # a module-level load_profile changes the settings of every module collected after it
    pattern = re.compile(r"settings\.(load_profile|register_profile)\(")
    offenders = [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "tests").rglob("*.py")
        if p.name != "hypothesis_profiles.py" and pattern.search(p.read_text())
    ]
    assert not offenders


def test_the_fuzz_profile_draws_more_examples_and_keeps_the_database() -> None:
    code = (
        "from tests.hypothesis_profiles import load_profile, scaled;"
        "from hypothesis import settings;"
        "print(load_profile(), scaled(30), settings.default.derandomize,"
        " settings.default.database is not None)"
    )
    env = {**os.environ, PROFILE_ENV: "fuzz", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert out == ["fuzz", str(30 * FUZZ_FACTOR), "False", "True"]
