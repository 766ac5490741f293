"""Every key of the ``--json`` objects is named in README.md (record, replay and sweep have theirs
checked in their own tests)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli, undocumented_keys


@pytest.mark.parametrize(
    "args",
    [
        ("train", "--steps", "2"),
        ("simulate", "--duration", "0.01"),
        ("simulate", "--duration", "0.01", "--clock", "poisson:10000", "--window-s", "1e-4"),
    ],
)
def test_json_keys_are_documented(capsys, args: tuple[str, ...]) -> None:
    code, out, err = run_cli(capsys, *args, "--json", "--no-db")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert undocumented_keys(summary) == []
