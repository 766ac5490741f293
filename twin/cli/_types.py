"""The option types every ``twin`` command shares: one definition of a seed, a duration, a rate,
a port, an endpoint, a fault and an output path, each with its physical range.

A value outside its range is a one-line usage error naming the option (exit code 2) before the
command does any work. Where the library has its own validator (endpoints:
:meth:`hw_bridge._sockets.Endpoints.from_base`; faults: :func:`twin.board.inprocess.parse_fault`;
frame rates: :data:`twin.board.commands.RATE_HZ_RANGE`) the type calls it, so the command line
and the library cannot disagree.
"""

from __future__ import annotations

import ipaddress
import math
import os
import stat
from pathlib import Path
from typing import Any

import click

from ..board.commands import RATE_HZ_RANGE, VARIATION_NAMES

__all__ = [
    "DURATION_S",
    "IDLE_S",
    "IDLE_S_HELP",
    "LIMIT",
    "MAX_DURATION_S",
    "MAX_SEED",
    "PORT",
    "RATE_HZ",
    "SCHEDULER",
    "SEED",
    "VARIATION",
    "VARIATION_HELP",
    "Endpoint",
    "FaultSpec",
    "FiniteRange",
    "OutputDir",
    "OutputFile",
    "SchedulerAddress",
    "check_output_dir",
    "check_output_file",
    "idle_s_option",
    "is_loopback",
    "warn_if_exposed",
]

#: Largest seed (int64), for every ``--seed``.
MAX_SEED = 2**63 - 1
#: The ``--seed`` type: an integer in [0, 2^63 - 1].
SEED = click.IntRange(0, MAX_SEED)
#: Every ``--variation`` of an emulated board: a preset of
#: :meth:`twin.board.variation.HiddenVariation.named` (the library's list of names).
VARIATION = click.Choice(VARIATION_NAMES)
#: Its help: what each preset hides.
VARIATION_HELP = (
    "Hidden component variation of the emulated board: none (nominal), typical (5 % gains, "
    "20 mV thresholds, 10 % capacitors, 20-200 s leaks, comparator offsets) or lab (as imperfect "
    "as the lab's 4x4 board: typical with a learning bias of 1.5 +- 1.5 V/s per edge, equal free "
    "and clamped gains at half gain)."
)
#: Rows a query lists (0: all); bounded by what a database integer holds (2^63 - 1).
LIMIT = click.IntRange(0, 2**63 - 1)
#: Longest ``--duration`` of any command, s (about 116 days; each command's work estimate
#: refuses far less unless forced).
MAX_DURATION_S = 1e7
#: Directories whose files are not data: writing there is refused.
_SPECIAL_ROOTS = ("/proc", "/sys", "/dev")
#: Files under :data:`_SPECIAL_ROOTS` an output may still name.
_SINKS = ("/dev/null",)


class FiniteRange(click.FloatRange):
    """A float in a range, also refusing ``nan`` and infinities; the range shows in ``--help``."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


#: Every ``--duration`` (board, simulated or wall seconds): finite, > 0, at most 1e7 s.
DURATION_S = FiniteRange(0, MAX_DURATION_S, min_open=True)
#: Every calibration's ``--idle-s`` (twin calibrate, twin shadow --calibrate): idle hold before
#: each episode, s, in [0, 3600].
IDLE_S = FiniteRange(0.0, 3600.0)
#: Its help.
IDLE_S_HELP = (
    "Hold the board idle this long before each calibration episode, s: the fit then separates "
    "each edge's learning bias from its leak (0: the bias is the drift beyond the leak's pull to "
    "the nominal rest voltage)."
)


def idle_s_option(scope: str) -> Any:
    """The ``--idle-s`` option of a calibration (``IDLE_S``, default 0), its help ended by
    ``scope`` (which other options it needs)."""
    return click.option(
        "--idle-s", type=IDLE_S, default=0.0, show_default=True, help=f"{IDLE_S_HELP} {scope}"
    )


#: Every frame rate (``--rate-hz``): a board publishes between 0.01 Hz and 100 kHz.
RATE_HZ = FiniteRange(*RATE_HZ_RANGE)
#: A TCP port (0: any free port).
PORT = click.IntRange(0, 65535)


def is_loopback(endpoint: str) -> bool:
    """Whether a ``tcp://HOST:PORT`` endpoint stays on this machine (ipc/inproc always do)."""
    if not endpoint.startswith("tcp://"):
        return True
    host = endpoint[len("tcp://") :].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Endpoint(click.ParamType):
    """A board's base endpoint, ``tcp://HOST:PORT``, ``ipc://PATH`` or ``inproc://NAME``.

    Checked by the wire's own parser (:meth:`hw_bridge._sockets.Endpoints.from_base`). ``bind``:
    a wildcard host (``*``) and port 0 are allowed (a non-loopback address is warned about by
    :func:`warn_if_exposed` once every option is checked).
    """

    name = "endpoint"

    def __init__(self, *, bind: bool = False) -> None:
        self.bind = bind

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from hw_bridge._sockets import Endpoints
        from twin.board.errors import BridgeConfigError

        text = str(value).strip()
        probe = text
        if self.bind and text.startswith("tcp://") and text.endswith(":0"):
            probe = text[:-2] + ":1"  # port 0: the OS picks P, P+1, P+2
        try:
            Endpoints.from_base(probe)
        except BridgeConfigError as exc:
            self.fail(str(exc), param, ctx)
        host = text[len("tcp://") :].rsplit(":", 1)[0] if text.startswith("tcp://") else ""
        if host == "*" and not self.bind:
            self.fail(f"endpoint {text!r}: '*' only binds; connect to a host name or address",
                      param, ctx)  # fmt: skip
        return text


