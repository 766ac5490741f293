"""File fuzzers: sweep files (TOML), board recordings, run-document imports (JSON lines) and
calibration files mutated at random and run through the commands that read them (``twin sweep``,
``twin sweep status``, ``twin replay``, ``twin calibrate --record``, ``twin energy import`` then
``twin energy runs`` / ``show``, ``twin shadow --calibration``). Each case ends in exit 0 or 2
(one stderr line, no traceback) or at the start of its work (stubbed, tests/cli/argv_fuzz.py),
within seconds, and the input file is never changed.
Default: a fixed, derandomized set; ``make slow``: many more.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.argv_fuzz import WORK_ENTRY_POINTS, Started, import_everything
from twin.cli import _register, cli

_register()
import_everything()  # before any stub: a module imported under a stub would keep it
#: Cases of each deep run (make slow); $TWIN_FUZZ_EXAMPLES overrides.
DEEP_EXAMPLES = int(os.environ.get("TWIN_FUZZ_EXAMPLES", "2000"))
#: Wall time a deep run may take, s: thousands of cases on a shared machine outlast the suite's
#: 300 s per test (each case still has its own bound, which catches a hang).
DEEP_TIMEOUT_S = 1800

VALID_SWEEP = """name = "fuzz"
kind = "trainer"
realizations = 2
seed = 1
combine = "product"

[base]
task = "allostery"
steps = 20
network = "lattice:3x3:periodic"

