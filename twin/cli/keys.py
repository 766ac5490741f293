"""``twin keys``: CURVE key pairs, and the key options of the commands that talk to a board.

ZeroMQ's CURVE encrypts every message and authenticates both ends. A board (``twin board
--curve-secret board.key_secret --curve-clients allowed/``) serves only clients whose public key
file is in ``allowed/``; a client (``twin shadow --connect ... --curve-secret me.key_secret
--curve-server board.key``) talks only to the board holding that public key. ``twin keys NAME``
writes ``NAME.key`` (public: give it to the other end) and ``NAME.key_secret`` (secret, mode
0600). The files are ZeroMQ's certificate format (``zmq.auth``), readable by any ZeroMQ binding
(schemas/PROTOCOL.md, "Authentication").
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import cli
from ._common import emit_json
from ._types import OutputDir

__all__ = ["client_curve", "client_key_options", "keys_cmd", "server_curve", "server_key_options"]

F = TypeVar("F", bound=Callable[..., Any])


class KeyFile(click.Path):
    """A ZeroMQ certificate file, read when parsed: ``secret`` needs its secret key."""

    def __init__(self, *, secret: bool) -> None:
        super().__init__(exists=True, dir_okay=False, path_type=Path)
        self.secret = secret

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import zmq
        import zmq.auth

        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        if not zmq.has("curve"):
            self.fail("this libzmq has no CURVE support", param, ctx)
        try:
            public, secret = zmq.auth.load_certificate(str(path))
        except (OSError, ValueError, IndexError, UnicodeDecodeError) as exc:
            self.fail(f"{str(path)!r} is not a ZeroMQ certificate ({exc})", param, ctx)
        if not public:
            self.fail(f"{str(path)!r} holds no public key", param, ctx)
        if self.secret and not secret:
            self.fail(f"{str(path)!r} holds no secret key (expected a .key_secret file)", param,
                      ctx)  # fmt: skip
        return path


def client_key_options(func: F) -> F:
    """``--curve-secret`` and ``--curve-server`` (parameters curve_secret, curve_server)."""
    func = click.option(
        "--curve-server",
        type=KeyFile(secret=False),
        default=None,
        help="The board's public key file (NAME.key): talk only to that board (CURVE).",
    )(func)
    return click.option(
        "--curve-secret",
        type=KeyFile(secret=True),
        default=None,
        help="This client's secret key file (NAME.key_secret of twin keys NAME); needs "
        "--curve-server.",
    )(func)


def server_key_options(func: F) -> F:
    """``--curve-secret`` and ``--curve-clients`` (parameters curve_secret, curve_clients)."""
    func = click.option(
        "--curve-clients",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None,
        help="Folder of the public key files of the clients allowed to connect (needs "
        "--curve-secret).",
    )(func)
    return click.option(
        "--curve-secret",
        type=KeyFile(secret=True),
        default=None,
        help="The board's secret key file: encrypt and authenticate with CURVE (twin keys NAME).",
    )(func)


def client_curve(curve_secret: Path | None, curve_server: Path | None) -> Any:
    """The ``CurveClient`` of the options, or ``None`` when neither is given."""
    if (curve_secret is None) != (curve_server is None):
        raise click.UsageError("give --curve-secret and --curve-server together")
    if curve_secret is None or curve_server is None:
        return None
    from hw_bridge._sockets import CurveClient

    return CurveClient(secret_file=curve_secret, server_public_file=curve_server)


def server_curve(curve_secret: Path | None, curve_clients: Path | None) -> Any:
    """The ``CurveServer`` of the options, or ``None`` without ``--curve-secret``."""
    if curve_secret is None:
        if curve_clients is not None:
            raise click.UsageError("--curve-clients needs --curve-secret")
        return None
    from hw_bridge._sockets import CurveServer

    return CurveServer(secret_file=curve_secret, clients_dir=curve_clients)


@cli.command("keys")
@click.argument("name")
@click.option(
    "--out",
    type=OutputDir(),
    default=Path("."),
    show_default=True,
    help="Folder for NAME.key and NAME.key_secret (made if missing).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the file names as one JSON object.")
def keys_cmd(name: str, out: Path, as_json: bool) -> None:
    """Write a CURVE key pair: NAME.key (public) and NAME.key_secret (secret, mode 0600)."""
    import zmq
    import zmq.auth

    ok = all(c.isascii() and (c.isalnum() or c in "-_.") for c in name)
    if not name or not ok or name.startswith(".") or len(name) > 64:
        raise click.BadParameter(f"expected 1-64 letters, digits, '-', '_' or '.', got "
                                 f"{name[:70]!r}", param_hint="NAME")  # fmt: skip
    if not zmq.has("curve"):
        raise click.UsageError("this libzmq has no CURVE support")
    public, secret = out / f"{name}.key", out / f"{name}.key_secret"
    for path in (public, secret):
        if path.exists():
            raise click.BadParameter(f"{str(path)!r} exists; keys are never overwritten",
                                     param_hint="NAME")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    made_public, made_secret = zmq.auth.create_certificates(str(out), name)
    os.chmod(made_secret, 0o600)
    summary = {"public": str(made_public), "secret": str(made_secret)}
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"public key {made_public} (give it to the other end); secret key "
                   f"{made_secret} (keep it)")  # fmt: skip