def warn_if_exposed(endpoint: str) -> None:
    """Warn on stderr when a bind endpoint is not loopback (the board's ports are then reachable
    from the network). Called once every option has been checked, so a bad later option still
    gives a single error line (found by the deep argv fuzzer)."""
    if not is_loopback(endpoint):
        click.echo(
            f"warning: {endpoint} listens beyond this machine: anyone who can reach it can read "
            "the board and send it commands unless --curve-secret is given",
            err=True,
        )


class SchedulerAddress(click.ParamType):
    """A Dask scheduler, ``tcp://HOST:PORT``, ``tls://HOST:PORT`` or ``inproc://NAME``."""

    name = "scheduler"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value).strip()
        scheme, sep, rest = text.partition("://")
        if not sep or scheme not in ("tcp", "tls", "inproc") or not rest:
            self.fail(f"expected tcp://HOST:PORT, got {text!r}", param, ctx)
        if scheme != "inproc":
            host, colon, port = rest.rpartition(":")
            if not colon or not host or not port.isdigit() or not 0 < int(port) <= 65535:
                self.fail(f"expected {scheme}://HOST:PORT with a port 1-65535, got {text!r}",
                          param, ctx)  # fmt: skip
        return text


#: The ``--scheduler`` type of ``twin sweep`` and ``twin figures``.
SCHEDULER = SchedulerAddress()


class FaultSpec(click.ParamType):
    """``EDGE:KIND=VALUE@T_S`` or ``nNODE:adc_offset=VOLTS@T_S``, parsed and range-checked by
    :func:`twin.board.inprocess.parse_fault`."""

    name = "fault"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from twin.board.errors import BridgeConfigError
        from twin.board.inprocess import Fault, NodeFault, parse_fault

        if isinstance(value, Fault | NodeFault):
            return value
        try:
            return parse_fault(str(value))
        except BridgeConfigError as exc:
            self.fail(str(exc), param, ctx)


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _special(path: Path) -> bool:
    resolved = os.path.realpath(path)
    if resolved in _SINKS:
        return False
    return any(resolved == root or resolved.startswith(root + "/") for root in _SPECIAL_ROOTS)


def _check_names(path: Path, folder: Path) -> str | None:
    limit = _name_max(folder)
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            return f"file name {part[:40]!r}... is {len(os.fsencode(part))} bytes; at most {limit}"
    if len(os.fsencode(str(path.absolute()))) > 4000:
        return "path longer than 4000 bytes"
    return None


def check_output_file(path: Path, suffixes: tuple[str, ...] = ()) -> str | None:
    """Why a command could not write ``path``, or ``None``: the folder exists and is writable, the
    name fits the file system, an existing file is a regular, writable file (not under /proc, /sys
    or /dev), and its suffix is one of ``suffixes`` (when given). Nothing is created."""
    where = str(path)
    if not where:
        return "empty path; expected a file path"
    if suffixes and path.suffix.lower() not in suffixes:
        return (
            f"unknown plot format {path.suffix or '(none)'!r}; expected a "
            f"{', '.join(suffixes)} file"
        )
    folder = path.parent
    if not folder.is_dir():
        return f"folder {str(folder)!r} does not exist"
    problem = _check_names(path, folder)
    if problem is not None:
        return problem
    if _special(path):
        return f"{where!r} is a system file, not a data file"
    if path.is_dir():
        return f"{where!r} is a folder; expected a file path"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {str(folder)!r} is not writable"
    if path.exists() or path.is_symlink():
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            return f"{where!r}: {exc.strerror}"
        if not stat.S_ISREG(mode) and os.path.realpath(path) not in _SINKS:
            return f"{where!r} exists and is not a regular file"
        if not os.access(path, os.W_OK):
            return f"{where!r} exists and is not writable"
    return None


def _exists(path: Path) -> bool:
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def check_output_dir(path: Path) -> str | None:
    """Why a command could not write its files into folder ``path`` (made if missing), or
    ``None``: an existing path is a writable folder, else its nearest existing parent is."""
    where = str(path)
    if not where:
        return "empty path; expected a folder"
    problem = _check_names(path, Path("."))
    if problem is not None:
        return problem
    if _special(path):
        return f"{where!r} is a system folder, not a data folder"
    existing = path
    while not _exists(existing):
        parent = existing.parent
        if parent == existing:
            break
        existing = parent
    if not existing.is_dir():
        return f"{str(existing)!r} is a file; expected a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"folder {str(existing)!r} is not writable"
    return None


class OutputFile(click.Path):
    """A file a command will write, checked by :func:`check_output_file` when parsed (before the
    command computes anything); ``suffixes`` restricts its format (``(".png", ".pdf")``)."""

    def __init__(self, suffixes: tuple[str, ...] = ()) -> None:
        super().__init__(dir_okay=False, path_type=Path)
        self.suffixes = suffixes

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        problem = check_output_file(path, self.suffixes)
        if problem is not None:
            self.fail(problem, param, ctx)
        return path


class OutputDir(click.Path):
    """A folder a command will write into (made if missing), checked by :func:`check_output_dir`."""

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        problem = check_output_dir(path)
        if problem is not None:
            self.fail(problem, param, ctx)
        return path
