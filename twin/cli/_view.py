"""``--view [--port P]``: a live page in the browser while a command runs (:mod:`twin.view`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..view import LiveView

__all__ = ["check_view", "maybe_live_view", "view_options"]

F = TypeVar("F", bound=Callable[..., Any])


def view_options(func: F) -> F:
    """Add ``--view`` and ``--port`` to a command (parameters ``view`` and ``port``)."""
    func = click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=0,
        show_default=True,
        help="Port of the live page on 127.0.0.1 (0: any free port).",
    )(func)
    return click.option(
        "--view", is_flag=True, help="Serve a live page of the run on 127.0.0.1 (URL on stderr)."
    )(func)


def check_view(enabled: bool, port: int) -> None:
    """Refuse ``--port`` without ``--view`` (one line, exit 2), before any work starts."""
    if port and not enabled:
        raise click.UsageError("--port needs --view")


@contextmanager
def maybe_live_view(enabled: bool, port: int, *, mode: str) -> Iterator[LiveView | None]:
    """A served live page while the block runs (its URL on stderr), or None without ``--view``."""
    check_view(enabled, port)
    if not enabled:
        yield None
        return
    from ..view import live_view

    with live_view(port=port, mode=mode) as live:
        click.echo(f"live view: {live.url}", err=True)
        yield live
