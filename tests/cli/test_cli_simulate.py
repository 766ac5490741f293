"""``twin simulate``: JSON summary, documents, saved network; one-line errors with exit 2."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli as run
from twin.documents import read_jsonl, validate_document
from twin.physics.network_io import load_network


def test_simulate_json_summary_documents_and_saved_network(capsys, tmp_path) -> None:
    code, out, _ = run(
        capsys,
        "simulate",
        "--seed", "2",
        "--clock", "poisson:10000",
        "--duration", "0.5",
        "--json",
        "--out", str(tmp_path / "run.jsonl"),
        "--save", str(tmp_path / "trained.json"),
        "--plot", str(tmp_path / "run.png"),
    )  # fmt: skip
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    for key in (
        "error_initial",
        "error_final",
        "free_power_final_w",
        "training_energy_j",
        "sim_time_s",
        "events",
        "wall_s",
        "realtime_factor",
    ):
        assert key in summary
    assert summary["realtime_factor"] == pytest.approx(summary["sim_time_s"] / summary["wall_s"])
    assert summary["error_final"] < summary["error_initial"] / 100
    docs = list(read_jsonl(tmp_path / "run.jsonl"))
    for doc in docs:
        validate_document(doc)
    assert [docs[0]["doc"], docs[-1]["doc"]] == ["start", "stop"]
    assert docs[0]["kind"] == "simulate"
    energy = [d for d in docs if d["doc"] == "energy" and d["component"] == "free_network"]
    assert sum(d["energy_j"] for d in energy) == pytest.approx(summary["training_energy_j"])
    assert {d["component"] for d in docs if d["doc"] == "energy"} == {
        "free_network",
        "clamped_network",
        "gate_charging",
    }
    samples = [d for d in docs if d["doc"] == "sample"]
    assert "gate_v_31" in samples[-1]["data"]
    assert "lam" in samples[-1]["data"]
    net = load_network(tmp_path / "trained.json")
    assert net.conductance is not None
    assert net.conductance.shape == (32,)
    assert (tmp_path / "run.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--clock", "poisson"], "clock"),
        (["--clock", "bernoulli:1000:7"], "clock"),
        (["--clock", "warp:9"], "clock"),
        (["--duration", "-1"], "--duration"),
        (["--duration", "nan"], "--duration"),
        (["--model", "bjt"], "--model"),
        (["--eta", "0"], "--eta"),
        (["--task", "nonsense"], "--task"),
        (["--window-s", "1e-4"], "window_s"),  # the default clock is sync
        (["--clock", "poisson:10000", "--window-s", "-1"], "--window-s"),
    ],
)
def test_bad_arguments_are_one_line_errors_with_exit_2(capsys, args, needle) -> None:
    code, _, err = run(capsys, "simulate", "--duration", "0.01", *args)
    assert code == 2
    assert err.count("\n") == 1
    assert needle in err


def test_simulate_with_a_commit_window(capsys) -> None:
    """``--window-s`` commits Poisson clock events in windows (fewer groups, same events)."""
    args = ("simulate", "--no-db", "--seed", "2", "--clock", "poisson:10000", "--duration", "0.05",
            "--json")  # fmt: skip
    code, out, _ = run(capsys, *args)
    assert code == 0
    exact = json.loads(out.strip().splitlines()[-1])
    code, out, _ = run(capsys, *args, "--window-s", "1e-4")
    assert code == 0
    windowed = json.loads(out.strip().splitlines()[-1])
    assert windowed["events"] == exact["events"] == exact["event_groups"]
    assert windowed["event_groups"] < exact["events"] / 10
    assert (exact["window_s"], windowed["window_s"]) == (0.0, 1e-4)
    assert windowed["error_final"] == pytest.approx(exact["error_final"], rel=1e-2)
