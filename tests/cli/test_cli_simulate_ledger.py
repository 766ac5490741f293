"""`twin simulate --db` records the event-driven run in the energy ledger."""

from __future__ import annotations

import json

import pytest

from twin.cli import main
from twin.ledger import open_ledger, show_run


def test_simulate_records_its_energy_in_the_ledger(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    main(["simulate", "--seed", "2", "--duration", "0.5", "--db", url, "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    with open_ledger(url) as ledger:
        shown = show_run(ledger, summary["run"])
    assert shown["run"]["status"] == "complete"
    assert shown["run"]["kind"] == "simulate"
    assert shown["run"]["params"]["clock"] == "sync:10000"
    by_component = {e["component"]: e["energy_j"] for e in shown["energy"]}
    for component, key in (
        ("free_network", "training_energy_j"),
        ("clamped_network", "clamped_energy_j"),
        ("gate_charging", "gate_charging_energy_j"),
    ):
        assert by_component[component] == pytest.approx(summary[key], rel=1e-9)
