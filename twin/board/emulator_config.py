"""Settings of an emulated board (:class:`EmulatorConfig`) and the board's default task.

Moved out of :mod:`twin.board.emulator` (which re-exports both names): the settings a lab fixes
before the board boots, kept apart from the board's running physics and command semantics.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from twin._validators import positive
from twin.board.commands import RATE_HZ_RANGE
from twin.board.errors import BridgeConfigError
from twin.board.variation import GATE_FULL_SCALE_V, Adc, HiddenVariation
from twin.physics.network_io import network_from_spec
from twin.physics.task import Task
from twin.physics.task_generators import allostery_task

__all__ = ["EmulatorConfig", "default_board_task"]


def default_board_task(network: str = "lattice:4x4:periodic", seed: int = 2) -> Task:
    """The board's allostery task on ``network`` (seed 2: a task the 4 x 4 board learns)."""
    net = network_from_spec(network)
    return allostery_task(net, rng=np.random.default_rng([seed, 0]))


def _rate_in_range(_inst: object, _attr: object, value: float) -> None:
    low, high = RATE_HZ_RANGE
    if not low <= value <= high:
        raise BridgeConfigError(f"rate_hz: expected {low:g} to {high:g} Hz, got {value!r}")


@attrs.frozen(kw_only=True)
class EmulatorConfig:
    """Settings of an emulated board.

    Parameters
    ----------
    board_id
        Name the board publishes.
    rate_hz
        Frames published per second of board time.
    eta, lam, step_s
        Nudge, power weight and learning step (s) at boot.
    variation
        Hidden component variation.
    node_adc, gate_adc
        ADCs of the node voltages (full scale 0.4532 V) and of the gate voltages.
    noise_delta_v2
        Learning-rule white noise (V^2 per 0.1 ms).
    reset_gate_v
        Gate voltage at boot and of ``reset_gates`` without arguments, V.
    inference_hold_s
        Default hold time of ``run_inference``, s.
    autostart
        Boot into training (else idle).
    """

    board_id: str = "emulated-board"
    rate_hz: float = attrs.field(
        default=1000.0, validator=[positive(BridgeConfigError), _rate_in_range]
    )
    eta: float = attrs.field(default=0.22, validator=positive(BridgeConfigError))
    lam: float = 0.0
    step_s: float = attrs.field(default=1e-4, validator=positive(BridgeConfigError))
    variation: HiddenVariation = attrs.field(factory=HiddenVariation)
    node_adc: Adc = attrs.field(factory=lambda: Adc(bits=10, sigma_v=2e-4))
    gate_adc: Adc = attrs.field(
        factory=lambda: Adc(bits=12, full_scale_v=GATE_FULL_SCALE_V, sigma_v=1e-3)
    )
    noise_delta_v2: float = 0.0
    reset_gate_v: float = 3.0
    inference_hold_s: float = attrs.field(default=0.01, validator=positive(BridgeConfigError))
    autostart: bool = True

    def evolve(self, **changes: Any) -> EmulatorConfig:
        return attrs.evolve(self, **changes)
