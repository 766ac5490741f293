"""Board-side command handling: argument checks, idempotency, desired-state version.

A :class:`CommandDesk` owns the board's configuration (what a snapshot carries) and answers each
:class:`~twin.board.contract.Command` with an :class:`~twin.board.contract.Ack`:

1. a key seen before gets the remembered ack again (never applied twice);
2. a ``desired_version`` other than the current one is refused as ``stale``;
3. the arguments are validated against ``$defs/<name>_args`` of ``messages.schema.json`` and the
   board's integer forms converted (``ETA`` -> ``eta = ETA/129``, ``step_us`` -> ``step_s``);
4. the lab's handler applies the command; on success the configuration records it and every
   command but ``run_inference`` increments the desired-state version.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs
import jsonschema

from hw_bridge._messages import SCHEMA
from hw_bridge.protocol import encode_ack
from twin.board.commands import ETA_DIVISOR, READ_ONLY_COMMANDS
from twin.board.contract import Ack, BoardConfig, Command
from twin.board.errors import CommandRefused, EncodeError

__all__ = ["ETA_DIVISOR", "CommandDesk", "CommandHandler", "normalize_command"]

log = logging.getLogger("hw_bridge.server")

_ARG_VALIDATORS = {
    name: jsonschema.Draft202012Validator(SCHEMA["$defs"][f"{name}_args"])
    for name in SCHEMA["$defs"]["command"]["properties"]["name"]["enum"]
}


class CommandHandler(Protocol):
    """Applies a command on the board; returns its result (or None), or raises CommandRefused."""

    def __call__(self, command: Command) -> Mapping[str, Any] | None: ...


def normalize_command(command: Command) -> Command:
    """Validate a command's arguments against the schema and convert the board's forms.

    ``set_params`` accepts ``ETA`` (the board's integer, eta = ETA/129) or ``eta``, and
    ``step_us`` (microseconds) or ``step_s``; the result carries only ``eta`` and ``step_s``.

    Raises
    ------
    CommandRefused
        With code ``invalid``, naming the offending argument.
    """
    validator = _ARG_VALIDATORS.get(command.name)
    if validator is None:
        raise CommandRefused("invalid", f"unknown command {command.name!r}")
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(command.args)))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "args"
        raise CommandRefused("invalid", f"{command.name}.{where}: {error.message}")
    if command.name != "set_params":
        return command
    args = dict(command.args)
    for physical, board, scale in (("eta", "ETA", 1.0 / ETA_DIVISOR), ("step_s", "step_us", 1e-6)):
        if physical in args and board in args:
            raise CommandRefused("invalid", f"set_params: give {physical} or {board}, not both")
        if board in args:
            args[physical] = args.pop(board) * scale
    return attrs.evolve(command, args=args)


class CommandDesk:
    """The board's configuration and its command answering (see the module docstring).

    Parameters
    ----------
    config : BoardConfig
        Initial configuration (its ``version`` is the initial desired-state version).
    handler : CommandHandler, optional
        Applies commands; without one every command is refused with code ``unsupported``.
    cache_size : int
        Number of acks remembered by key.
    """

    def __init__(
        self,
        config: BoardConfig,
        handler: CommandHandler | Callable[[Command], Mapping[str, Any] | None] | None,
        *,
        cache_size: int = 4096,
    ) -> None:
        self._config = config
        self._handler = handler
        self._cache_size = cache_size
        self._acks: OrderedDict[str, Ack] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = {"commands": 0, "acks_replayed": 0}

    @property
    def config(self) -> BoardConfig:
        with self._lock:
            return self._config

    def update(self, **changes: Any) -> BoardConfig:
        """Replace configuration fields (``params`` are merged); the version is kept."""
        with self._lock:
            cfg = self._config
            if "params" in changes:
                changes["params"] = {**cfg.params, **changes["params"]}
            self._config = attrs.evolve(cfg, **changes)
            return self._config

    def take(self, command: Command) -> Ack:
        """The ack of ``command``: remembered, refused, or from applying it."""
        cached = self._acks.get(command.key)
        if cached is not None:
            self.stats["acks_replayed"] += 1
            return cached
        self.stats["commands"] += 1
        ack = self._apply(command)
        try:
            encode_ack(ack, board_id="", board_unix=0.0)
        except EncodeError as exc:
            message = f"applied, but its result cannot be sent: {exc}"
            ack = attrs.evolve(ack, ok=False, code="failed", message=message, result={})
        self._acks[command.key] = ack
        while len(self._acks) > self._cache_size:
            self._acks.popitem(last=False)
        return ack

    def _apply(self, command: Command) -> Ack:
        version = self.config.version
        key = command.key
        if command.version is not None and command.version != version:
            message = f"desired_version {command.version} is stale: the board is at {version}"
            return Ack(key=key, ok=False, code="stale", message=message, version=version)
        if self._handler is None:
            message = "this board takes no commands"
            return Ack(key=key, ok=False, code="unsupported", message=message, version=version)
        try:
            command = normalize_command(command)
            result = dict(self._handler(command) or {})
        except CommandRefused as exc:
            return Ack(key=key, ok=False, code=exc.code, message=str(exc), version=version)
        except Exception as exc:  # a lab's handler failing must not kill the board's I/O thread
            log.exception("command %s failed", command.name)
            message = f"{type(exc).__name__}: {exc}"
            return Ack(key=key, ok=False, code="failed", message=message, version=version)
        return Ack(key=key, ok=True, version=self._accept(command), result=result)

    def _accept(self, command: Command) -> int:
        """Record an applied command in the configuration; the new desired-state version."""
        with self._lock:
            cfg = self._config
            if command.name in READ_ONLY_COMMANDS:
                return cfg.version
            task = command.args["task"] if command.name == "load_task" else cfg.task
            params = {**cfg.params, **command.args} if command.name == "set_params" else cfg.params
            self._config = attrs.evolve(cfg, task=task, params=params, version=cfg.version + 1)
            return self._config.version
