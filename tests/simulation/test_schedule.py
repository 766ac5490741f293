"""Training schedules as data: segments, the file form, the emulator following one."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import run_cli
from twin.board.emulator import BoardEmulator, EmulatorConfig, default_board_task
from twin.board.errors import BridgeConfigError
from twin.physics.task import task_to_dict
from twin.simulation.errors import ModelError
from twin.simulation.schedule import EtaRamp, Schedule, load_schedule, segments


def test_two_tasks_alternate_every_half_period_and_eta_ramps_in_eta_steps() -> None:
    a, b = default_board_task(), default_board_task(seed=5)
    sched = Schedule(
        tasks=[a, b],
        period_s=0.02,
        eta=EtaRamp(start=32 / 129, end=128 / 129, ramp_s=0.05),
        duration_s=0.1,
    )
    segs = list(segments(sched))
    assert segs[0].t0_s == 0.0
    assert segs[-1].t1_s == pytest.approx(0.1)
    assert all(s.t1_s > s.t0_s for s in segs)
    assert all(x.t1_s == y.t0_s for x, y in itertools.pairwise(segs))  # contiguous
    for s in segs:  # the task is the one of the half period the segment lies in
        assert s.task == int(((s.t0_s + s.t1_s) / 2) // 0.01) % 2
    codes = sorted({round(s.eta * 129) for s in segs})
    assert codes == list(range(32, 129))  # every ETA setting once, in steps of 1/129
    assert [s.eta for s in segs if s.t0_s >= 0.05] == [128 / 129] * sum(
        1 for s in segs if s.t0_s >= 0.05
    )
    assert sum(s.cycle_end for s in segs) == 5  # five full cycles of 20 ms


def test_without_period_the_first_task_only() -> None:
    sched = Schedule(tasks=[default_board_task()], eta=EtaRamp.constant(0.5), duration_s=3.0)
    assert [(s.t0_s, s.t1_s, s.task, s.eta) for s in segments(sched)] == [(0.0, 3.0, 0, 0.5)]


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "schedule.json"
    path.write_text(json.dumps(doc))
    return path


def test_file_form_with_inline_and_referenced_tasks(tmp_path: Path) -> None:
    task = default_board_task()
    (tmp_path / "beta.json").write_text(json.dumps(task_to_dict(default_board_task(seed=5))))
    doc = {
        "schema": "twin.schedule/1",
        "tasks": [task_to_dict(task), "beta.json"],
        "period_s": 0.2,
        "eta": {"start": 0.25, "end": 0.99, "ramp_s": 8},
        "stop": {"after_s": 30, "error_below_v2": 1e-5},
    }
    sched = load_schedule(_write(tmp_path, doc))
    assert len(sched.tasks) == 2
    assert sched.phase_s == pytest.approx(0.1)
    assert sched.duration_s == 30
    assert sched.stop_error_v2 == 1e-5
    np.testing.assert_array_equal(
        sched.tasks[1].train.outputs, default_board_task(seed=5).train.outputs
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"eta": {"start": 0.2}}, "eta"),
        ({"period_s": -1}, "period_s"),
        ({"tasks": []}, "tasks"),
        ({"stop": {"after_s": "long"}}, "stop.after_s"),
    ],
)
def test_bad_files_name_the_file_and_field(tmp_path: Path, change: dict, field: str) -> None:
    doc = {"schema": "twin.schedule/1", "tasks": [task_to_dict(default_board_task())], **change}
    path = _write(tmp_path, doc)
    with pytest.raises(ModelError, match=rf"{path}: {field}"):
        load_schedule(path)


def test_emulator_follows_a_schedule_without_touching_the_gates() -> None:
    a, b = default_board_task(), default_board_task(seed=5)
    emu = BoardEmulator(EmulatorConfig(), rng=np.random.default_rng(2))
    emu.follow_schedule(Schedule(tasks=[a, b], period_s=0.02, duration_s=0.05))
    seen = []
    for t in (0.005, 0.015, 0.025, 0.035):
        before = emu.track.gates()
        emu.advance(t)
        seen.append(emu.task is a)
        # gates move continuously (a switch never resets them): at most rate x time
        assert np.max(np.abs(emu.track.gates() - before)) < 0.5
    assert seen == [True, False, True, False]
    emu.advance(0.06)
    assert emu.mode == "idle"  # the schedule's duration ended the training


def test_error_rule_stops_at_a_cycle_end() -> None:
    task = default_board_task()
    emu = BoardEmulator(EmulatorConfig(), rng=np.random.default_rng(2))
    start = emu.schedule_error_v2(Schedule(tasks=[task]))
    sched = Schedule(tasks=[task, task], period_s=0.05, duration_s=50.0, stop_error_v2=start / 4)
    emu.follow_schedule(sched)
    emu.advance(0.3)
    assert emu.mode == "idle"  # stopped long before the 50 s duration
    assert emu.schedule_error_v2(sched) <= start / 4
    held = emu.track.gates()
    emu.advance(0.4)
    np.testing.assert_array_equal(emu.track.gates(), held)  # idle after the stop


def test_schedule_on_another_network_is_refused() -> None:
    from twin.physics.network_io import network_from_spec
    from twin.physics.task_generators import allostery_task

    other = allostery_task(network_from_spec("lattice:3x3"), rng=np.random.default_rng(0))
    emu = BoardEmulator(EmulatorConfig(), rng=np.random.default_rng(2))
    with pytest.raises(BridgeConfigError, match=r"schedule.tasks\[0\]"):
        emu.follow_schedule(Schedule(tasks=[other]))


def test_twin_board_refuses_a_bad_schedule_in_one_line(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, {"schema": "twin.schedule/1", "tasks": [], "period_s": 1})
    code, _out, err = run_cli(capsys, "board", "--schedule", str(path), "--duration", "0.01")
    assert code == 2
    assert err.count("\n") == 1
    assert "tasks" in err
