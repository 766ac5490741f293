"""Twin sweep cells: metrics physics, the board's noise, clocks on one update-probability axis."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from twin.board.variation import HiddenVariation
from twin.simulation import Twin
from twin.simulation.edge import BOARD_C_GATE_F, BOARD_R_CHARGE_OHM
from twin.sweeps.twin_cells import (
    METRICS,
    TwinCell,
    TwinCellError,
    cell_from_params,
    clock_kind_and_p,
    clock_spec,
    evaluate_twin,
    run_cell,
    time_to_tolerance,
)

#: Board tasks the 4 x 4 board learns (as in tests/simulation).
SEEDS = (2, 3)


def test_metrics_cover_every_name_and_the_energy_components_add_up() -> None:
    (m,) = evaluate_twin({"duration": 0.2, "noise": 1e-3, "lam": 1e-2}, [2])
    assert list(m) == list(METRICS)
    assert all(isinstance(v, float) for v in m.values())
    parts = m["training_energy_j"] + m["clamped_energy_j"] + m["gate_charging_energy_j"]
    assert m["total_energy_j"] == pytest.approx(parts, rel=1e-12)
    assert min(m["training_energy_j"], m["clamped_energy_j"], m["gate_charging_energy_j"]) > 0


def test_free_energy_is_the_integral_of_the_sampled_free_power() -> None:
    """The ledger's free energy against an independent trapezoid of the probe's power samples."""
    metrics, result = run_cell(TwinCell(duration=0.5, lam=1e-2, sample_s=1e-4), 2)
    t, power = result.history["t_s"], result.history["free_power_w"]
    integral = float(np.sum(0.5 * (power[1:] + power[:-1]) * np.diff(t)))
    assert integral == pytest.approx(metrics["training_energy_j"], rel=1e-3)


@pytest.mark.parametrize("model", ["transistor", "linear"])
def test_gate_charging_energy_is_i2r_of_the_capacitor_current(model: str) -> None:
    """Sampled at every tick, ``sum R C^2 (dV_G)^2 / dt`` is the exact ``i^2 R`` integral.

    Valid while no gate sits at a rail (a pinned gate hides the current); checked below.
    """
    metrics, result = run_cell(TwinCell(model=model, duration=0.04, lam=1e-2, sample_s=1e-4), 2)
    gates, t = result.history["gate_v"], result.history["t_s"]
    assert gates.min() > 1.0  # no gate at a rail: the identity holds exactly
    assert gates.max() < 5.5
    rate = np.diff(gates, axis=0) ** 2 / np.diff(t)[:, None]
    estimate = BOARD_R_CHARGE_OHM * BOARD_C_GATE_F**2 * float(np.sum(rate))
    assert estimate == pytest.approx(metrics["gate_charging_energy_j"], rel=1e-9)


def test_error_falls_on_the_board_task_and_reaches_tolerance() -> None:
    for m in evaluate_twin({"duration": 1.0, "tol": 1e-5}, SEEDS):
        assert m["error_final"] < 1e-3 * m["error_initial"]
        assert 0 < m["time_to_tol_s"] < 1.0
        assert 0 < m["energy_to_tol_j"] < m["training_energy_j"]


def test_noise_floor_rises_with_delta() -> None:
    """White noise on the rule holds the error at a floor ~ delta^2 (an Ornstein-Uhlenbeck
    spread of the conductances around the solution); without noise the error keeps falling."""

    def floor(delta: float) -> float:
        rows = evaluate_twin({"duration": 2.0, "noise": delta}, SEEDS)
        return float(np.median([m["error_tail"] for m in rows]))

    quiet, seed_fig3, loud = floor(0.0), floor(1e-3), floor(1e-2)
    assert quiet < seed_fig3 / 100
    assert 20 < loud / seed_fig3 < 500


def test_power_minimisation_trades_error_for_free_power() -> None:
    base = evaluate_twin({"duration": 1.0, "noise": 1e-3}, SEEDS)
    lam = evaluate_twin({"duration": 1.0, "noise": 1e-3, "lam": 3e-2}, SEEDS)
    for b, m in zip(base, lam, strict=True):
        assert m["free_power_tail_w"] < 0.7 * b["free_power_tail_w"]
        assert m["error_tail"] > 10 * b["error_tail"]


def test_adc_readout_quantises_the_measured_error() -> None:
    """Once learned (true error ~0), an 8-bit ADC reads each target at its nearest code."""
    lsb = 0.4532 / 255
    desired = np.array([0.09, 0.36])  # the board task's 20 % / 80 % targets
    expected = float(np.sum((np.round(desired / lsb) * lsb - desired) ** 2))
    for m in evaluate_twin({"duration": 2.0, "adc_bits": 8}, SEEDS):
        assert m["error_final"] < 1e-9
        assert m["error_measured"] == pytest.approx(expected, rel=1e-3)
    lone = evaluate_twin({"duration": 0.1}, [2])[0]
    assert math.isnan(lone["error_measured"])


def test_board_variation_is_drawn_per_realization_and_changes_the_run() -> None:
    nominal, varied = (
        evaluate_twin({"duration": 0.2, "variation": v}, [2])[0] for v in ("none", "typical")
    )
    assert varied["error_final"] != nominal["error_final"]
    again = evaluate_twin({"duration": 0.2, "variation": "typical"}, [2])[0]
    assert again["error_final"] == varied["error_final"]


def test_lab_variation_carries_the_lab_boards_learning_bias() -> None:
    """``variation = "lab"``: :meth:`HiddenVariation.lab` drawn per realization (a learning bias
    of 1.5 +- 1.5 V/s per edge that the twin applies while learning); ``typical`` has none."""
    lab, other, typical = (TwinCell(duration=0.2, variation=v).edges(32, s)
                           for v, s in (("lab", 2), ("lab", 3), ("typical", 2)))  # fmt: skip
    bias = lab.columns(32)["bias_v_per_s"]
    assert not typical.columns(32)["bias_v_per_s"].any()
    preset = HiddenVariation.lab()
    mean, sigma = preset.bias_mean_v_per_s, preset.bias_sigma_v_per_s
    assert abs(float(np.mean(bias)) - mean) < 4 * sigma / np.sqrt(32)
    assert 0.5 * sigma < float(np.std(bias)) < 1.5 * sigma
    assert not np.array_equal(bias, other.columns(32)["bias_v_per_s"])
    runs = [evaluate_twin({"duration": 0.2, "variation": v}, [2])[0] for v in ("typical", "lab")]
    assert runs[1]["error_final"] != runs[0]["error_final"]
    again = evaluate_twin({"duration": 0.2, "variation": "lab"}, [2])[0]
    assert again["error_final"] == runs[1]["error_final"]


def _edge_counts(spec: str, duration_s: float, seed: int = 0) -> np.ndarray:
    cell = TwinCell(clock=spec, duration=duration_s)
    task = cell.make_task(2)
    twin = Twin(simpy.Environment(), task, cell.twin_config(task.network.n_edges, 2),
                np.random.default_rng(seed))  # fmt: skip
    twin.run(duration_s)
    return np.asarray(twin.state.edges.events, dtype=float)


@pytest.mark.parametrize("p", [0.5, 0.1])
def test_bernoulli_updates_per_edge_are_binomial(p: float) -> None:
    ticks = 5000  # 0.5 s at 10 kHz
    counts = _edge_counts(clock_spec("bernoulli", p), ticks / 1e4)
    mean, sd = ticks * p, math.sqrt(ticks * p * (1 - p))
    assert np.all(np.abs(counts - mean) < 4.5 * sd)  # 32 edges: P(fail) ~ 2e-4
    assert abs(counts.mean() - mean) < 4 * sd / math.sqrt(counts.size)
    assert counts.std(ddof=1) == pytest.approx(sd, rel=0.5)


def test_poisson_and_periodic_run_at_rate_times_p() -> None:
    p, duration = 0.2, 0.5
    n = 1e4 * p * duration  # 1000 expected updates per edge
    poisson = _edge_counts(clock_spec("poisson", p), duration)
    assert np.all(np.abs(poisson - n) < 4.5 * math.sqrt(n))
    assert poisson.std(ddof=1) == pytest.approx(math.sqrt(n), rel=0.5)
    periodic = _edge_counts(clock_spec("periodic", p, jitter=0.05), duration)
    # own periods (1 + 0.05 z) / rate: counts spread ~5 % of n, never Poisson-wide at the tails
    assert abs(periodic.mean() - n) < 0.05 * n
    assert np.all(np.abs(periodic - n) < 0.3 * n)


def test_updates_per_edge_sets_the_board_time() -> None:
    rows = {
        kind: evaluate_twin({"clock": clock_spec(kind, p), "updates_per_edge": 500}, [2])[0]
        for kind, p in (("sync", 1.0), ("bernoulli", 0.25))
    }
    assert rows["sync"]["sim_time_s"] == pytest.approx(0.05)
    assert rows["bernoulli"]["sim_time_s"] == pytest.approx(0.2)
    assert rows["bernoulli"]["mean_updates_per_edge"] == pytest.approx(500, rel=0.1)


def test_clock_spec_round_trip() -> None:
    for kind in ("bernoulli", "poisson", "periodic"):
        assert clock_kind_and_p(clock_spec(kind, 0.05)) == (kind, pytest.approx(0.05))
    assert clock_kind_and_p(clock_spec("sync")) == ("sync", 1.0)
    with pytest.raises(TwinCellError, match="p: a sync clock"):
        clock_spec("sync", 0.5)


def test_time_to_tolerance_interpolates_in_log_error() -> None:
    t = np.array([0.0, 1.0, 2.0])
    err = np.array([1e-2, 1e-4, 1e-6])
    energy = np.array([0.0, 1.0, 2.0])
    assert time_to_tolerance(t, err, energy, 1e-3) == pytest.approx((0.5, 0.5))
    assert time_to_tolerance(t, err, energy, 1e-5) == pytest.approx((1.5, 1.5))
    assert all(math.isnan(x) for x in time_to_tolerance(t, err, energy, 1e-9))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"duration": 1, "bogus": 1}, "bogus"),
        ({"duration": 1, "variation": "typical", "model": "linear"}, "variation"),
        ({"duration": 1, "variation": "lab", "model": "linear"}, "variation"),
        ({"duration": 1, "variation": "LAB"}, "variation"),
        ({"duration": 1, "adc_bits": 9}, "adc_bits"),
        ({"clock": "continuous:0.01", "updates_per_edge": 10}, "updates_per_edge"),
        ({"duration": 1, "clock": "sync:fast"}, "clock"),
    ],
)
def test_bad_cells_name_the_field(params: dict, field: str) -> None:
    with pytest.raises(TwinCellError, match=field) as info:
        cell_from_params(params)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_cell_fields_and_defaults_are_the_sweep_schemas() -> None:
    """The sweep schema is the vocabulary: same names, same defaults (drift test)."""
    import attrs

    from twin.sweeps.params import defaults

    schema = defaults("twin")
    fields = {f.name: f.default for f in attrs.fields(TwinCell)}
    assert set(fields) == set(schema)
    for name, default in schema.items():
        assert fields[name] == default, name


def test_sweep_cells_evaluate_through_the_twin_kind() -> None:
    from twin.sweeps import KINDS, spec_from_dict
    from twin.sweeps.cells import expand

    spec = spec_from_dict({
        "name": "t", "kind": "twin", "realizations": 2, "seed": 0,
        "base": {"duration": 0.1, "noise": 1e-3}, "axes": {"lam": [0.0, 1e-2]},
    })  # fmt: skip
    cell = expand(spec)[1]
    rows = KINDS["twin"](cell.params, cell.seeds)
    assert len(rows) == 2
    assert set(METRICS) <= set(rows[0])


@pytest.mark.parametrize("kind", ["trainer", "twin"])
def test_no_metric_is_named_like_a_parameter(kind: str) -> None:
    """A results frame has one column per parameter and per metric: the names must differ."""
    from twin.sweeps.metrics import METRICS as BY_KIND
    from twin.sweeps.params import parameters

    assert not set(BY_KIND[kind]) & set(parameters(kind))
