"""``twin train --physics springs``: the same command and JSON, spring units, one-line errors."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli as run


def test_train_springs_json(capsys) -> None:
    code, out, _err = run(
        capsys,
        "train",
        "--physics",
        "springs",
        "--steps",
        "200",
        "--realizations",
        "2",
        "--json",
        "--no-db",
    )
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    for key in (
        "error_initial",
        "error_final",
        "free_energy_final_j",
        "training_energy_j",
        "clamped_energy_j",
        "lam_final",
        "steps",
        "k_min_n_per_m",
        "wall_s",
    ):
        assert key in summary
    assert summary["error_final_mean"] < summary["error_initial_mean"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--physics", "springs", "--task", "regression"], "--task"),
        (["--task", "allostery-strain"], "--physics springs"),
        (["--spring-solver", "nonlinear"], "--spring-solver"),
        (["--physics", "springs", "--prune", "3.0"], "isostatic"),
        (["--physics", "springs", "--network", "lattice:3x3"], "floppy"),
        (["--alpha", "5"], "--alpha"),
    ],
)
def test_spring_options_refuse_bad_values_in_one_line(capsys, args, needle) -> None:
    code, _out, err = run(capsys, "train", "--steps", "5", "--no-db", *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
