"""Calibration episodes, driven through a board's commands.

An episode resets the gates to random values (2.0-4.5 V) and trains for a while, optionally held
idle first and at a chosen nudge. :func:`record_episodes` is the one sequence of commands, for
an emulated board advanced in process and for a live board (:func:`record_live`) alike, so both
calibrations see the same episodes for the same seed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

import numpy as np

from twin.board.contract import Ack, Board, BoardState, Command
from twin.board.errors import BridgeConfigError, BridgeTimeout

__all__ = ["COMMAND_TIMEOUT_S", "DRAIN_S", "check_etas", "record_episodes", "record_live"]

#: Wall time a calibration command may take with its retries (same key), s: a board on a
#: loaded host answers late, and a calibration is not worth losing to that.
COMMAND_TIMEOUT_S = 20.0
#: Wall time spent discarding a live board's backlog before a calibration, s.
DRAIN_S = 0.2

#: The commands that start an episode: reset and train; or hold idle at the reset gates first.
_START = ("reset_gates", "start_training")
_HOLD, _TRAIN = ("stop_training", "reset_gates"), ("start_training",)


def check_etas(etas: Sequence[float]) -> None:
    """An error unless every nudge of ``etas`` is in (0, 1]."""
    if any(not (np.isfinite(e) and 0 < e <= 1) for e in etas):
        raise BridgeConfigError(f"calibration etas: expected numbers in (0, 1], got {list(etas)}")


def _set_eta(send: Callable[[Command], Ack], key: str, eta: float, who: str) -> None:
    """Set the board's nudge to ``eta`` (key ``key-eta``); an error naming ``who`` if refused."""
    ack = send(Command(name="set_params", key=f"{key}-eta", args={"eta": float(eta)}))
    if not ack.ok:
        raise BridgeConfigError(
            f"calibration: {who} refused eta {eta:g}: {ack.code} {ack.message}".rstrip()
        )


def _send(
    send: Callable[[Command], Ack], key: str, names: tuple[str, ...], gates_v: list[float], who: str
) -> None:
    """Send ``names`` in turn (``reset_gates`` to ``gates_v``, V), each under its own key
    (``key-NAME``); an error naming ``who`` if one is refused."""
    for name in names:
        args = {"gate_v": gates_v} if name == "reset_gates" else {}
        ack = send(Command(name=name, key=f"{key}-{name}", args=args))
        if not ack.ok:
            raise BridgeConfigError(
                f"calibration: {who} refused {name}: {ack.code} {ack.message}".rstrip()
            )


def record_episodes(
    send: Callable[[Command], Ack],
    advance: Callable[[float], list[BoardState]],
    *,
    n_edges: int,
    episodes: int,
    episode_s: float,
    seed: int,
    key: str,
    who: str,
    own_eta: float,
    idle_s: float = 0.0,
    etas: Sequence[float] = (),
) -> list[BoardState]:
    """Train from ``episodes`` random gate states for ``episode_s`` board seconds each (each
    after ``idle_s`` held idle at those gates, when > 0; episode ``k`` at nudge
    ``etas[k % len(etas)]`` when given, ``own_eta`` set back after); every frame.

    ``send`` delivers a command and returns its acknowledgement; ``advance(s)`` the frames of
    the next ``s`` board seconds. Commands of episode ``k`` carry the keys ``key-k-NAME``; an
    error naming ``who`` if one is refused. The gates are drawn from ``seed``.
    """
    rng = np.random.default_rng([seed, 11])
    states: list[BoardState] = []
    for ep in range(episodes):
        gates = rng.uniform(2.0, 4.5, n_edges).tolist()
        ep_key = f"{key}-{ep}"
        if etas:
            _set_eta(send, ep_key, etas[ep % len(etas)], who)
        if idle_s > 0:
            _send(send, ep_key, _HOLD, gates, who)
            states += advance(idle_s)
            _send(send, ep_key, _TRAIN, gates, who)
        else:
            _send(send, ep_key, _START, gates, who)
        states += advance(episode_s)
    if etas:
        _set_eta(send, f"{key}-end", own_eta, who)
    return states


def _episode(board: Board, episode_s: float, timeout_s: float) -> list[BoardState]:
    """The board's frames over ``episode_s`` of board time from the first one received, within
    3 x ``episode_s`` + 10 x ``timeout_s`` of wall time."""
    deadline = time.monotonic() + 3 * episode_s + 10 * timeout_s
    states: list[BoardState] = []
    while not states or states[-1].t_s < states[0].t_s + episode_s:
        if time.monotonic() > deadline:
            raise BridgeTimeout(
                f"calibration: board {board.board_id} did not report {episode_s:g} s of "
                "training in time (is it paced far below real time?)"
            )
        updates = board.poll(timeout_s)
        if not updates:
            raise BridgeTimeout(
                f"calibration: no frame from board {board.board_id} in {timeout_s:g} s"
            )
        states += [u for u in updates if isinstance(u, BoardState)]
    return states


def record_live(
    board: Board,
    *,
    episodes: int,
    episode_s: float,
    seed: int,
    timeout_s: float = 5.0,
    idle_s: float = 0.0,
    etas: Sequence[float] = (),
) -> list[BoardState]:
    """Drive ``board`` through its commands: the episodes of :func:`record_episodes`, the
    board's own eta set back after; every frame received from the first reset on.

    Each command carries a fresh idempotency key, so a board that remembers keys from an
    earlier calibration acts on these. Bounded: an episode may take at most 3 x ``episode_s``
    + 10 x ``timeout_s`` of wall time.
    """
    snap = board.snapshot(timeout_s)
    own = float(snap.config.params.get("eta", snap.state.eta))
    drained = time.monotonic() + DRAIN_S  # the backlog from before the calibration is not part
    while time.monotonic() < drained and board.poll(0.0):  # of it (a board paced faster than
        pass  # real time never runs dry: bounded)
    return record_episodes(
        lambda c: board.command(c, COMMAND_TIMEOUT_S),
        lambda s: _episode(board, s, timeout_s),
        n_edges=len(snap.state.gate_v),
        episodes=episodes,
        episode_s=episode_s,
        seed=seed,
        key=f"cal-{uuid.uuid4().hex[:12]}",
        who=f"board {board.board_id}",
        own_eta=own,
        idle_s=idle_s,
        etas=etas,
    )
