"""The emulated board's command handlers, moved out of :mod:`twin.board.emulator`.

:data:`HANDLERS` maps each command of the contract to a function ``(emulator, args) -> result``
that applies it at the board's current time; :meth:`~twin.board.emulator.BoardEmulator.execute`
dispatches to it after the name check and bumps the desired-state version. A handler raises
:class:`~twin.board.errors.CommandRefused` for arguments it cannot apply. The argument checks
themselves live in :mod:`twin.board.commands`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.board.circuit import BoardCircuit
from twin.board.commands import (
    eta_setting,
    parse_inference,
    parse_load_task,
    parse_reset_gates,
    parse_set_params,
    parse_start_training,
)
from twin.board.errors import BridgeConfigError, CommandRefused
from twin.board.overclamp import ClampPolicy
from twin.board.rounds import end_rounds, start_rounds
from twin.board.stepwise import StepPolicy, StepwiseRun
from twin.board.stepwise_board import start_stepwise

if TYPE_CHECKING:  # the emulator dispatches to these handlers: no import at run time
    from twin.board.emulator import BoardEmulator

__all__ = ["HANDLERS"]

Result = dict[str, Any]


def load_task(emu: BoardEmulator, args: Mapping[str, Any]) -> Result:
    task = parse_load_task(args, emu.task)
    end_rounds(emu)
    own = emu.task.network
    emu.task = task
    emu.circuit = BoardCircuit(task)
    emu.inference = None
    emu.following = None
    emu.mode = "idle"
    emu.track.restart(
        emu.t_s, np.full(own.n_edges, emu.config.reset_gate_v), task=task, mode="idle"
    )
    return {}


def start_training(emu: BoardEmulator, args: Mapping[str, Any]) -> Result:
    duration, rounds = parse_start_training(args)
    if rounds is not None:
        emu.train_until_s = np.inf
        task = emu.rounds.task if emu.rounds is not None else emu.task
        try:
            if rounds.pop("decide", "round") == "step":
                step = StepPolicy(eta=emu.eta, step_s=emu.step_s, **rounds)
                rng = emu.decision_rng() if step.decide_by_adc else None
                run = start_stepwise(emu, task, step, rng=rng)
                return {"error_fraction": run.result().error_fraction, "perfect": False}
            result = start_rounds(emu, task, ClampPolicy(eta=emu.eta, **rounds))
        except BridgeConfigError as exc:
            raise CommandRefused("invalid", f"rounds: {exc}") from None
        return {"error_fraction": result.error_fraction[0], "perfect": result.perfect}
    if emu.rounds is not None:  # plain training of the full task instead
        end_rounds(emu)
        emu.following = None
    emu.train_until_s = emu.t_s + duration if duration is not None else np.inf
    if emu.inference is not None:
        emu.resume_mode = "training"
    elif emu.mode != "training":
        emu.set_mode("training")
    return {}


def stop_training(emu: BoardEmulator, args: Mapping[str, Any]) -> Result:
    if args:
        raise CommandRefused("invalid", "stop_training: takes no arguments")
    end_rounds(emu)
    emu.train_until_s = np.inf
    emu.following = None
    if emu.inference is not None:
        emu.resume_mode = "idle"
    elif emu.mode != "idle":
        emu.set_mode("idle")
    return {}


def set_params(emu: BoardEmulator, args: Mapping[str, Any]) -> Result:
    values = parse_set_params(args)
    emu.eta = values.get("eta", emu.eta)
    emu.lam = values.get("lam", emu.lam)
    emu.step_s = values.get("step_s", emu.step_s)
    if "rate_hz" in values:
        emu.rate_hz = values["rate_hz"]
        emu.restart_frames()
    emu.track.restart(emu.t_s, eta=emu.eta, lam=emu.lam, step_s=emu.step_s)
    return {
        "eta": emu.eta,
        "ETA": eta_setting(emu.eta),
        "lam": emu.lam,
        "step_s": emu.step_s,
        "rate_hz": emu.rate_hz,
    }


def reset_gates(emu: BoardEmulator, args: Mapping[str, Any]) -> Result:
    cols = emu.edges.columns(emu.task.network.n_edges)
    rails = (float(np.max(cols["v_min_v"])), float(np.min(cols["v_max_v"])))
    gates = parse_reset_gates(args, emu.task.network.n_edges, rails, emu.config.reset_gate_v)
    end_rounds(emu)
    emu.train_until_s = np.inf
    emu.inference = None
    emu.following = None
    emu.mode = "idle"
    emu.track.write_gates(emu.t_s, gates, mode="idle")  # books the charging: C dV^2 / 2
    return {}


def run_inference(emu: BoardEmulator, args: Mapping[str, Any]) -> Result:
    if isinstance(emu.rounds, StepwiseRun):
        raise CommandRefused("invalid", "run_inference: the board is training point by point")
    inputs, hold_s = parse_inference(args, emu.task.n_sources, emu.config.inference_hold_s, 1.0)
    if emu.inference is None:
        emu.resume_mode = emu.mode
        emu.mode = "inference"
        emu.track.restart(emu.t_s, mode="idle")
    nodes, power_w = emu.circuit.free_response(emu.edges.device, emu.track.gates(), inputs)
    emu.inference = {"until_s": emu.t_s + hold_s, "nodes": nodes, "inputs": inputs}
    return {
        "outputs_v": emu.read_nodes_v(nodes[emu.task.targets], emu.task.targets).tolist(),
        "energy_j": power_w * hold_s,
        "power_w": power_w,
        "hold_s": hold_s,
    }


#: The handler of each command.
HANDLERS: dict[str, Callable[[BoardEmulator, Mapping[str, Any]], Result]] = {
    "load_task": load_task,
    "start_training": start_training,
    "stop_training": stop_training,
    "set_params": set_params,
    "reset_gates": reset_gates,
    "run_inference": run_inference,
}
