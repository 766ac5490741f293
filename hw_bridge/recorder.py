"""Record a board's stream to an append-only file; replay it as a :class:`~.contract.Board`.

File format (``hw_bridge.recording/1``), little-endian::

    magic   8 bytes   b"TWINREC1"
    record  repeated: u32 length | u32 crc32(payload) | payload (length bytes)

A payload is a msgpack array ``[source, recv_unix, [part, ...]]``: ``source`` is ``"sub"`` (a frame
of the update stream) or ``"snapshot"`` (a snapshot reply), ``recv_unix`` the receive wall time in
seconds, and the parts the raw ZeroMQ frames exactly as received (so the replay decodes, sequences
and counts them like the live client did).

Durability: each record is written with one ``write(2)`` on a file opened ``O_APPEND``, so a killed
recorder (even SIGKILL) leaves every record it wrote complete except at most the one being written;
the next open detects that torn tail by its length or checksum and ignores it (a writer truncates it
before appending). ``os.fsync`` runs every ``fsync_every_s`` seconds (default 1 s) and on close:
a power loss can lose the last second, a process kill loses at most one frame.
"""

from __future__ import annotations

import logging
import os
import struct
import time
import zlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import msgpack
import numpy as np

from hw_bridge.codec import DEFAULT_LIMITS, Limits, decode
from hw_bridge.protocol import heartbeat_from, snapshot_from, state_from
from hw_bridge.sequencer import Sequencer
from twin.board.contract import Ack, Command, LinkCounters, Snapshot, Update
from twin.board.errors import BridgeClosed, DecodeError, RecordingError

__all__ = ["MAGIC", "Record", "Recorder", "RecordingInfo", "Replayer", "read_records", "scan"]

log = logging.getLogger("hw_bridge.recorder")

MAGIC = b"TWINREC1"
_PREFIX = struct.Struct("<II")
#: Largest record accepted on reading (a larger length field is corruption), bytes.
MAX_RECORD_BYTES = 1 << 26


@attrs.frozen(kw_only=True)
class Record:
    """One recorded frame: where it came from, when it arrived (s since 1970), its parts."""

    source: str
    recv_unix: float
    frames: list[bytes]


@attrs.frozen(kw_only=True)
class RecordingInfo:
    """What :func:`scan` found: record count, byte offset after the last good record, and the
    number of bytes of a torn last record (ignored)."""

    records: int
    end: int
    torn_bytes: int


def _read_record(data: bytes, offset: int, path: Path) -> tuple[Record | None, int]:
    """The record at ``offset`` and the next offset; (None, offset) at a torn tail."""
    if len(data) - offset < _PREFIX.size:
        return None, offset
    length, crc = _PREFIX.unpack_from(data, offset)
    start, stop = offset + _PREFIX.size, offset + _PREFIX.size + length
    if length > MAX_RECORD_BYTES or stop > len(data):
        if length > MAX_RECORD_BYTES and stop < len(data):
            raise RecordingError(f"{path}: record at byte {offset} has a bad length {length}")
        return None, offset
    payload = data[start:stop]
    if zlib.crc32(payload) != crc:
        if stop == len(data):
            return None, offset
        raise RecordingError(f"{path}: record at byte {offset} fails its checksum")
    try:
        source, recv_unix, frames = msgpack.unpackb(payload, raw=False)
        record = Record(source=source, recv_unix=float(recv_unix), frames=list(frames))
    except (ValueError, TypeError) as exc:
        raise RecordingError(f"{path}: record at byte {offset} is not a record: {exc}") from exc
    return record, stop


