"""Wire codec: round trips of every message type, schema conformance, bounds, fuzzing, drift."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jsonschema
import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw_bridge import Ack, BoardConfig, BoardState, Command, Snapshot
from hw_bridge._messages import COMMAND_NAMES, ERROR_CODES, MESSAGE_TYPES, SCHEMA
from hw_bridge.codec import Limits, decode, encode
from hw_bridge.protocol import (
    ack_from,
    command_from,
    encode_ack,
    encode_command,
    encode_error,
    encode_heartbeat,
    encode_snapshot,
    encode_snapshot_request,
    encode_update,
    heartbeat_from,
    snapshot_from,
    state_from,
)
from tests.hypothesis_profiles import scaled
from twin.board.errors import BridgeError, DecodeError, EncodeError, ProtocolVersionError
from twin.errors import TwinError

from .conftest import SyntheticBoard, lattice_4x4
from .fuzz import invalid_frames, mutated_frames

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
#: the machine is shared: 40 examples per message type keep the round trips to a few seconds
#: (a decorator, not a profile: loading a profile here changed every later module's settings)
ROUND_TRIPS = settings(max_examples=scaled(40))

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
names = st.text(max_size=64)
u64 = st.integers(0, 2**64 - 1)
seqs = st.integers(1, 2**63 - 1)
json_leaf = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | finite | st.text()
json_obj = st.dictionaries(
    st.text(max_size=8),
    st.recursive(
        json_leaf,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
        max_leaves=6,
    ),
    max_size=4,
)


def vectors(max_n: int = 40):
    return st.integers(0, max_n).flatmap(lambda n: st.lists(finite, min_size=n, max_size=n))


@st.composite
def states(draw) -> BoardState:
    return BoardState(
        board_id=draw(names),
        epoch=draw(u64),
        seq=draw(seqs),
        t_s=draw(finite),
        wall_unix=draw(finite),
        mode=draw(st.sampled_from(["idle", "training", "inference"])),
        gate_v=draw(vectors()),
        v_free_v=draw(vectors()),
        v_clamped_v=draw(vectors()),
        inputs_v=draw(vectors(4)),
        targets_v=draw(vectors(4)),
        eta=draw(finite),
        lam=draw(finite),
    )


def _same_state(a: BoardState, b: BoardState) -> None:
    for field in ("board_id", "epoch", "seq", "t_s", "wall_unix", "mode", "eta", "lam"):
        assert getattr(a, field) == getattr(b, field), field
    for field in ("gate_v", "v_free_v", "v_clamped_v", "inputs_v", "targets_v"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def _conforms(frames: list[bytes]) -> None:
    VALIDATOR.validate(msgpack.unpackb(frames[1]))


@ROUND_TRIPS
@given(states())
def test_update_round_trip(state) -> None:
    frames = encode_update(state)
    _conforms(frames)
    _same_state(state_from(decode(frames)), state)


@ROUND_TRIPS
@given(states(), json_obj, json_obj, st.integers(0, 2**31), names, finite, finite)
def test_snapshot_round_trip(state, task, params, version, request_id, t0, t1) -> None:
    config = BoardConfig(
        board_id=state.board_id,
        epoch=state.epoch,
        network=lattice_4x4(),
        task=task,
        params=params,
        version=version,
    )
    frames = encode_snapshot(
        Snapshot(config=config, state=state), request_id=request_id, client_unix=t0, board_unix=t1
    )
    _conforms(frames)
    snap = snapshot_from(decode(frames))
    assert snap.config == config
    _same_state(snap.state, state)


@ROUND_TRIPS
@given(names, u64, st.integers(0, 2**63 - 1), finite, finite, st.floats(1e-6, 10.0))
def test_heartbeat_round_trip(board_id, epoch, seq, t_s, wall_unix, period_s) -> None:
    fields = {"board_id": board_id, "epoch": epoch, "seq": seq, "t_s": t_s, "wall_unix": wall_unix}
    frames = encode_heartbeat(**fields, period_s=period_s)
    _conforms(frames)
    beat = heartbeat_from(decode(frames))
    assert (beat.board_id, beat.epoch, beat.seq, beat.period_s) == (board_id, epoch, seq, period_s)


@ROUND_TRIPS
@given(names, names, finite)
def test_snapshot_request_round_trip(board_id, request_id, client_unix) -> None:
    frames = encode_snapshot_request(
        board_id=board_id, request_id=request_id, client_unix=client_unix
    )
    _conforms(frames)
    header = decode(frames).header
    assert (header["request_id"], header["client_unix"]) == (request_id, client_unix)


@ROUND_TRIPS
@given(
    st.sampled_from(COMMAND_NAMES),
    st.text(min_size=1, max_size=128),
    json_obj,
    st.none() | st.integers(0, 2**31),
    names,
)
def test_command_round_trip(name, key, args, version, board_id) -> None:
    command = Command(name=name, key=key, args=args, version=version)
    frames = encode_command(command, board_id=board_id, client_unix=1.0)
    _conforms(frames)
    assert command_from(decode(frames)) == command


@ROUND_TRIPS
@given(
    st.text(max_size=128),
    st.booleans(),
    st.text(max_size=32),
    st.text(),
    st.integers(0, 2**31),
    json_obj,
)
def test_ack_round_trip(key, ok, code, message, version, result) -> None:
    ack = Ack(key=key, ok=ok, code=code, message=message, version=version, result=result)
    frames = encode_ack(ack, board_id="b", board_unix=2.0)
    _conforms(frames)
    assert ack_from(decode(frames)) == ack


@ROUND_TRIPS
@given(st.sampled_from(ERROR_CODES), st.text(), st.none() | st.text(max_size=64))
def test_error_round_trip(code, message, request_id) -> None:
    frames = encode_error(board_id="b", code=code, message=message, request_id=request_id)
    _conforms(frames)
    header = decode(frames).header
    assert (header["code"], header["message"], header["request_id"]) == (code, message, request_id)


def test_every_message_type_is_covered() -> None:
    tested = {"update", "heartbeat", "snapshot_request", "snapshot", "command", "ack", "error"}
    assert set(MESSAGE_TYPES) == tested


def test_frame_layout_is_topic_header_buffers() -> None:
    state = SyntheticBoard().state()
    frames = encode_update(state)
    assert frames[0] == b"update"
    header = msgpack.unpackb(frames[1])
    assert [a["name"] for a in header["arrays"]] == [
        "gate_v",
        "v_free_v",
        "v_clamped_v",
        "inputs_v",
        "targets_v",
    ]
    assert frames[2] == np.asarray(state.gate_v, "<f8").tobytes()
    assert len(frames) == 7


def test_other_dtypes_travel_as_declared() -> None:
    frames = encode(
        "update", {}, {"a": np.arange(6, dtype=np.int32).reshape(2, 3), "b": np.float32([1.5])}
    )
    header = msgpack.unpackb(frames[1])
    assert [(a["dtype"], a["shape"]) for a in header["arrays"]] == [("<i4", [2, 3]), ("<f4", [1])]
    with pytest.raises(EncodeError, match="dtype"):
        encode("update", {}, {"c": np.array([1 + 2j])})
    with pytest.raises(EncodeError, match="unknown message type"):
        encode("nonsense", {})


def test_a_wrong_version_names_both_versions() -> None:
    frames = encode_snapshot_request(board_id="b", request_id="r", client_unix=0.0, version=2)
    with pytest.raises(ProtocolVersionError, match="version 2; this side speaks version 1"):
        decode(frames)


def test_limits_are_enforced() -> None:
    frames = encode_update(SyntheticBoard().state())
    with pytest.raises(DecodeError, match="over the 100 limit"):
        decode(frames, Limits(max_frame_bytes=100))
    with pytest.raises(DecodeError, match="header of"):
        decode(frames, Limits(max_header_bytes=50))
    with pytest.raises(DecodeError, match="elements over"):
        decode(frames, Limits(max_array_elements=10))
    with pytest.raises(DecodeError, match="arrays, limit 2"):
        decode(frames, Limits(max_arrays=2))
    with pytest.raises(DecodeError, match="parts"):
        decode(frames, Limits(max_parts=3))


def test_error_hierarchy() -> None:
    assert issubclass(DecodeError, BridgeError)
    assert issubclass(DecodeError, ValueError)
    assert issubclass(ProtocolVersionError, DecodeError)
    assert issubclass(BridgeError, TwinError)
    from twin.board.errors import BridgeTimeout

    assert issubclass(BridgeTimeout, TimeoutError)


def test_fuzzed_frames_are_refused_with_decode_errors_only() -> None:
    rng = np.random.default_rng(2026)
    state = SyntheticBoard().state()
    bad = invalid_frames(rng, state, 10_000)
    for frames in bad:
        with pytest.raises(DecodeError):
            decode(frames)
    accepted = 0
    for frames in mutated_frames(rng, state, 2_000):
        try:
            decode(frames)
            accepted += 1
        except DecodeError:
            pass
    assert 0 < accepted < 2_000  # flips in float payloads stay valid; the rest are refused


def _codegen():
    spec = importlib.util.spec_from_file_location("codegen", ROOT / "schemas" / "codegen.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_messages_match_the_schema() -> None:
    committed = (ROOT / "hw_bridge" / "_messages.py").read_text()
    assert _codegen().generate_messages() == committed, "run `python schemas/codegen.py`"


def test_codegen_notices_a_message_schema_change(tmp_path, monkeypatch) -> None:
    mod = _codegen()
    for path in (ROOT / "schemas").glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    target = tmp_path / "messages.schema.json"
    target.write_text(target.read_text().replace('"max_arrays": 16', '"max_arrays": 17'))
    monkeypatch.setattr(mod, "HERE", tmp_path)
    assert mod.generate_messages() != (ROOT / "hw_bridge" / "_messages.py").read_text()
