"""A twin trained on a schedule: one segment is the plain twin, segments chain as on the board."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy

from tests.helpers import one_line_error, run_cli, undocumented_keys
from twin.board.emulator import BoardEmulator, EmulatorConfig, default_board_task
from twin.physics.task import task_to_dict
from twin.simulation.errors import ModelError
from twin.simulation.schedule import EtaRamp, Schedule
from twin.simulation.scheduled import ScheduledTwin, schedule_error_v2
from twin.simulation.twin import Twin, TwinConfig

CONFIG = TwinConfig(sample_interval_s=0.01)


def test_a_schedule_of_one_segment_is_the_plain_twin_bit_for_bit() -> None:
    task = default_board_task()
    sched = Schedule(tasks=[task], eta=EtaRamp.constant(0.3), duration_s=0.05)
    res = ScheduledTwin(simpy.Environment(), sched, CONFIG, np.random.default_rng(4)).run()
    plain = Twin(simpy.Environment(), task, CONFIG.evolve(eta=0.3), np.random.default_rng(4))
    ref = plain.run(0.05)
    np.testing.assert_array_equal(res.gate_v, ref.gate_v)
    np.testing.assert_array_equal(res.history["error"], ref.history["error"])
    assert res.stats["training_energy_j"] == ref.stats["training_energy_j"]
    assert res.stats["segments"] == 1


def test_alternating_tasks_and_an_eta_ramp_follow_the_emulated_board_step_for_step() -> None:
    """The twin and the (nominal, noise-free) emulator chain the same segments: same gates."""
    a, b = default_board_task(), default_board_task(seed=5)
    sched = Schedule(
        tasks=[a, b], period_s=0.004, eta=EtaRamp(start=0.25, end=0.5, ramp_s=0.01),
        duration_s=0.02,
    )  # fmt: skip
    config = CONFIG.evolve(edges=CONFIG.edges.evolve(v_gate0_v=3.0))
    twin = ScheduledTwin(simpy.Environment(), sched, config, np.random.default_rng(1))
    emu = BoardEmulator(EmulatorConfig(autostart=False), rng=np.random.default_rng(2), task=a)
    emu.follow_schedule(sched)
    for t in (0.003, 0.0095, 0.02):
        twin.catch_up(t)
        emu.advance(t)
        np.testing.assert_allclose(
            twin.readings(t)["gate_v"], emu.track.gates(), rtol=0, atol=1e-12
        )
    board = emu.track.readings()  # energies accumulate across segments, as on the board
    mine = twin.readings(0.02)
    for key in ("energy_j", "clamped_energy_j", "gate_energy_j"):
        assert mine[key] == pytest.approx(board[key], rel=1e-9)
    assert mine["energy_j"] > twin.twin.readings(0.02 - twin.segment.t0_s)["energy_j"]


def test_the_stop_rule_holds_the_gates_after_the_first_good_cycle() -> None:
    task = default_board_task()
    err0 = schedule_error_v2(Schedule(tasks=[task]), CONFIG, np.full(task.network.n_edges, 3.0))
    sched = Schedule(
        tasks=[task, task], period_s=0.004, eta=EtaRamp.constant(0.22), duration_s=0.02,
        stop_error_v2=10 * err0,
    )  # fmt: skip
    twin = ScheduledTwin(simpy.Environment(), sched, CONFIG, np.random.default_rng(1))
    res = twin.run()
    assert res.stats["stopped_s"] == pytest.approx(0.004)
    t = res.history["t_s"]
    gates = res.history["gate_v"]
    held = gates[t >= 0.004 + 1e-9]
    np.testing.assert_array_equal(held, np.broadcast_to(held[0], held.shape))  # idle: no leak
    assert not np.array_equal(gates[0], held[0])  # it learnt before


def test_a_schedule_needs_the_batched_engine() -> None:
    sched = Schedule(tasks=[default_board_task()], duration_s=0.01)
    with pytest.raises(ModelError, match="batched"):
        ScheduledTwin(
            simpy.Environment(), sched, CONFIG.evolve(engine="agents"), np.random.default_rng(1)
        )


def _schedule_file(tmp_path: Path, **doc: Any) -> Path:
    path = tmp_path / "schedule.json"
    tasks = [task_to_dict(default_board_task()), task_to_dict(default_board_task(seed=5))]
    base = {"schema": "twin.schedule/1", "tasks": tasks, "period_s": 0.004}
    path.write_text(json.dumps(base | {"stop": {"after_s": 0.012}} | doc))
    return path


def test_twin_simulate_trains_on_a_schedule(capsys: Any, tmp_path: Path) -> None:
    path = _schedule_file(tmp_path, eta={"start": 32 / 129, "end": 64 / 129, "ramp_s": 0.008})
    run = tmp_path / "run.jsonl"
    code, out, err = run_cli(
        capsys, "simulate", "--schedule", str(path), "--json", "--no-db", "--out", str(run)
    )
    assert code == 0, err
    summary = json.loads(out)
    start = json.loads(run.read_text().splitlines()[0])
    assert start["params"]["schedule"] == str(path)
    assert start["params"]["schedule_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert summary["sim_time_s"] == 0.012
    assert summary["segments"] > 3  # task switches and eta steps
    assert summary["eta"] == pytest.approx(64 / 129)  # the ramp ends at its last ETA step
    assert 0 < summary["schedule_error_final_v2"] < 1
    assert not undocumented_keys(summary)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--eta", "0.3"), "--eta"),
        (("--duration", "1"), "--duration"),
        (("--engine", "agents"), "--engine"),
    ],
)
def test_twin_simulate_refuses_options_a_schedule_sets(
    capsys: Any, tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    path = _schedule_file(tmp_path)
    code, _out, err = run_cli(capsys, "simulate", "--schedule", str(path), "--no-db", *args)
    one_line_error(code, err, needle)


def test_twin_simulate_refuses_a_bad_schedule_in_one_line(capsys: Any, tmp_path: Path) -> None:
    path = _schedule_file(tmp_path, period_s=-1)
    code, _out, err = run_cli(capsys, "simulate", "--schedule", str(path), "--no-db")
    one_line_error(code, err, "period_s", str(path))