def _read_all(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read the recording ({exc.strerror})") from exc
    if data[: len(MAGIC)] != MAGIC:
        raise RecordingError(f"{path}: not a recording (expected the {MAGIC!r} header)")
    return data


def _records(data: bytes, path: Path) -> Iterator[tuple[Record, int]]:
    offset = len(MAGIC)
    while True:
        record, offset = _read_record(data, offset, path)
        if record is None:
            return
        yield record, offset


def read_records(path: str | Path) -> Iterator[Record]:
    """The complete records of a recording, in order (a torn last record is skipped)."""
    path = Path(path)
    for record, _ in _records(_read_all(path), path):
        yield record


def scan(path: str | Path) -> RecordingInfo:
    """Count the records of a recording and measure its torn tail, if any."""
    path = Path(path)
    data = _read_all(path)
    count, end = 0, len(MAGIC)
    for _, offset in _records(data, path):
        count, end = count + 1, offset
    return RecordingInfo(records=count, end=end, torn_bytes=len(data) - end)


class Recorder:
    """Append frames to a recording (usable as a :data:`hw_bridge.client.Tap`).

    Parameters
    ----------
    path : str or Path
        Recording file; created, or appended to after dropping a torn tail.
    fsync_every_s : float
        Seconds between ``os.fsync`` calls (0: after every record).
    """

    def __init__(self, path: str | Path, *, fsync_every_s: float = 1.0) -> None:
        self.path = Path(path)
        self._fsync_every_s = fsync_every_s
        self.records = 0
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot open for writing ({exc.strerror})") from exc
        try:
            self._prepare()
        except BaseException:
            os.close(self._fd)
            raise
        self._synced = time.monotonic()
        self._closed = False

    def _prepare(self) -> None:
        if os.fstat(self._fd).st_size == 0:
            os.write(self._fd, MAGIC)
            return
        info = scan(self.path)
        if info.torn_bytes:
            log.warning("%s: dropping a torn last record (%d bytes)", self.path, info.torn_bytes)
            os.ftruncate(self._fd, info.end)
        self.records = info.records

    def write(self, source: str, frames: list[bytes], recv_unix: float) -> None:
        """Append one record (one ``write`` call)."""
        if self._closed:
            raise BridgeClosed(f"recorder of {self.path} is closed")
        payload = msgpack.packb([source, recv_unix, [bytes(p) for p in frames]], use_bin_type=True)
        os.write(self._fd, _PREFIX.pack(len(payload), zlib.crc32(payload)) + payload)
        self.records += 1
        if time.monotonic() - self._synced >= self._fsync_every_s:
            os.fsync(self._fd)
            self._synced = time.monotonic()

    __call__ = write

    def close(self) -> None:
        """fsync and close. Idempotent."""
        if self._closed:
            return
        self._closed = True
        os.fsync(self._fd)
        os.close(self._fd)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Replayer:
    """A recorded stream replayed as a :class:`~twin.board.contract.Board` (read-only).

    Parameters
    ----------
    path : str or Path
        Recording written by :class:`Recorder`.
    speed : float or None
        Replay speed factor (1: as recorded, 10: ten times faster); None or 0: as fast as
        possible.
    limits : Limits
        Bounds on the frames decoded.
    max_batch : int
        Most records one :meth:`poll` call replays.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        speed: float | None = 1.0,
        limits: Limits = DEFAULT_LIMITS,
        max_batch: int = 10_000,
    ) -> None:
        self.path = Path(path)
        self.info = scan(self.path)
        self._records = read_records(self.path)
        self._speed = speed or None
        self._limits = limits
        self._max_batch = max_batch
        self._counters = LinkCounters()
        self._seq = Sequencer(self._counters)
        self._lags: deque[float] = deque(maxlen=4096)
        self._need: str | None = "initial"
        self._next: Record | None = next(self._records, None)
        self._t0_rec = self._next.recv_unix if self._next else 0.0
        self._t0_wall = time.monotonic()
        self._first_snapshot = self._find_first_snapshot()
        self._closed = False

    def _find_first_snapshot(self) -> Snapshot | None:
        for record in read_records(self.path):
            if record.source == "snapshot":
                try:
                    msg = decode(record.frames, self._limits)
                    if msg.type == "snapshot":
                        return snapshot_from(msg)
                except DecodeError:
                    continue
        return None

    # ------------------------------------------------------------------ Board protocol

    @property
    def board_id(self) -> str:
        snap = self._seq.snapshot or self._first_snapshot
        return snap.config.board_id if snap is not None else ""

    @property
    def counters(self) -> LinkCounters:
        if self._lags:
            p50, p99 = np.percentile(np.fromiter(self._lags, float), [50, 99])
            self._counters.lag_p50_s, self._counters.lag_p99_s = float(p50), float(p99)
        return self._counters

    @property
    def done(self) -> bool:
        """True once every record has been replayed."""
        return self._next is None

    def snapshot(self, timeout_s: float = 5.0) -> Snapshot:
        """The snapshot in force at the replay position (the first one before the replay)."""
        snap = self._seq.snapshot or self._first_snapshot
        if snap is None:
            raise RecordingError(f"{self.path}: the recording holds no snapshot")
        return snap

    def poll(self, timeout_s: float) -> list[Update]:
        """Replay the records due by now (waiting up to ``timeout_s`` for the next one)."""
        if self._closed:
            raise BridgeClosed(f"replayer of {self.path} is closed")
        out: list[Update] = []
        deadline = time.monotonic() + timeout_s
        while self._next is not None and len(out) < self._max_batch:
            due = self._due(self._next)
            if due > time.monotonic():
                if out or due > deadline:
                    if not out:
                        time.sleep(max(0.0, deadline - time.monotonic()))
                    break
                time.sleep(due - time.monotonic())
            self._replay(self._next, out)
            self._next = next(self._records, None)
        return out

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        """Refused: a recording cannot be commanded."""
        return Ack(key=command.key, ok=False, code="read_only", message="replayed stream")

    def close(self) -> None:
        self._closed = True
        self._next = None

    def __enter__(self) -> Replayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ replay

    def _due(self, record: Record) -> float:
        if self._speed is None:
            return 0.0
        return self._t0_wall + (record.recv_unix - self._t0_rec) / self._speed

    def _replay(self, record: Record, out: list[Update]) -> None:
        if record.source == "sub":
            self._counters.frames += 1
        try:
            msg = decode(record.frames, self._limits)
            self._dispatch(record, msg, out)
        except DecodeError as exc:
            self._counters.decode_errors += 1
            log.debug("skipped an undecodable recorded frame: %s", exc)

    def _dispatch(self, record: Record, msg: Any, out: list[Update]) -> None:
        if record.source == "snapshot":
            if msg.type == "snapshot":
                reason = self._need or "silence"
                out.append(self._seq.on_snapshot(snapshot_from(msg), reason))
                self._need = None
            return
        if msg.type == "update":
            state = state_from(msg)
            verdict = self._seq.on_update(state)
            if verdict == "deliver":
                out.append(state)
                self._lags.append(record.recv_unix - state.wall_unix)
        elif msg.type == "heartbeat":
            verdict = self._seq.on_heartbeat(heartbeat_from(msg))
        else:
            raise DecodeError(f"{msg.type} message on the update stream")
        if verdict in ("gap", "restart") and self._need is None:
            self._need = verdict
