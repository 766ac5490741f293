"""Board commands as data: argument checking and the board's integer forms.

The lab's host sets eta as an 8-bit integer ``ETA`` with ``eta = ETA / 129`` and the learning
time per step in microseconds; :func:`parse_set_params` accepts either form (not both) and
returns physical values. Every checker raises :class:`~twin.board.errors.CommandRefused` with
code ``invalid`` and a one-line message naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from twin.board.errors import CommandRefused
from twin.physics.task import Task, task_from_dict

__all__ = [
    "COMMAND_NAMES",
    "ETA_DIVISOR",
    "RATE_HZ_RANGE",
    "READ_ONLY_COMMANDS",
    "VARIATION_NAMES",
    "eta_from_setting",
    "eta_setting",
    "parse_inference",
    "parse_load_task",
    "parse_reset_gates",
    "parse_set_params",
    "parse_start_training",
]

COMMAND_NAMES = (
    "load_task",
    "start_training",
    "stop_training",
    "set_params",
    "reset_gates",
    "run_inference",
)

#: Commands that do not change the desired state (no version bump).
READ_ONLY_COMMANDS = frozenset({"run_inference"})

#: Frame rates a board publishes at, Hz (``set_params`` and every ``--rate-hz``): from one frame
#: every 100 s to 100 kHz (the lab board's ADC reads at most ~10 kHz).
RATE_HZ_RANGE = (1e-2, 1e5)

#: The board's nudge setting: eta = ETA / 129 (ETA an 8-bit integer).
ETA_DIVISOR = 129

#: The emulated board's hidden-variation presets by name (``twin.board.variation.HiddenVariation``
#: ``.named``): ``none`` the nominal board, ``typical`` the shadow's calibration board, ``lab``
#: as imperfect as the lab's 4 x 4 board (a learning bias; issue 23). Here, not beside the
#: presets, so the command line lists them without loading the board's physics.
VARIATION_NAMES = ("none", "typical", "lab")


def eta_from_setting(eta_int: int) -> float:
    """Physical eta of the board's integer setting ``ETA`` (1..255)."""
    if isinstance(eta_int, bool) or not isinstance(eta_int, int | np.integer):
        raise CommandRefused("invalid", f"ETA: expected an integer 1..255, got {eta_int!r}")
    if not 1 <= int(eta_int) <= 255:
        raise CommandRefused("invalid", f"ETA: expected an integer 1..255, got {eta_int}")
    return int(eta_int) / ETA_DIVISOR


def eta_setting(eta: float) -> int:
    """The nearest integer setting ``ETA`` for a physical ``eta``."""
    return round(eta * ETA_DIVISOR)


def _number(
    args: Mapping[str, Any], key: str, *, low: float = 0.0, high: float = math.inf
) -> float:
    value = args[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandRefused("invalid", f"{key}: expected a number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and low < value <= high):
        raise CommandRefused(
            "invalid", f"{key}: expected a number in ({low:g}, {high:g}], got {value}"
        )
    return value


def _only(args: Mapping[str, Any], allowed: tuple[str, ...], name: str) -> None:
    extra = sorted(set(args) - set(allowed))
    if extra:
        raise CommandRefused(
            "invalid", f"{name}: unknown argument(s) {', '.join(extra)}; expected {allowed}"
        )


def parse_set_params(args: Mapping[str, Any]) -> dict[str, float]:
    """Physical settings of a ``set_params`` command: ``eta``, ``lam``, ``step_s``, ``rate_hz``."""
    _only(args, ("eta", "ETA", "lam", "step_s", "step_us", "rate_hz"), "set_params")
    if not args:
        raise CommandRefused("invalid", "set_params: give at least one of eta/ETA, lam, step")
    out: dict[str, float] = {}
    if "eta" in args and "ETA" in args:
        raise CommandRefused("invalid", "set_params: give eta or ETA, not both")
    if "step_s" in args and "step_us" in args:
        raise CommandRefused("invalid", "set_params: give step_s or step_us, not both")
    if "eta" in args:
        out["eta"] = _number(args, "eta", high=1.0)
    if "ETA" in args:
        out["eta"] = eta_from_setting(args["ETA"])
    if "lam" in args:
        value = args["lam"]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and value >= 0)
        ):
            raise CommandRefused("invalid", f"lam: expected a number >= 0, got {value!r}")
        out["lam"] = float(value)
    if "step_s" in args:
        out["step_s"] = _number(args, "step_s", high=1.0)
    if "step_us" in args:
        out["step_s"] = _number(args, "step_us", high=1e6) * 1e-6
    if "rate_hz" in args:
        out["rate_hz"] = _number(args, "rate_hz", high=RATE_HZ_RANGE[1])
        if out["rate_hz"] < RATE_HZ_RANGE[0]:
            raise CommandRefused(
                "invalid",
                f"rate_hz: expected at least {RATE_HZ_RANGE[0]:g} Hz, got {out['rate_hz']}",
            )
    return out


