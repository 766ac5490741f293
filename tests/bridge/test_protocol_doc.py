"""schemas/PROTOCOL.md's worked example is what the codec really produces (no drift)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hw_bridge import BoardState
from hw_bridge.protocol import encode_heartbeat, encode_update

ROOT = Path(__file__).resolve().parents[2]


def hexdump(data: bytes) -> str:
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:04x}  {hexes:<47}  {text}")
    return "\n".join(lines)


def example_frames() -> dict[str, list[bytes]]:
    """The frames of the document's example: a heartbeat and a small update."""
    heartbeat = encode_heartbeat(
        board_id="lab-board-1",
        epoch=0x1122334455667788,
        seq=42,
        t_s=12.5,
        wall_unix=1764590400.25,
        period_s=0.1,
    )
    update = encode_update(
        BoardState(
            board_id="lab-board-1",
            epoch=0x1122334455667788,
            seq=43,
            t_s=12.5001,
            wall_unix=1764590400.2501,
            mode="training",
            gate_v=np.linspace(1.0, 4.1, 32),
            v_free_v=np.linspace(0.0, 0.45, 16),
            v_clamped_v=np.linspace(0.01, 0.46, 16),
            inputs_v=[0.2, 0.3],
            targets_v=[0.1],
            eta=28 / 129,
            lam=0.0,
        )
    )
    return {"heartbeat": heartbeat, "update": update}


def example_text() -> str:
    parts = []
    for name, frames in example_frames().items():
        for i, part in enumerate(frames):
            label = "topic" if i == 0 else "header" if i == 1 else f"buffer {i - 2}"
            shown = part if i < 3 or name == "heartbeat" else part[:16]
            more = "" if shown is part else f"\n... ({len(part)} bytes in all)"
            parts.append(f"{name} part {i} ({label}, {len(part)} bytes):\n{hexdump(shown)}{more}")
    return "\n\n".join(parts)


def test_protocol_document_shows_the_real_frames() -> None:
    doc = (ROOT / "schemas" / "PROTOCOL.md").read_text()
    assert example_text() in doc, "regenerate the example: python -m tests.bridge.test_protocol_doc"


if __name__ == "__main__":
    print(example_text())  # noqa: T201
