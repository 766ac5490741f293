"""The recording file format (``hw_bridge.recording/1``), read in bounded memory.

Little-endian::

    magic   8 bytes   b"TWINREC1"
    record  repeated: u32 length | u32 crc32(payload) | payload (length bytes)

A payload is a msgpack array ``[source, recv_unix, [part, ...]]``: ``source`` is ``"sub"`` (a frame
of the update stream) or ``"snapshot"`` (a snapshot reply), ``recv_unix`` the receive wall time in
seconds, and the parts the raw ZeroMQ frames exactly as received.

Reading streams the file record by record (one record, at most :data:`MAX_RECORD_BYTES`, in memory
at a time) and only from regular files (a FIFO or a device is refused before it is opened). A
writer killed mid-record leaves a *torn tail*: a last record shorter than its length field says,
or whose checksum fails at the very end of the file. That is ignored (and dropped by a writer that
appends). Anything else that fails is *corruption*, reported with its byte offset: a bad checksum
before the end, a payload that is not a record, or a length field that runs past the end of the file
while a complete record still follows it (a torn tail is the last record; it has nothing after it).
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import BinaryIO

import attrs
import msgpack
import numpy as np

from twin._files import NotARegularFileError, regular_file
from twin.board.errors import RecordingError

__all__ = [
    "MAGIC",
    "MAX_RECORD_BYTES",
    "SOURCES",
    "Record",
    "RecordingInfo",
    "check_recording_path",
    "encode_record",
    "read_records",
    "scan",
]

MAGIC = b"TWINREC1"
_PREFIX = struct.Struct("<II")
#: Largest record accepted on reading (a larger length field is corruption), bytes.
MAX_RECORD_BYTES = 1 << 26
#: What a record's ``source`` may be.
SOURCES = ("sub", "snapshot")
_WINDOW = 1 << 20  # positions searched at once for a record after a suspect length field


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


def encode_record(source: str, frames: list[bytes], recv_unix: float) -> bytes:
    """The bytes of one record (prefix and payload), written with one ``write`` call."""
    payload = msgpack.packb([source, recv_unix, [bytes(p) for p in frames]], use_bin_type=True)
    return _PREFIX.pack(len(payload), zlib.crc32(payload)) + payload


def check_recording_path(path: Path) -> os.stat_result | None:
    """The ``stat`` of ``path`` if it exists (None if not); refuses what is not a regular file.

    Raises
    ------
    RecordingError
        ``path`` is a directory, FIFO, device or socket, or cannot be examined.
    """
    try:
        return regular_file(path)
    except NotARegularFileError as exc:
        what = "a recording is a file written by twin record"
        raise RecordingError(f"{path}: {exc}; {what}") from None


def _open(path: Path) -> tuple[BinaryIO, int]:
    """The file opened after its magic, and its size; refuses what is not a recording."""
    if check_recording_path(path) is None:
        raise RecordingError(f"{path}: cannot read the recording (No such file or directory)")
    try:
        f = open(path, "rb")  # noqa: SIM115  (closed by the callers' finally)
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read the recording ({exc.strerror})") from exc
    size = os.fstat(f.fileno()).st_size
    if f.read(len(MAGIC)) != MAGIC:
        f.close()
        raise RecordingError(f"{path}: not a recording (expected the {MAGIC!r} header)")
    return f, size


def _unpack(payload: bytes) -> Record | None:
    """The record of ``payload``; None if it is not one."""
    try:
        source, recv_unix, frames = msgpack.unpackb(payload, raw=False)
    except (ValueError, TypeError):
        return None
    if (
        source not in SOURCES
        or not isinstance(recv_unix, int | float)
        or isinstance(recv_unix, bool)
        or not math.isfinite(recv_unix)
        or not isinstance(frames, list)
        or not all(isinstance(part, bytes) for part in frames)
    ):
        return None
    return Record(source=source, recv_unix=float(recv_unix), frames=frames)


def _record_follows(tail: bytes) -> int | None:
    """Offset in ``tail`` (after its first byte) where a complete, valid record starts; None."""
    buf = np.frombuffer(tail, dtype=np.uint8)
    n = buf.size
    for lo in range(1, max(1, n - _PREFIX.size + 1), _WINDOW):
        hi = min(n - _PREFIX.size + 1, lo + _WINDOW)
        pos = np.arange(lo, hi, dtype=np.int64)
        length = sum(buf[pos + i].astype(np.int64) << (8 * i) for i in range(4))
        fits = (length > 0) & (pos + _PREFIX.size + length <= n)
        for p in pos[fits].tolist():
            size, crc = _PREFIX.unpack_from(tail, p)
            payload = tail[p + _PREFIX.size : p + _PREFIX.size + size]
            if zlib.crc32(payload) == crc and _unpack(payload) is not None:
                return p
    return None


def _check_tail(f: BinaryIO, path: Path, offset: int, length: int, size: int) -> None:
    """A length field at ``offset`` runs past the end: a torn tail, or corruption (raises)."""
    left = size - offset
    claims = f"record at byte {offset} claims {length} bytes, {left - _PREFIX.size} are left"
    if left > _PREFIX.size + MAX_RECORD_BYTES:  # longer than any record: not a torn one
        raise RecordingError(f"{path}: {claims} (corrupt length field)")
    f.seek(offset)
    tail = f.read(left)
    follows = _record_follows(tail)
    if follows is not None:
        raise RecordingError(
            f"{path}: {claims} but a complete record follows at byte {offset + follows} "
            "(corrupt length field)"
        )


def _records(f: BinaryIO, size: int, path: Path) -> Iterator[tuple[Record, int]]:
    """The complete records after the magic with the offset after each; stops at a torn tail."""
    offset = len(MAGIC)
    while offset < size:
        prefix = f.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            return  # torn inside the length and checksum
        length, crc = _PREFIX.unpack(prefix)
        start = offset + _PREFIX.size
        if length > MAX_RECORD_BYTES or start + length > size:
            _check_tail(f, path, offset, length, size)
            return
        payload = f.read(length)
        if len(payload) < length:
            return  # the file shrank while read: what is left is torn
        if zlib.crc32(payload) != crc:
            if start + length == size:
                return  # the last record, torn (its bytes never all reached the disk)
            raise RecordingError(f"{path}: record at byte {offset} fails its checksum")
        record = _unpack(payload)
        if record is None:
            raise RecordingError(
                f"{path}: record at byte {offset} is not a record "
                f"(expected [source in {SOURCES}, recv_unix, [frames]])"
            )
        offset = start + length
        yield record, offset


def read_records(path: str | Path) -> Generator[Record, None, None]:
    """The complete records of a recording, in order (a torn last record is skipped).

    Raises
    ------
    RecordingError
        Not a readable regular file, not a recording, or corrupt before its last record (the
        records before the corruption are yielded first).
    """
    path = Path(path)
    f, size = _open(path)
    try:
        for record, _ in _records(f, size, path):
            yield record
    finally:
        f.close()


def scan(path: str | Path) -> RecordingInfo:
    """Count the records of a recording and measure its torn tail, if any (one bounded pass).

    Raises
    ------
    RecordingError
        As :func:`read_records`.
    """
    path = Path(path)
    f, size = _open(path)
    count, end = 0, len(MAGIC)
    try:
        for _, offset in _records(f, size, path):
            count, end = count + 1, offset
    finally:
        f.close()
    return RecordingInfo(records=count, end=end, torn_bytes=size - end)