def parse_load_task(args: Mapping[str, Any], own: Task) -> Task:
    """The task of a ``load_task`` command, on the network of the board's task ``own``."""
    if set(args) != {"task"}:
        raise CommandRefused("invalid", "load_task: expected exactly one argument, task")
    network = own.network
    doc = args["task"]
    net_doc = doc.get("network") if isinstance(doc, Mapping) else None
    # The network must be the board's own, given inline: a spec (jammed:3000, file:PATH) would
    # make the board generate or read a network while it should be publishing.
    if not isinstance(net_doc, Mapping):
        raise CommandRefused(
            "invalid",
            "task: network: expected the board's own network as a twin.network/1 "
            "document (not a spec or file)",
        )
    if (
        net_doc.get("nodes") != network.n_nodes
        or len(net_doc.get("edges") or ()) != network.n_edges
    ):
        raise CommandRefused("invalid", "task: the network must be the board's own")
    try:
        task = task_from_dict(doc)
    except ValueError as exc:
        raise CommandRefused("invalid", f"task: {exc}") from None
    net = task.network
    if net.n_nodes != network.n_nodes or not np.array_equal(net.edges, network.edges):
        raise CommandRefused("invalid", "task: the network must be the board's own")
    if task.n_sources != own.n_sources:
        raise CommandRefused("invalid", f"task: the board has {own.n_sources} sources")
    return task


#: Training in rounds (``start_training`` with ``rounds``): mode -> overclamp flag.
ROUNDS_MODES = {"overclamp": True, "standard": False}


