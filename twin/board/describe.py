"""What an emulated board tells a late joiner, moved out of :mod:`twin.board.emulator`.

:func:`board_config` builds the :class:`~twin.board.contract.BoardConfig` of a
:class:`~twin.board.emulator.BoardEmulator`: its network, task, parameters in physical units and
desired-state version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twin.board.commands import eta_setting
from twin.board.contract import BoardConfig
from twin.physics.network_io import network_to_dict
from twin.physics.task import task_to_dict

if TYPE_CHECKING:  # the emulator describes itself here: no import at run time
    from twin.board.emulator import BoardEmulator

__all__ = ["board_config"]


def board_config(emu: BoardEmulator) -> BoardConfig:
    """The configuration a late joiner needs (network, task, parameters, version)."""
    params = {
        "eta": emu.eta,
        "ETA": eta_setting(emu.eta),
        "lam": emu.lam,
        "step_s": emu.step_s,
        "rate_hz": emu.rate_hz,
        "node_full_scale_v": emu.config.node_adc.full_scale_v,
        "node_adc_bits": emu.config.node_adc.bits,
        "gate_adc_bits": emu.config.gate_adc.bits,
        "reset_gate_v": emu.config.reset_gate_v,
        "model": "transistor",
    }
    return BoardConfig(
        board_id=emu.config.board_id,
        epoch=emu.epoch,
        network=network_to_dict(emu.task.network),
        task=task_to_dict(emu.task),
        params=params,
        version=emu.version,
    )
