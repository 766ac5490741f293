"""``twin train`` options of issue 9: label noise, lambda control, ref: networks, bounds."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli as run


def _summary(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--label-noise", "-1e-3"], "--label-noise"),
        (["--label-noise", "2"], "--label-noise"),
        (["--label-noise", "nan"], "--label-noise"),
        (["--task", "allostery", "--label-noise", "1e-3"], "--label-noise"),
        (["--rho", "1"], "--control-tol"),
        (["--p", "0.1"], "--control-tol"),
        (["--lam0", "1e-6"], "--control-tol"),
        (["--control-tol", "1e-3", "--rho", "0"], "--rho"),
        (["--control-tol", "1e-3", "--rho", "1e4"], "--rho"),
        (["--control-tol", "1e-3", "--p", "11"], "--p"),
        (["--control-tol", "1e-3", "--lam0", "2"], "--lam0"),
        (["--control-tol", "1e-3", "--lam0", "inf"], "--lam0"),
        (["--task", "regression", "--network", "ref:65"], "no reference network of N=65"),
        (["--task", "regression", "--network", "ref:64:i=50"], "out of range"),
        (["--task", "regression", "--network", "ref:x"], "unknown spec"),
    ],
)
def test_new_options_refuse_bad_values_in_one_line(capsys, args, needle, reference_dir) -> None:
    code, _out, err = run(capsys, "train", "--steps", "5", *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_help_states_ranges_and_the_bound_defaults(capsys) -> None:
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0
    flat = " ".join(out.split())
    for text in ("--label-noise", "0<=x<=1", "--rho", "0<x<=1000", "--p", "0<x<=10",
                 "--lam0", "0<x<=1", "ref:N[:i=K]", "1e-4", "1e6", "k_min_siemens"):  # fmt: skip
        assert text in flat, text


def test_summary_carries_the_bounds_used(capsys) -> None:
    code, out, _ = run(capsys, "train", "--steps", "5", "--json")
    assert code == 0
    s = _summary(out)
    assert (s["k_min_siemens"], s["k_max_siemens"]) == (1e-3, 10.0)
    code, out, _ = run(capsys, "train", "--steps", "5", "--kmin", "1e-4", "--kmax", "1e6", "--json")
    s = _summary(out)
    assert (s["k_min_siemens"], s["k_max_siemens"]) == (1e-4, 1e6)


def test_control_settings_reach_the_trainer(capsys) -> None:
    """ln(lam/lam0) = sum over steps of rho * alpha * ((tol/L)^p - 1): linear in rho, ~ in p."""
    import math

    def grown(*extra: str) -> float:
        code, out, err = run(capsys, "train", "--steps", "50", "--control-tol", "10",
                             "--lam0", "1e-6", "--json", *extra)  # fmt: skip
        assert code == 0, err
        return math.log(_summary(out)["lam_final"] / 1e-6)

    # the error (~0.1 V^2) is far below the tolerance 10 V^2: lambda grows from lam0
    slow, fast = grown("--rho", "0.01"), grown("--rho", "0.1")
    assert slow > 0
    assert fast / slow == pytest.approx(10.0, rel=1e-3)  # lambda ~1e-6 barely changes L
    half = grown("--rho", "0.1", "--p", "0.01")
    assert 1.8 < fast / half < 2.3  # (100^0.02 - 1) / (100^0.01 - 1) = 2.05 at L = 0.1


def test_ref_networks_differ_per_realization(capsys, reference_dir) -> None:
    from twin.physics.task_spec import build_tasks

    tasks = build_tasks("regression", "ref:64", seed=0, realizations=3)
    names = [t.network.name for t in tasks]
    assert names == ["ref:64:i=0", "ref:64:i=1", "ref:64:i=2"]
    assert len({t.network.n_edges for t in tasks} | {0}) > 1
    again = build_tasks("regression", "ref:64:i=1", seed=0, realizations=2)
    assert [t.network.name for t in again] == ["ref:64:i=1", "ref:64:i=1"]
    np_edges = tasks[1].network.edges
    assert (np_edges == again[0].network.edges).all()
    code, out, err = run(capsys, "train", "--task", "regression", "--network", "ref:64",
                         "--realizations", "2", "--steps", "5", "--label-noise", "1e-3",
                         "--json")  # fmt: skip
    assert code == 0, err
    assert len(_summary(out)["error_final"]) == 2
