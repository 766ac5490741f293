"""Nothing recorded is lost: corruption is reported with its offset, never taken for a torn tail;
``twin record`` never truncates or rewrites a file it did not create; reads are bounded."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from hw_bridge.protocol import encode_update
from hw_bridge.recorder import MAGIC, Recorder, Replayer, read_records, scan
from hw_bridge.recording_file import MAX_RECORD_BYTES
from tests.helpers import one_line_error
from tests.helpers import run_cli as run
from twin.board.errors import RecordingError

from .conftest import SyntheticBoard, feeding

ROOT = Path(__file__).resolve().parents[2]
DEAD = "tcp://127.0.0.1:9"  # discard port: nothing listens


def _write(path: Path, n: int) -> list[int]:
    """A recording of ``n`` updates; the byte offsets of its records."""
    source = SyntheticBoard()
    with Recorder(path, fsync_every_s=0.0) as rec:
        for i in range(n):
            rec.write("sub", encode_update(source.state()), 1000.0 + i)
    offsets, offset, data = [], len(MAGIC), path.read_bytes()
    while offset < len(data):
        offsets.append(offset)
        offset += 8 + struct.unpack_from("<I", data, offset)[0]
    return offsets


def _set_length(path: Path, offset: int, length: int) -> bytes:
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, offset, length)
    path.write_bytes(bytes(data))
    return bytes(data)


@pytest.mark.parametrize("length", [2**32 - 1, MAX_RECORD_BYTES, 0])
def test_a_bad_length_in_the_middle_is_corruption_with_its_offset(
    tmp_path: Path, length: int
) -> None:
    path = tmp_path / "a.rec"
    offsets = _write(path, 40)
    bad = offsets[3]
    length = length or path.stat().st_size - bad - 7  # 0: one byte more than is left
    data = _set_length(path, bad, length)  # runs past the end of the file
    with pytest.raises(RecordingError, match=f"record at byte {bad} claims {length} bytes"):
        scan(path)
    got = []
    with pytest.raises(RecordingError, match=f"byte {bad}"):
        got.extend(read_records(path))
    assert len(got) == 3  # the records before it, then the error
    with pytest.raises(RecordingError, match=f"byte {bad}"):
        Recorder(path, mode="append")
    with pytest.raises(RecordingError, match=f"byte {bad}"):
        Replayer(path, speed=None)
    assert path.read_bytes() == data  # nothing truncated


def test_a_bad_length_in_the_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "a.rec"
    offsets = _write(path, 10)
    _set_length(path, offsets[-1], 2**32 - 1)
    info = scan(path)
    assert (info.records, info.end) == (9, offsets[-1])
    assert len(list(read_records(path))) == 9


def test_record_refuses_an_existing_file_and_keeps_it(capsys, tmp_path: Path) -> None:
    path = tmp_path / "old.rec"
    _write(path, 30)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    code, _, err = run(capsys, "record", "--connect", DEAD, "--out", str(path))
    one_line_error(code, err, str(path), "exists", "--append", "--overwrite")
    other = tmp_path / "notes.txt"
    other.write_text("keep me\n")
    code, _, err = run(capsys, "record", "--connect", DEAD, "--out", str(other), "--append")
    one_line_error(code, err, "not a recording")
    code, _, err = run(capsys, "record", "--connect", DEAD, "--out", str(path), "--append",
                       "--overwrite")  # fmt: skip
    one_line_error(code, err, "--append", "--overwrite")
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert other.read_text() == "keep me\n"


def test_record_append_refuses_a_corrupt_recording_untouched(capsys, tmp_path: Path) -> None:
    path = tmp_path / "old.rec"
    offsets = _write(path, 30)
    data = _set_length(path, offsets[2], 2**32 - 1)
    code, _, err = run(capsys, "record", "--connect", DEAD, "--out", str(path), "--append")
    one_line_error(code, err, f"byte {offsets[2]}")
    assert path.read_bytes() == data


def test_record_leaves_no_file_when_it_cannot_join(capsys, tmp_path: Path) -> None:
    path = tmp_path / "new.rec"
    code, _, err = run(capsys, "record", "--connect", DEAD, "--out", str(path))
    one_line_error(code, err, DEAD, "nothing listens there")  # the endpoint probe
    assert not path.exists()
    code, _, err = run(capsys, "record", "--connect", DEAD, "--out", str(tmp_path / "no" / "r.rec"))
    one_line_error(code, err, "does not exist")


def test_replay_of_a_corrupt_recording_fails_inone_line_error(capsys, tmp_path: Path) -> None:
    path = tmp_path / "a.rec"
    offsets = _write(path, 40)
    _set_length(path, offsets[1], 2**32 - 1)
    code, out, err = run(capsys, "replay", str(path), "--json")
    one_line_error(code, err, str(path), f"byte {offsets[1]}")
    assert out == ""


def test_record_append_and_overwrite_with_a_live_board(capsys, tmp_path, make_publisher) -> None:
    pub, source = make_publisher("lab-2"), SyntheticBoard()
    pub.publish(source.state())
    path = tmp_path / "s.rec"
    args = ("record", "--connect", pub.endpoints.base, "--out", str(path), "--duration", "0.2",
            "--json")  # fmt: skip
    with feeding(pub, source):
        code, out, err = run(capsys, *args)
        assert code == 0, err
        first = json.loads(out.strip().splitlines()[-1])["records"]
        code, out, err = run(capsys, *args, "--append")
        assert code == 0, err
        assert json.loads(out.strip().splitlines()[-1])["records"] > first  # counts the old ones
        appended = scan(path).records
        code, out, err = run(capsys, *args, "--overwrite")
        assert code == 0, err
    assert 0 < scan(path).records < appended


def _replay_in_a_process(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TWIN_DB_URL": "off"}
    return subprocess.run(
        [sys.executable, "-m", "twin", "replay", str(path)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_fifo_and_a_device_are_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.rec"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    for path in (fifo, Path("/dev/zero")):
        done = _replay_in_a_process(path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().endswith("a recording is a file written by twin record")
        assert len(done.stderr.strip().splitlines()) == 1


def test_a_huge_sparse_recording_is_read_in_bounded_memory(capsys, tmp_path: Path) -> None:
    path = tmp_path / "sparse.rec"
    _write(path, 5)
    with open(path, "r+b") as f:
        f.truncate(20 * 2**30)  # 20 GB, a hole after five records: zeros are no record
    code, _, err = run(capsys, "replay", str(path))
    one_line_error(code, err, "is not a record")
