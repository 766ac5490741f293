"""Record a board's stream to an append-only file; replay it as a :class:`~.contract.Board`.

The file format, and reading it in bounded memory, is :mod:`hw_bridge.recording_file`
(``hw_bridge.recording/1``: a magic, then records of length, crc32 and a msgpack payload).

Durability: each record is written with one ``write(2)`` on a file opened ``O_APPEND``, so a killed
recorder (even SIGKILL) leaves every record it wrote complete except at most the one being written;
the next open detects that torn tail by its length or checksum and ignores it (a writer appending
truncates it first). ``os.fsync`` runs every ``fsync_every_s`` seconds (default 1 s) and on close:
a power loss can lose the last second, a process kill loses at most one frame.

Nothing recorded is lost to a new recorder: ``mode="create"`` refuses an existing file,
``"append"`` appends to a valid recording (refusing a corrupt one: only a torn last record is
dropped) and only ``"overwrite"`` replaces one. The file is opened at the first record written, so a
recorder that never receives a frame (a board that cannot be reached) leaves no file behind.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hw_bridge.codec import DEFAULT_LIMITS, Limits, decode
from hw_bridge.protocol import heartbeat_from, snapshot_from, state_from
from hw_bridge.recording_file import (
    MAGIC,
    Record,
    RecordingInfo,
    check_recording_path,
    encode_record,
    read_records,
    scan,
)
from hw_bridge.sequencer import Sequencer
from twin.board.contract import Ack, Command, LinkCounters, Snapshot, Update
from twin.board.errors import BridgeClosed, DecodeError, RecordingError

__all__ = [
    "MAGIC",
    "RECORDER_MODES",
    "Record",
    "Recorder",
    "RecordingInfo",
    "Replayer",
    "read_records",
    "scan",
]

log = logging.getLogger("hw_bridge.recorder")

#: What a :class:`Recorder` does with an existing file.
RecorderMode = Literal["create", "append", "overwrite"]
RECORDER_MODES: tuple[RecorderMode, ...] = ("create", "append", "overwrite")


class Recorder:
    """Append frames to a recording (usable as a :data:`hw_bridge.client.Tap`).

    Parameters
    ----------
    path : str or Path
        Recording file.
    mode : {"append", "create", "overwrite"}
        What to do if ``path`` exists: append to it (it must be a valid recording; a torn last
        record is dropped first), refuse it (``create``), or replace it. Checked here, before
        anything is written.
    fsync_every_s : float
        Seconds between ``os.fsync`` calls (0: after every record).

    Raises
    ------
    RecordingError
        The path exists and ``mode`` is ``create``; it is not a regular file; ``append`` to a
        file that is not a recording or is corrupt before its last record; its folder is missing.
    """

    def __init__(
        self, path: str | Path, *, mode: RecorderMode = "append", fsync_every_s: float = 1.0
    ) -> None:
        if mode not in RECORDER_MODES:
            raise ValueError(f"mode {mode!r} not one of {RECORDER_MODES}")
        self.path = Path(path)
        self.mode: RecorderMode = mode
        self._fsync_every_s = fsync_every_s
        self.records = 0
        self._end: int | None = None  # append: the offset after the last good record
        self._fd: int | None = None
        self._created = False
        self._closed = False
        self._check()
        self._synced = time.monotonic()

    def _check(self) -> None:
        folder = self.path.parent
        if not folder.is_dir():
            raise RecordingError(f"{self.path}: folder {folder} does not exist")
        st = check_recording_path(self.path)
        if st is None:
            return
        if self.mode == "create":
            raise RecordingError(
                f"{self.path}: exists; pass --append to add to it or --overwrite to replace it"
            )
        if self.mode == "append" and st.st_size > 0:
            info = scan(self.path)  # raises on a file that is not a recording or is corrupt
            self.records, self._end = info.records, info.end
            if info.torn_bytes:
                log.warning(
                    "%s: will drop a torn last record (%d bytes)", self.path, info.torn_bytes
                )

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        flags |= {"create": os.O_EXCL, "append": 0, "overwrite": os.O_TRUNC}[self.mode]
        existed = self.path.exists()
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot open for writing ({exc.strerror})") from exc
        self._created = not existed
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                os.write(fd, MAGIC)
            elif self._end is not None and size > self._end:
                os.ftruncate(fd, self._end)  # the torn tail found by the check, nothing else
        except BaseException:
            os.close(fd)
            raise
        return fd

    def write(self, source: str, frames: list[bytes], recv_unix: float) -> None:
        """Append one record (one ``write`` call); the first one opens the file."""
        if self._closed:
            raise BridgeClosed(f"recorder of {self.path} is closed")
        if self._fd is None:
            self._fd = self._open()
        os.write(self._fd, encode_record(source, frames, recv_unix))
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
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)

    def discard(self) -> None:
        """Close, and remove the file if this recorder created it (a recording that failed)."""
        self.close()
        if self._created:
            self.path.unlink(missing_ok=True)
            self._created = False

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
        self._records.close()  # the open file of the pass

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
