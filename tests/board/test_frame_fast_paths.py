"""The per-frame fast paths of the emulated board give what the general paths give.

Fault-free shadowing spends its time per frame (1 kHz); these paths skip work, never change a
value: a restamped state is ``attrs.evolve``'s, the twin's gates alone are its readings' gates,
the frames share one read-only copy of the task's rows.
"""

from __future__ import annotations

import attrs
import numpy as np

from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.variation import HiddenVariation


def _emulator(seed: int = 5) -> BoardEmulator:
    config = EmulatorConfig(variation=HiddenVariation.typical())
    return BoardEmulator(config, rng=np.random.default_rng(seed))


def test_restamped_is_evolve_sharing_the_arrays() -> None:
    state = _emulator().advance(0.003)[-1]
    new, ref = state.restamped(1234.5), attrs.evolve(state, wall_unix=1234.5)
    for field in attrs.fields(type(state)):
        a, b = getattr(new, field.name), getattr(ref, field.name)
        if isinstance(a, np.ndarray):
            assert a is getattr(state, field.name)  # shared, as evolve shares read-only arrays
            assert np.array_equal(a, b)
            assert not a.flags.writeable
        else:
            assert a == b
    assert new.wall_unix == 1234.5
    assert state.wall_unix != 1234.5


def test_twin_gates_are_the_readings_gates() -> None:
    from twin.kernels.events.state import kernel_status

    emu = _emulator()
    emu.advance(0.02)
    twin = emu.track.twin
    for t_s in (0.02, 0.0205, 0.021):
        assert np.array_equal(twin.gates(t_s), twin.readings(t_s)["gate_v"])
    assert int(kernel_status(twin.kernel)) == int(twin.state.counters.status)


def test_frames_share_one_read_only_copy_of_the_task_rows() -> None:
    emu = _emulator()
    frames = emu.advance(0.005)
    rows = (emu.task.train.inputs[0], emu.task.train.outputs[0])
    for name, row in zip(("inputs_v", "targets_v"), rows, strict=True):
        first = getattr(frames[0], name)
        assert np.array_equal(first, row)
        assert not first.flags.writeable
        assert all(getattr(f, name) is first for f in frames)  # no copy per frame
    assert all(not f.gate_v.flags.writeable for f in frames)


def _same_frames(a: list, b: list) -> None:
    assert len(a) == len(b)
    for fa, fb in zip(a, b, strict=True):
        for field in attrs.fields(type(fa)):
            x, y = getattr(fa, field.name), getattr(fb, field.name)
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype == np.float64
                assert x.tobytes() == y.tobytes()  # bit for bit
                assert not x.flags.writeable
            else:
                assert x == y


def test_frames_a_group_at_a_time_are_the_frames_step_by_step() -> None:
    grouped, stepped = _emulator(11), _emulator(11)
    for emu in (grouped, stepped):
        emu.advance(0.0105)
        emu.inject_node_fault(3, 0.01)  # the ADC offsets apply in both paths
    frames = []
    for k in range(1, 6):
        frames += grouped.advance(0.0105 + 0.01 * k)
    singles = [stepped.step() for _ in range(len(frames))]
    stepped.advance(grouped.t_s)
    assert len(frames) == 50
    base = frames[3].gate_v.base
    assert base is not None  # the group path ran: the frames are rows of one array
    assert frames[4].gate_v.base is base
    _same_frames(frames, singles)
    assert grouped.last is frames[-1]
    assert (grouped.t_s, grouped.seq) == (stepped.t_s, stepped.seq)
    _same_frames(grouped.advance(0.08), stepped.advance(0.08))  # and the noise goes on alike


def test_a_kernel_view_read_at_once_is_its_attributes() -> None:
    emu = _emulator()
    emu.advance(0.02)
    st = emu.track.twin.state
    for view in (st.energy, st.counters):
        values = view.as_dict()
        assert values == {name: getattr(view, name) for name in type(view)._names}
