"""``twin simulate --physics springs``: spring agents, the same documents and ledger, joules;
resistor-only options and bad clocks are one-line errors (exit 2)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import one_line_error, undocumented_keys
from tests.helpers import run_cli as run
from twin.documents import read_jsonl, validate_document
from twin.ledger import open_ledger, show_run


def test_springs_json_documents_plot_and_ledger(capsys, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    code, out, err = run(
        capsys, "simulate", "--physics", "springs", "--seed", "1", "--clock", "bernoulli:10000:0.5",
        "--duration", "0.02", "--json", "--out", str(tmp_path / "run.jsonl"),
        "--plot", str(tmp_path / "run.png"), "--db", url,
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    keys = ("error_initial", "error_final", "free_energy_initial_j", "free_energy_final_j",
            "training_energy_j", "clamped_energy_j", "events", "event_groups", "wall_s",
            "realtime_factor", "k_min_n_per_m", "physics", "alpha", "spring_solver")  # fmt: skip
    for key in keys:
        assert key in summary
    assert summary["physics"] == "springs"
    assert summary["eta"] == 1e-3  # the spring trainer's default nudge
    assert summary["error_final"] < summary["error_initial"]
    assert not undocumented_keys(summary)
    docs = list(read_jsonl(tmp_path / "run.jsonl"))
    for doc in docs:
        validate_document(doc)
    assert "stiffness_n_per_m_0" in docs[1]["data"]
    assert (tmp_path / "run.png").stat().st_size > 0
    with open_ledger(url) as ledger:
        shown = show_run(ledger, summary["run"])
    assert shown["run"]["params"]["physics"] == "springs"
    by_component = {e["component"]: e["energy_j"] for e in shown["energy"]}
    assert set(by_component) == {"free_network", "clamped_network"}
    assert by_component["free_network"] == pytest.approx(summary["training_energy_j"], rel=1e-9)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--model", "linear"], ["--model", "--physics springs"]),
        (["--tau-feedback", "0.1"], ["--tau-feedback"]),
        (["--meas-noise", "0.01"], ["--meas-noise"]),
        (["--leak", "1"], ["--leak"]),
        (["--bias-v-per-s", "2"], ["--bias-v-per-s"]),
        (["--window-s", "0.001"], ["--window-s"]),
        (["--view"], ["--view"]),
        (["--save", "x.json"], ["--save"]),
        (["--schedule", "s.json"], ["--schedule"]),
        (["--engine", "agents"], ["--engine", "batched"]),
        (["--clock", "continuous:0.01"], ["clock", "resistor twin only"]),
        (["--task", "allostery"], ["--task", "allostery-strain"]),
        (["--network", "lattice:3x3"], ["floppy"]),
    ],
)
def test_resistor_options_with_springs_are_refused(capsys, tmp_path, args, needles) -> None:
    code, _out, err = run(capsys, "simulate", "--physics", "springs", "--duration", "0.001",
                          "--no-db", *args)  # fmt: skip
    one_line_error(code, err, *needles)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--alpha", "5"], ["--alpha", "--physics springs"]),
        (["--kappa", "0.5"], ["--kappa"]),
        (["--spring-solver", "nonlinear"], ["--spring-solver"]),
        (["--task", "allostery-strain"], ["--task", "--physics springs"]),
    ],
)
def test_spring_options_without_springs_are_refused(capsys, args, needles) -> None:
    code, _out, err = run(capsys, "simulate", "--duration", "0.001", "--no-db", *args)
    one_line_error(code, err, *needles)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_nonlinear_reference_runs_the_default_task(capsys, seed: int) -> None:
    """``--spring-solver nonlinear`` stopped on seeds 0-2 within a dozen updates (100 Newton
    iterations at forces of 1e-8..3e-7 N, below the energy's resolution); 20 updates now run."""
    code, out, err = run(capsys, "simulate", "--physics", "springs", "--spring-solver",
                         "nonlinear", "--seed", str(seed), "--duration", "0.002", "--json",
                         "--no-db")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["spring_solver"] == "nonlinear"
    assert summary["event_groups"] == 20
    assert summary["error_final"] < summary["error_initial"]
