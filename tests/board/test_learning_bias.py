"""The per-edge learning bias (arXiv 2505.22887) in the emulator's hidden variation and the twin."""

from __future__ import annotations

import platform

import attrs
import numpy as np
import pytest
import simpy

from twin.board.contract import Command
from twin.board.emulator import BoardEmulator, EmulatorConfig, default_board_task
from twin.board.variation import HiddenVariation, draw_hidden_edges
from twin.physics.task import Examples, Task
from twin.simulation.clocks import SyncClock
from twin.simulation.edge import board_edge_params
from twin.simulation.errors import ModelError
from twin.simulation.noise import NoiseConfig
from twin.simulation.twin import Twin, TwinConfig

#: numpy computes float64 exp, log and powers in its own AVX-512F loops where the CPU has them and
#: with the C library elsewhere; the two differ in the last bit, which the board's comparators turn
#: into other trajectories. So the values of before are recorded once per kind of CPU, each by
#: main at 41bc0fd (before the bias existed): (emulator frame, emulator track, twin) gates.
BEFORE = {
    True: (  # AVX-512F (the machine of the session that added the bias)
        [1.758119658119658, 3.1616605616605615, 3.212698412698413, 2.695604395604396],
        [1.7594227668019837, 3.16373708568505, 3.212948690971327, 2.6966636005742872],
        [2.601753619535749, 2.9437715154872985, 3.0862054852948893, 2.8635667647500798],
    ),
    False: (  # no AVX-512F (recorded 2026-12-06 on an AMD EPYC by running 41bc0fd)
        [3.3832722832722832, 3.1307692307692307, 2.1717948717948716, 3.1133089133089134],
        [3.3849995051734716, 3.1334419451141247, 2.172152839489571, 3.1144580949826377],
        [3.183638238230806, 2.947525538534424, 2.7005814123484733, 3.0492081669330315],
    ),
}


def _avx512() -> bool:
    """Whether this run computes as the AVX-512F machine did: never where the suite pins the
    kernels (``tests/conftest.py``: OpenBLAS's Haswell kernels, numpy without its AVX-512 loops,
    the values of the AMD EPYC). Generic OpenBLAS kernels give the AVX-512F machine's values too
    (checked on the EPYC with ``OPENBLAS_CORETYPE=Prescott``)."""
    from numpy._core._multiarray_umath import __cpu_features__

    from tests.conftest import PINNED

    return not PINNED and bool(__cpu_features__.get("AVX512F", False))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="values of x86-64 only")
def test_zero_bias_is_the_board_of_before_bit_for_bit() -> None:
    """Values recorded on main (41bc0fd, before the bias existed), same seeds and settings."""
    frame, track, twin_gates = BEFORE[_avx512()]
    emu = BoardEmulator(
        EmulatorConfig(variation=HiddenVariation.typical(), noise_delta_v2=1e-3),
        rng=np.random.default_rng(11),
    )
    frames = emu.advance(0.05)
    assert frames[-1].gate_v[:4].tolist() == frame
    assert emu.track.gates()[:4].tolist() == track
    assert not emu.hidden["bias_v_per_s"].any()
    twin = Twin(
        simpy.Environment(),
        default_board_task(),
        TwinConfig(noise=NoiseConfig(delta_v2=1e-3, offset_sigma_v2=1e-4)),
        np.random.default_rng(4),
    )
    assert twin.run(0.02).gate_v[:4].tolist() == twin_gates


def test_bias_draw_leaves_every_other_hidden_value_unchanged() -> None:
    lab = HiddenVariation.lab()
    unbiased = attrs.evolve(lab, bias_mean_v_per_s=0.0, bias_sigma_v_per_s=0.0)
    plain, hidden = draw_hidden_edges(32, np.random.default_rng(3), unbiased)
    _, biased = draw_hidden_edges(32, np.random.default_rng(3), lab)
    for name, value in hidden.items():
        if name != "bias_v_per_s":
            np.testing.assert_array_equal(biased[name], value)
    b = biased["bias_v_per_s"]
    mean, sigma = lab.bias_mean_v_per_s, lab.bias_sigma_v_per_s
    assert abs(float(np.mean(b)) - mean) < 4 * sigma / np.sqrt(b.size)
    assert 0.5 * sigma < float(np.std(b)) < 1.5 * sigma
    assert not np.any(plain.bias_v_per_s)


def _task_solved_at(task: Task, gates_v: float, edges: object) -> Task:
    """The same task with desired outputs equal to the free outputs at uniform gates: solved."""
    twin = Twin(
        simpy.Environment(),
        task,
        TwinConfig(edges=edges.evolve(v_gate0_v=gates_v)),  # type: ignore[attr-defined]
        np.random.default_rng(0),
    )
    free, _ = twin.node_voltages(0)
    outputs = free[task.targets][None, :]
    return task.evolve(train=Examples(inputs=task.train.inputs[:1], outputs=outputs))


def test_a_biased_edge_drifts_at_b_at_the_solution() -> None:
    edges = board_edge_params("transistor")
    task = _task_solved_at(default_board_task(), 3.0, edges)
    bias = np.zeros(32)
    bias[5], bias[17] = 3.0, -1.5
    config = TwinConfig(
        clock=SyncClock(rate_hz=1e4), edges=edges.evolve(v_gate0_v=3.0, bias_v_per_s=bias)
    )
    twin = Twin(simpy.Environment(), task, config, np.random.default_rng(1))
    t = 1e-3
    moved = twin.run(t).gate_v - 3.0
    # at the solution the drive is the bias alone: dG = B t, to first order in M t (~0.05 here)
    np.testing.assert_allclose(moved[[5, 17]], bias[[5, 17]] * t, rtol=0.05)
    others = np.delete(np.abs(moved), [5, 17])
    assert others.max() < 0.05 * 3.0 * t  # the rest only respond to the biased edges' drift
    # without the bias nothing moves at the solution
    still = Twin(
        simpy.Environment(),
        task,
        attrs.evolve(config, edges=edges.evolve(v_gate0_v=3.0)),
        np.random.default_rng(1),
    )
    assert np.max(np.abs(still.run(t).gate_v - 3.0)) < 1e-12


