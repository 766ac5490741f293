"""Calibration episodes at given nudges (``twin calibrate --episode-eta``): the episodes train
at each eta in turn and the board's own eta is set back after, over the Board contract."""

from __future__ import annotations

import pytest

from tests.boards import DelegatingBoard
from twin.board.contract import Ack, Board, Command
from twin.board.errors import BridgeConfigError
from twin.shadow.episodes import record_live
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator, open_board


class Recording(DelegatingBoard):
    """Passes everything on; keeps the commands."""

    def __init__(self, inner: Board) -> None:
        super().__init__(inner)
        self.sent: list[Command] = []

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        self.sent.append(command)
        return self.inner.command(command, timeout_s)


@pytest.mark.slow  # 1.4 s: the drain before recording
def test_live_episodes_train_at_each_eta_in_turn_and_the_boards_is_restored() -> None:
    board = Recording(open_board(emulate=EmulationSpec(seed=2, variation="typical")))
    try:
        states = record_live(board, episodes=3, episode_s=0.05, seed=1, etas=(0.22, 0.88))
        snap = board.snapshot(5.0)
    finally:
        board.close()
    etas = [c.args["eta"] for c in board.sent if c.name == "set_params"]
    assert etas == pytest.approx([0.22, 0.88, 0.22, 0.22])  # the last: the board's own, back
    assert len({c.key for c in board.sent}) == len(board.sent)  # a fresh key each
    trained = {round(s.eta, 6) for s in states if s.mode == "training"}
    assert trained == {0.22, 0.88}
    assert snap.state.eta == pytest.approx(0.22)


def test_bad_episode_etas_are_refused() -> None:
    emu = make_emulator(EmulationSpec(seed=0, variation="none"))
    with pytest.raises(BridgeConfigError, match="etas"):
        calibrate_emulator(emu, episodes=3, held_out=1, etas=(0.5, 1.5))