[axes]
lam = [0.0, 1e-5]
eta = [0.001, 0.01]
"""

#: TOML values a mutation puts in place of a valid one.
ODD_TOKENS = [
    "nan", "inf", "-inf", "1e309", "-1", "0", "1e308", "9" * 5000, "9" * 25, '"x"', '""',
    "true", "[]", "{}", "{a = 1}", '"jammed:3000"', '"alostery"', '"lattice:1x1"',
    '"file:/etc/passwd"', '"sync:1e12"', "[" * 3000 + "]" * 3000, "[[1], [2]]", '"[/]"',
    "2026-01-01", "0x7fffffffffffffff", "1_000_000_000", '"\\u0000"', "[" + ", ".join(
        str(i) for i in range(2000)) + "]",
]  # fmt: skip
ODD_LINES = [
    "kind = \"twin\"", "realizations = 10000", "combine = \"zip\"", "timeout_s = -1",
    "[axes]\nsteps = [" + ", ".join(str(i + 1) for i in range(1000)) + "]\n"
    "n_records = [" + ", ".join(str(i + 1) for i in range(1000)) + "]",
    "bogus = 1", "[base]", "name = \"a/b\"", "\x00", "\xff", "lam = [nan]",
]  # fmt: skip


@st.composite
def sweep_text(draw: st.DrawFn) -> str:
    lines = VALID_SWEEP.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["value", "value", "delete", "insert", "duplicate"]))
        if action == "value" and "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}= {draw(st.sampled_from(ODD_TOKENS))}"
        elif action == "delete":
            del lines[i]
        elif action == "insert":
            lines.insert(i, draw(st.sampled_from(ODD_LINES)))
        else:
            lines.insert(i, lines[i])
        if not lines:
            break
    return "\n".join(lines) + "\n"


@pytest.fixture(autouse=True)
def stubs(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    def stub(*_args: Any, **_kwargs: Any) -> Any:
        raise Started

    for module, name in WORK_ENTRY_POINTS:
        monkeypatch.setattr(importlib.import_module(module), name, stub)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(args: list[str], protected: Path) -> str:
    before = _digest(protected)
    t0 = time.monotonic()
    result = CliRunner().invoke(cli, args, prog_name="twin", catch_exceptions=True)
    assert time.monotonic() - t0 < 10, args
    assert _digest(protected) == before, f"twin {args[:2]} changed its input"
    if isinstance(result.exception, Started):
        return "started"
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        raise AssertionError(f"twin {args[:2]} raised {exc!r}") from exc
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr)
    if result.exit_code == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr
        assert "Traceback" not in result.stderr
    return "ok" if result.exit_code == 0 else "refused"


FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _sweep_case(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    folder = tmp_path_factory.mktemp("sweep-fuzz")
    spec = folder / "s.toml"
    spec.write_text(text, encoding="utf-8", errors="surrogateescape")
    db = f"sqlite:///{folder}/l.db"
    _run(["sweep", str(spec), "--db", db], spec)
    _run(["sweep", "status", str(spec), "--db", db], spec)


@settings(FUZZ, max_examples=60)
@given(text=sweep_text())
def test_mutated_sweep_files(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    _sweep_case(tmp_path_factory, text)


@pytest.mark.slow
@pytest.mark.timeout(DEEP_TIMEOUT_S)
@settings(FUZZ, max_examples=DEEP_EXAMPLES, derandomize=False)
@given(text=sweep_text())
def test_mutated_sweep_files_deep(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    _sweep_case(tmp_path_factory, text)


def _recording(path: Path, frames: int = 12) -> None:
    from hw_bridge.protocol import encode_update
    from hw_bridge.recorder import Recorder
    from tests.bridge.conftest import SyntheticBoard

    source = SyntheticBoard()
    with Recorder(path, fsync_every_s=0.0) as rec:
        for i in range(frames):
            rec.write("sub", encode_update(source.state()), 1000.0 + i)


@st.composite
def recording_bytes(draw: st.DrawFn, valid: bytes) -> bytes:
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "set", "cut", "insert", "huge"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[i] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[i:]
        elif action == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:  # a length-like field claiming an enormous record
            data[i:i + 8] = draw(st.sampled_from([b"\xff" * 8, (2**45).to_bytes(8, "little"),
                                                  (2**45).to_bytes(8, "big")]))  # fmt: skip
    return bytes(data)


_VALID_RECORDING: list[bytes] = []


def _valid_recording(folder: Path) -> bytes:
    if not _VALID_RECORDING:
        path = folder / "valid.rec"
        _recording(path)
        _VALID_RECORDING.append(path.read_bytes())
    return _VALID_RECORDING[0]


def _recording_case(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("rec-fuzz")
    rec = folder / "r.rec"
    rec.write_bytes(data.draw(recording_bytes(_valid_recording(folder))))
    _run(["replay", str(rec), "--json"], rec)


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_mutated_recordings(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    _recording_case(tmp_path_factory, data)


@pytest.mark.slow
@pytest.mark.timeout(DEEP_TIMEOUT_S)
@settings(FUZZ, max_examples=DEEP_EXAMPLES, derandomize=False)
@given(data=st.data())
def test_mutated_recordings_deep(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    _recording_case(tmp_path_factory, data)


#: JSON values a mutation puts in place of a valid one in an import file.
ODD_JSON = [
    "1e300", "-1e15", "Infinity", "-Infinity", "NaN", "null", '""', '"[/]"', '"last"', "[]",
    "{}", "-1", "0", "1e308", "9" * 400, '"\\u0000"', "true", '"x" ' * 3, "[" * 2000 + "]" * 2000,
]  # fmt: skip

_VALID_IMPORT: list[str] = []


def _valid_import() -> str:
    """The JSON lines of a small complete run: start, samples, energies, stop."""
    import json

    from twin.documents import energy_doc, sample_doc, start_doc, stop_doc

    if not _VALID_IMPORT:
        start = start_doc(source="twin", kind="train", params={"steps": 2}, realizations=2)
        uid = start["uid"]
        docs: list[Any] = [
            start,
            sample_doc(uid, 0, 0.0, {"error": [1.0, 2.0], "free_power_w": [1e-3, 2e-3]}, step=0),
            sample_doc(uid, 1, 1e-4, {"error": [0.5, 1.0], "free_power_w": [1e-3, 2e-3]}, step=1),
            energy_doc(uid, 0, 0.0, 1e-4, 1e-6, component="free_network"),
            energy_doc(uid, 1, 0.0, 1e-4, 2e-6, component="clamped_network", realization=1),
            stop_doc(uid, status="complete"),
        ]
        _VALID_IMPORT.append("".join(json.dumps(d) + "\n" for d in docs))
    return _VALID_IMPORT[0]


@st.composite
def import_text(draw: st.DrawFn, valid: str) -> str:
    import re

    lines = valid.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["value", "value", "delete", "duplicate", "cut"]))
        if action == "value":
            spans = [m.span(1) for m in re.finditer(r':\s*("[^"]*"|[-0-9.eE+]+|true|false|null)',
                                                   lines[i])]  # fmt: skip
            if spans:
                a, b = draw(st.sampled_from(spans))
                lines[i] = lines[i][:a] + draw(st.sampled_from(ODD_JSON)) + lines[i][b:]
        elif action == "delete" and len(lines) > 1:
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        else:
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return "\n".join(lines) + "\n"


def _import_case(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("import-fuzz")
    src = folder / "run.jsonl"
    src.write_text(data.draw(import_text(_valid_import())))
    db = f"sqlite:///{folder}/ledger.db"
    skip = data.draw(st.sampled_from([[], ["--skip-bad-lines"]]))
    _run(["energy", "import", str(src), *skip, "--db", db], src)
    if (folder / "ledger.db").exists():  # whatever was accepted must read back cleanly
        _run(["energy", "runs", "--db", db], src)
        _run(["energy", "show", "last", "--db", db], src)


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_mutated_imports(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    _import_case(tmp_path_factory, data)


@pytest.mark.slow
@pytest.mark.timeout(DEEP_TIMEOUT_S)
@settings(FUZZ, max_examples=DEEP_EXAMPLES, derandomize=False)
@given(data=st.data())
def test_mutated_imports_deep(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    _import_case(tmp_path_factory, data)


_VALID_CALIBRATION: list[str] = []


def _valid_calibration() -> str:
    """A twin.calibration/1 file of the 4 x 4 board (nominal values; one JSON line)."""
    import json

    if not _VALID_CALIBRATION:
        n = 32
        doc = {
            "schema": "twin.calibration/1", "board_id": "emulated-board", "n_edges": n,
            "created_unix": 1.8e9, "code_version": "0.1.0",
            "source": {"kind": "emulator", "seed": "0", "episodes": 6, "episode_s": 1.0},
            "edges": {"v_t_v": [0.65] * n, "a_free_per_v": [1.0] * n, "a_clamp_per_v": [1.0] * n,
                      "tau_leak_s": [None] * (n - 1) + [50.0], "v_rest_v": [0.0] * n},
            "fit": {"dynamics_fitted": [True] * n, "drift_v_per_s": [0.0] * n},
            "spread": {"floor_v": [0.002] * n, "slope_v_per_s": [0.01] * n, "rel": [0.05] * n},
            "report": {"prediction": {"calibrated": {"gate_rms_v": 0.004}}},
        }  # fmt: skip
        _VALID_CALIBRATION.append(json.dumps(doc) + "\n")
    return _VALID_CALIBRATION[0]


def _calibration_case(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("calibration-fuzz")
    path = folder / "cal.json"
    path.write_text(data.draw(import_text(_valid_calibration())))
    _run(["shadow", "--emulate", "--calibration", str(path), "--duration", "1", "--no-db"], path)


def test_the_valid_calibration_of_the_fuzzer_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    path.write_text(_valid_calibration())
    assert _run(["shadow", "--emulate", "--calibration", str(path), "--no-db"], path) == "started"


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_mutated_calibrations(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    _calibration_case(tmp_path_factory, data)


@pytest.mark.slow
@pytest.mark.timeout(DEEP_TIMEOUT_S)
@settings(FUZZ, max_examples=DEEP_EXAMPLES, derandomize=False)
@given(data=st.data())
def test_mutated_calibrations_deep(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    _calibration_case(tmp_path_factory, data)