def parse_start_training(
    args: Mapping[str, Any],
) -> tuple[float | None, dict[str, Any] | None]:
    """Duration (s) of a ``start_training`` command (``None``: until stopped) and its rounds.

    The rounds, when given, are :class:`~twin.board.overclamp.ClampPolicy` keywords
    (``overclamp``, ``margin_v``, ``round_s_per_point``, ``max_rounds``; not ``eta``: the board's),
    or with ``decide: "step"`` (decisions at every learning step,
    :class:`~twin.board.stepwise.StepPolicy`) ``overclamp``, ``margin_v``, ``max_s``,
    ``decide_by_adc`` (the wire's ``adc``: decisions from the node ADC's readings) and ``decide``.
    """
    _only(args, ("duration_s", "rounds"), "start_training")
    if "duration_s" in args and "rounds" in args:
        raise CommandRefused("invalid", "start_training: give duration_s or rounds, not both")
    if "rounds" not in args:
        return (_number(args, "duration_s") if "duration_s" in args else None), None
    rounds = args["rounds"]
    if not isinstance(rounds, Mapping):
        raise CommandRefused("invalid", f"rounds: expected an object, got {rounds!r}")
    _only(rounds, ("mode", "decide", "margin_v", "round_s_per_point", "max_rounds", "max_s",
                   "adc"), "rounds")  # fmt: skip
    decide = rounds.get("decide", "round")
    if decide not in ("round", "step"):
        raise CommandRefused("invalid", f"rounds.decide: expected round or step, got {decide!r}")
    wrong = ("round_s_per_point", "max_rounds") if decide == "step" else ("max_s", "adc")
    for key in wrong:
        if key in rounds:
            raise CommandRefused("invalid", f"rounds.{key}: not with decide {decide}")
    mode = rounds.get("mode")
    if mode not in ROUNDS_MODES:
        raise CommandRefused(
            "invalid", f"rounds.mode: expected overclamp or standard, got {mode!r}"
        )
    out: dict[str, Any] = {"overclamp": ROUNDS_MODES[mode]}
    if "margin_v" in rounds:
        out["margin_v"] = _number(rounds, "margin_v", high=1.0)
    if "round_s_per_point" in rounds:
        out["round_s_per_point"] = _number(rounds, "round_s_per_point", high=60.0)
    if "max_rounds" in rounds:
        value = rounds["max_rounds"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
            raise CommandRefused(
                "invalid", f"rounds.max_rounds: expected an integer 1..10000, got {value!r}"
            )
        out["max_rounds"] = value
    if "max_s" in rounds:
        out["max_s"] = _number(rounds, "max_s", high=3600.0)
    if "adc" in rounds:
        if not isinstance(rounds["adc"], bool):
            raise CommandRefused("invalid", f"rounds.adc: expected true or false, got "
                                 f"{rounds['adc']!r}")  # fmt: skip
        out["decide_by_adc"] = rounds["adc"]
    if decide == "step":
        out["decide"] = "step"
    return None, out


def parse_reset_gates(
    args: Mapping[str, Any], n_edges: int, rails_v: tuple[float, float], default_v: float
) -> np.ndarray:
    """Gate voltages (V, ``(E,)``) of a ``reset_gates`` command, within the rails."""
    _only(args, ("gate_v",), "reset_gates")
    raw = args.get("gate_v", default_v)
    try:
        gates = np.asarray(raw, dtype=float)
        gates = np.broadcast_to(gates, (n_edges,)).copy() if gates.ndim == 0 else gates
    except (TypeError, ValueError):
        raise CommandRefused("invalid", f"gate_v: expected a number or {n_edges} numbers") from None
    if gates.shape != (n_edges,):
        raise CommandRefused("invalid", f"gate_v: expected {n_edges} values, got {gates.size}")
    lo, hi = rails_v
    if not np.all(np.isfinite(gates)) or np.any(gates < lo) or np.any(gates > hi):
        raise CommandRefused("invalid", f"gate_v: every value must lie in [{lo:g}, {hi:g}] V")
    return gates


def parse_inference(
    args: Mapping[str, Any], n_sources: int, default_hold_s: float, max_input_v: float
) -> tuple[np.ndarray, float]:
    """Inputs (V, ``(n_sources,)``) and hold time (s) of a ``run_inference`` command."""
    _only(args, ("inputs_v", "hold_s"), "run_inference")
    if "inputs_v" not in args:
        raise CommandRefused("invalid", "run_inference: missing argument inputs_v")
    try:
        inputs = np.asarray(args["inputs_v"], dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise CommandRefused("invalid", f"inputs_v: expected {n_sources} numbers") from None
    if inputs.size != n_sources:
        raise CommandRefused("invalid", f"inputs_v: expected {n_sources} values, got {inputs.size}")
    if not np.all(np.isfinite(inputs)) or np.any(np.abs(inputs) > max_input_v):
        raise CommandRefused("invalid", f"inputs_v: values must lie within +-{max_input_v:g} V")
    hold = _number(args, "hold_s", high=60.0) if "hold_s" in args else default_hold_s
    return inputs, hold
