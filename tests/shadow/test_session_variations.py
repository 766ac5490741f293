"""The shadow session's emulated boards: its hidden variations."""

from __future__ import annotations

import numpy as np
import pytest

from twin.board.errors import BridgeConfigError
from twin.board.variation import HiddenVariation
from twin.shadow.session import EmulationSpec, make_emulator


def test_the_shadow_session_builds_lab_boards() -> None:
    """``EmulationSpec(variation="lab")`` (bench_false_alarms --variation lab) is a board with the
    lab's learning bias; an unknown variation is a one-line error."""
    emu = make_emulator(EmulationSpec(seed=1, variation="lab"))
    bias = emu.hidden["bias_v_per_s"]
    lab = HiddenVariation.lab()
    assert abs(np.mean(bias) - lab.bias_mean_v_per_s) < 4 * lab.bias_sigma_v_per_s / np.sqrt(32)
    assert np.all(make_emulator(EmulationSpec(seed=1)).hidden["bias_v_per_s"] == 0.0)
    with pytest.raises(BridgeConfigError, match="variation"):
        make_emulator(EmulationSpec(seed=1, variation="lab2"))
