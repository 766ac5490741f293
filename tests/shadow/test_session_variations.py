"""The shadow session's emulated boards: its hidden variations."""

from __future__ import annotations

import numpy as np
import pytest

from twin.board.errors import BridgeConfigError
from twin.shadow.session import EmulationSpec, make_emulator


def test_the_shadow_session_builds_lab_boards() -> None:
    """``EmulationSpec(variation="lab")`` (bench_false_alarms --variation lab) is a board with the
    lab's learning bias; an unknown variation is a one-line error."""
    emu = make_emulator(EmulationSpec(seed=1, variation="lab"))
    bias = emu.hidden["bias_v_per_s"]
    assert 0.2 < np.mean(bias) < 0.8
    assert np.all(make_emulator(EmulationSpec(seed=1)).hidden["bias_v_per_s"] == 0.0)
    with pytest.raises(BridgeConfigError, match="variation"):
        make_emulator(EmulationSpec(seed=1, variation="lab2"))
