"""Malformed frames for the decoder and the live stream: every one must be refused."""

from __future__ import annotations

import msgpack
import numpy as np

from hw_bridge import BoardState
from hw_bridge.codec import DEFAULT_LIMITS, Limits, encode
from hw_bridge.protocol import encode_heartbeat, encode_update


def _header(frames: list[bytes]) -> dict:
    return msgpack.unpackb(frames[1])


def _with_header(frames: list[bytes], header: dict) -> list[bytes]:
    return [frames[0], msgpack.packb(header), *frames[2:]]


def _random_bytes(rng, topic: bytes) -> list[bytes]:
    n_parts = int(rng.integers(1, 5))
    parts = [rng.bytes(int(rng.integers(0, 200))) for _ in range(n_parts)]
    return [topic + rng.bytes(int(rng.integers(0, 3))), *parts]


def _kind(rng, good: list[bytes], beat: list[bytes], topic: bytes, limits: Limits) -> list[bytes]:
    k = int(rng.integers(0, 13))
    h = _header(good)
    if k == 0:
        return _random_bytes(rng, topic)
    if k == 1:  # truncated buffer
        cut = int(rng.integers(1, len(good[2]) + 1))
        return [*good[:2], good[2][:-cut], *good[3:]]
    if k == 2:  # truncated header
        cut = int(rng.integers(1, len(good[1])))
        return [good[0], good[1][:cut], *good[2:]]
    if k == 3:  # wrong protocol version
        version = int(rng.choice([0, 2, 3, 255, -1]))
        return _with_header(good, {**h, "version": version})
    if k == 4:  # missing required field
        key = str(rng.choice(sorted(set(h) - {"version", "type"})))
        return _with_header(good, {k2: v for k2, v in h.items() if k2 != key})
    if k == 5:  # wrong type or out-of-range value
        key, value = [
            ("seq", "7"),
            ("seq", 0),
            ("epoch", -1),
            ("mode", "dancing"),
            ("eta", None),
            ("t_s", [1]),
            ("board_id", "x" * 65),
        ][int(rng.integers(0, 7))]
        return _with_header(good, {**h, key: value})
    if k == 6:  # oversized array declaration
        arrays = [dict(a) for a in h["arrays"]]
        arrays[0]["shape"] = [limits.max_array_elements + 1]
        return _with_header(good, {**h, "arrays": arrays})
    if k == 7:  # oversized header
        return _with_header(good, {**h, "pad": "x" * limits.max_header_bytes})
    if k == 8:  # a buffer too many / too few
        return [*good, good[2]] if rng.random() < 0.5 else good[:-1]
    if k == 9:  # topic and header disagree
        return [good[0], beat[1]]
    if k == 10:  # bad dtype
        arrays = [dict(a) for a in h["arrays"]]
        arrays[1]["dtype"] = str(rng.choice([">f8", "float64", "<c16", "O"]))
        return _with_header(good, {**h, "arrays": arrays})
    if k == 11:  # header not a map
        return [good[0], msgpack.packb([1, 2, 3]), *good[2:]]
    return [*good, *[b""] * 20]  # too many parts


def invalid_frames(
    rng: np.random.Generator,
    state: BoardState,
    n: int,
    *,
    live: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> list[list[bytes]]:
    """n frames that no decoder may accept. ``live``: topics pass a SUB's update filter."""
    good = encode_update(state)
    beat = encode_heartbeat(board_id="b", epoch=1, seq=1, t_s=0.0, wall_unix=0.0, period_s=0.1)
    out = []
    for _ in range(n):
        topic = b"update" if live else rng.bytes(int(rng.integers(0, 12)))
        frames = _kind(rng, good, beat, topic, limits)
        if not live and rng.random() < 0.1:
            frames = _random_bytes(rng, topic)
        out.append(frames)
    return out


def mutated_frames(rng: np.random.Generator, state: BoardState, n: int) -> list[list[bytes]]:
    """n valid frames with random bit flips (some stay valid, most do not)."""
    good = [
        encode_update(state),
        encode(
            "heartbeat",
            {"board_id": "b", "epoch": 1, "seq": 1, "t_s": 0.0, "wall_unix": 0.0, "period_s": 0.1},
        ),
    ]
    out = []
    for _ in range(n):
        frames = [bytearray(p) for p in good[int(rng.integers(0, 2))]]
        for _ in range(int(rng.integers(1, 4))):
            part = frames[int(rng.integers(0, len(frames)))]
            if part:
                part[int(rng.integers(0, len(part)))] ^= 1 << int(rng.integers(0, 8))
        out.append([bytes(p) for p in frames])
    return out
