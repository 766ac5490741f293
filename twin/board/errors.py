"""Exceptions of the hardware bridge.

Every error subclasses :class:`BridgeError` (itself a :class:`twin.errors.TwinError`, so the CLI
prints it as a one-line error) and the built-in it really is, so callers can catch either.
"""

from __future__ import annotations

from twin.errors import TwinError

__all__ = [
    "BridgeClosed",
    "BridgeConfigError",
    "BridgeError",
    "BridgeTimeout",
    "CommandRefused",
    "DecodeError",
    "EncodeError",
    "ProtocolVersionError",
    "RecordingError",
]


class BridgeError(TwinError):
    """Base class of every error raised by ``hw_bridge``."""


class BridgeConfigError(BridgeError, ValueError):
    """A bridge setting is malformed (endpoint, limit, key file)."""


class BridgeTimeout(BridgeError, TimeoutError):
    """The peer did not answer in time (snapshot, command acknowledgement)."""


class BridgeClosed(BridgeError, RuntimeError):
    """The board or publisher was used after :meth:`close`."""


class EncodeError(BridgeError, ValueError):
    """A message cannot be encoded (missing field, wrong shape, over a limit)."""


class DecodeError(BridgeError, ValueError):
    """A frame is not a valid message: every decoding failure raises this or a subclass."""


class ProtocolVersionError(DecodeError):
    """The peer speaks another protocol version (the message names both)."""


class CommandRefused(BridgeError, ValueError):
    """A command handler refuses a command; ``code`` becomes the acknowledgement's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[type[CommandRefused], tuple[str, str]]:
        return type(self), (self.code, str(self))


class RecordingError(BridgeError, ValueError):
    """A recording file is not a recording, or is corrupt before its last record."""