def test_emulator_applies_its_hidden_bias_only_while_training() -> None:
    variation = HiddenVariation(bias_mean_v_per_s=2.0, bias_sigma_v_per_s=2.0)
    probe = BoardEmulator(EmulatorConfig(variation=variation), rng=np.random.default_rng(8))
    task = _task_solved_at(default_board_task(), 3.0, probe.edges)
    config = EmulatorConfig(variation=variation)
    emu = BoardEmulator(config, rng=np.random.default_rng(8), task=task)
    bias = emu.hidden["bias_v_per_s"]
    assert np.std(bias) > 0.5
    t = 1e-3
    emu.advance(t)
    moved = emu.track.gates() - 3.0
    np.testing.assert_allclose(moved, bias * t, rtol=0.1, atol=0.02 * t)
    emu.command(Command(name="stop_training", key="stop", args={}))
    held = emu.track.gates()
    emu.advance(0.05)
    np.testing.assert_array_equal(emu.track.gates(), held)  # idle: the gates hold


def test_emulator_and_twin_agree_on_a_biased_board() -> None:
    emu = BoardEmulator(
        EmulatorConfig(variation=HiddenVariation.lab()), rng=np.random.default_rng(21)
    )
    emu.advance(0.02)
    config = TwinConfig(
        clock=SyncClock(rate_hz=1e4), edges=emu.edges.evolve(v_gate0_v=3.0), eta=0.22
    )
    twin = Twin(simpy.Environment(), emu.task, config, np.random.default_rng(0))
    np.testing.assert_array_equal(twin.run(0.02).gate_v, emu.track.gates())


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_bias_must_be_finite(bad: float) -> None:
    with pytest.raises(ModelError, match="bias_v_per_s"):
        board_edge_params("transistor").evolve(bias_v_per_s=bad)


def test_small_network_board_follows_the_model_and_loses_its_cycle_without_bias() -> None:
    """The emulator as the lab's two-transistor network: span rate near the model's 6.3 V/s at
    a short period; with B = 0 the tasks share a solution and cycle and floor vanish."""
    from twin.board.clln import emulated_cycle, small_network_board
    from twin.learning.clln_small import small_network_model
    from twin.learning.limit_cycle import span_rate

    model = small_network_model("exp1")
    rate = span_rate(model.alpha, model.beta, model.bias_v_per_s)
    biased = emulated_cycle(
        small_network_board("exp1"), 0.01, rng=np.random.default_rng(0), settle_s=0.3
    )
    assert np.sqrt(biased.d2_v2) / 0.01 == pytest.approx(rate, rel=0.15)
    clean = emulated_cycle(
        small_network_board("exp1", bias=False), 0.01, rng=np.random.default_rng(0), settle_s=0.3
    )
    assert clean.d2_v2 < 1e-4 * biased.d2_v2
    assert clean.mse_v2 < 1e-3 * biased.mse_v2


def test_twin_options_carry_a_uniform_bias() -> None:
    from twin.simulation.options import twin_config_from_options

    def config(bias: float) -> TwinConfig:
        return twin_config_from_options(
            model="transistor", clock="sync:10000", lam=0.0, eta=0.22, tau_feedback=0.0,
            noise=0.0, meas_noise=0.0, offsets=0.0, leak=None, sample_s=0.01, batch_s=0.01,
            engine="batched", bias_v_per_s=bias,
        )  # fmt: skip

    plain, biased = config(0.0), config(3.0)
    assert not np.any(plain.edges.bias_v_per_s)
    np.testing.assert_allclose(biased.edges.bias_offsets_v2(32), 3.0 * 2.2e-3 / 10.0)


def test_settle_cycle_reports_every_measured_cycle() -> None:
    """``settle_cycle(on_cycle=...)`` sees each cycle it measures, in order, the last one being
    the cycle it returns (the span on the way to the steady cycle)."""
    from twin.board.clln import settle_cycle
    from twin.board.variation import Adc
    from twin.simulation.schedule import EtaRamp, Schedule

    tau = 0.02
    a, b = default_board_task(seed=2), default_board_task(seed=5)
    config = EmulatorConfig(variation=HiddenVariation.lab(), rate_hz=1 / tau,
                            node_adc=Adc(bits=0), gate_adc=Adc(bits=0))  # fmt: skip
    emu = BoardEmulator(config, rng=np.random.default_rng(0))
    emu.follow_schedule(Schedule(tasks=[a, b], period_s=tau, eta=EtaRamp.constant(128 / 129),
                                 duration_s=10.0))  # fmt: skip
    seen: list[tuple[int, np.ndarray, np.ndarray]] = []
    start, half, k = settle_cycle(emu, tau, settle_s=0.1, min_cycles=5, max_cycles=9,
                                  on_cycle=lambda *c: seen.append(c))  # fmt: skip
    assert [c[0] for c in seen] == list(range(5, k + 1))
    np.testing.assert_array_equal(seen[-1][1], start)
    np.testing.assert_array_equal(seen[-1][2], half)
    assert float(np.abs(half - start).sum()) > 0
