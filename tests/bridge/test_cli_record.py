"""``twin record`` / ``twin replay``: a live board recorded, replayed, and one-line errors."""

from __future__ import annotations

import json

from tests.helpers import run_cli as run
from tests.helpers import undocumented_keys

from .conftest import SyntheticBoard, feeding


def test_record_then_replay(capsys, tmp_path, make_publisher) -> None:
    pub, source = make_publisher("lab-1"), SyntheticBoard()
    pub.publish(source.state())
    out_file = tmp_path / "s.rec"
    with feeding(pub, source):
        code, out, err = run(
            capsys,
            "record",
            "--connect",
            pub.endpoints.base,
            "--out",
            str(out_file),
            "--duration",
            "0.4",
            "--json",
        )
    assert code == 0, err
    recorded = json.loads(out.strip().splitlines()[-1])
    assert recorded["board_id"] == "lab-1"
    assert recorded["updates"] > 50
    assert recorded["records"] >= recorded["frames"]
    code, out, err = run(capsys, "replay", str(out_file), "--json")
    assert code == 0, err
    replayed = json.loads(out.strip().splitlines()[-1])
    assert replayed["records"] == recorded["records"]
    assert replayed["updates"] == recorded["updates"]
    assert replayed["gaps_detected"] == recorded["gaps_detected"]
    assert replayed["resync_reasons"]["initial"] == 1
    assert undocumented_keys([*recorded, *replayed, *replayed["resync_reasons"]]) == []
    code, out, _ = run(capsys, "replay", str(out_file))
    assert code == 0
    assert "replayed" in out


def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path) -> None:
    not_rec = tmp_path / "x.rec"
    not_rec.write_text("hello")
    cases = [
        ("replay", str(not_rec)),
        ("replay", str(tmp_path / "missing.rec")),
        ("record", "--connect", "udp://nowhere:1", "--out", str(tmp_path / "o.rec")),
        ("replay", str(not_rec), "--speed", "-1"),
    ]
    for args in cases:
        code, _, err = run(capsys, *args)
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1, err
        assert "error" in err
