"""Overclamping as a steering policy (``twin steer --policy overclamp``, arXiv 2505.22887).

For a classifier board (labels 0/1, two targets read as a difference: class 0 when ``out_0 -
out_1 > 0``) the goal is a perfect pass over the training points, not an error tolerance.
:class:`OverclampRun` joins the board as the lambda steerer does (hold, optional gate reset),
classifies every training point by inference (the twin predicting each outcome from the
reported gates first), sets the lab's eta (32/129) and starts the board's own overclamped
training decided at every step (``start_training`` with ``rounds: {mode: overclamp, decide:
step, max_s}``): the board learns misclassified points with their targets at the rails and goes
idle after a pass with none misclassified. The run then verifies by inference; a pass the board
read as perfect that inference does not confirm (a point microvolts from the boundary) starts
another training while time remains. Whatever ends it, the board is left idle with its own eta
set back. A reboot abandons the board's training: it is started again in the new epoch.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from twin.board.contract import Board, BoardState
from twin.board.errors import BridgeError
from twin.documents import Subscriber, start_doc, stop_doc
from twin.physics.task import Task
from twin.simulation.edge import EdgeParams

from .actions import BoardActions
from .config import SteerConfig
from .errors import BoardSilent, CommandUnanswered, SteerConfigError
from .meter import BoardMeter
from .report import SteerResult

__all__ = ["LAB_ETA", "OverclampRun", "classifier_signs"]

#: The lab's eta for overclamping (its ETA setting 32 of 129).
LAB_ETA = 32 / 129


def classifier_signs(task: Task) -> np.ndarray:
    """+1 for class 0 (``out_0 > out_1``), -1 for class 1, per training point; raises
    :class:`SteerConfigError` unless ``task`` is a classifier."""
    labels = task.train.labels
    if labels is None or np.asarray(task.targets).size != 2:
        raise SteerConfigError(
            "--policy overclamp: the board's task is not a classifier (expected labels 0/1 and "
            "exactly two targets)"
        )
    labels = np.asarray(labels, dtype=int)
    if not np.all((labels == 0) | (labels == 1)):
        raise SteerConfigError("--policy overclamp: the task's class labels must be 0 or 1")
    return np.where(labels == 0, 1.0, -1.0)


class OverclampRun(BoardActions):
    """Trains a classifier board by overclamping to a perfect pass (see the module docstring).

    ``eta``: the nudge to train at (default the lab's 32/129; ``None`` keeps the board's);
    ``max_attempts``: trainings started at most (a pass inference does not confirm starts
    another).
    """

    def __init__(
        self,
        board: Board,
        config: SteerConfig,
        *,
        edges: EdgeParams,
        emit: Subscriber | None = None,
        dry_run: bool = False,
        eta: float | None = LAB_ETA,
        max_attempts: int = 5,
    ) -> None:
        super().__init__(board, config, edges=edges, emit=emit, dry_run=dry_run)
        self.eta = eta
        self.max_attempts = int(max_attempts)
        self.attempts = 0
        self._after_seq = 0

    # ------------------------------------------------------------------ classification

    def _classify(self, meter: BoardMeter, signs: np.ndarray) -> tuple[float | None, float]:
        """Misclassified fraction of the training points by inference (``None`` when an
        inference was refused or in a dry run), and as the twin predicts it from the gates."""
        latest = meter.latest
        assert latest is not None
        inputs = np.asarray(meter.task.train.inputs, dtype=float)
        wrong_pred = wrong = 0
        measured_ok = not self.dry_run
        for x, s in zip(inputs, signs, strict=True):
            nodes, _ = meter.circuit.free_response(self.edges.device, latest.gate_v, x)
            out = meter.outputs(nodes)
            wrong_pred += s * (out[0] - out[1]) <= 0
            if not measured_ok:
                continue
            self.counts["verifications"] += 1
            args = {"inputs_v": x.tolist(), "hold_s": self.config.verify_hold_s}
            ack = self.client.send("run_inference", args)
            if ack is None or not ack.ok or "outputs_v" not in ack.result:
                measured_ok = False
                continue
            got = np.asarray(ack.result["outputs_v"], dtype=float)
            wrong += s * (got[0] - got[1]) <= 0
        if not self.dry_run:  # a dry run sent no inference: nothing to wait for
            self._await_idle()
        n = len(signs)
        return (float(wrong / n) if measured_ok else None), float(wrong_pred / n)

    # ------------------------------------------------------------------ training

    def _start(self, remaining_s: float) -> None:
        self._set_eta(self.eta)
        rounds = {"mode": "overclamp", "decide": "step", "max_s": max(remaining_s, 1e-3)}
        ack = self.client.send(
            "start_training", {"rounds": rounds}, must=True, patience_s=self.config.join_timeout_s
        )
        self.attempts += 1
        self.training = bool(ack is not None and ack.ok)
        if ack is not None and not ack.ok:
            raise SteerConfigError(f"start_training (overclamp) refused: {ack.message}")
        # frames after the one a snapshot names now were made after the command: an idle one
        # there means the board ended its training (a pass can end within one frame period,
        # before any training frame is published)
        self._after_seq = self.board.snapshot(self.config.join_timeout_s).state.seq

    def _ended(self, updates: list[Any]) -> bool:
        """Whether the board went idle (its training ended) in ``updates``."""
        return any(
            isinstance(u, BoardState) and u.seq > self._after_seq and u.mode == "idle"
            for u in updates
        )

    def _train(self, meter: BoardMeter) -> str:
        """Until the board goes idle by itself ("" ), or the reason the run must end."""
        cfg = self.config
        self._start(cfg.max_time_s - self.t_s)
        heard = time.monotonic()
        while self.training:
            updates = self.board.poll(cfg.poll_s)
            if updates:
                heard = time.monotonic()
            elif time.monotonic() - heard > cfg.join_timeout_s:
                raise BoardSilent(f"no state from the board for {cfg.join_timeout_s:g} s")
            if self._ended(updates):
                self.training = False
            if self._ingest(meter, updates):  # a reboot abandoned the board's training
                self.eta_acked = None
                self._await_window(meter)
                self._start(cfg.max_time_s - self.t_s)
            if self.t_s >= cfg.max_time_s:
                return f"time limit {cfg.max_time_s:g} s of board time"
            spent = meter.training_energy_j - self._e_join_j
            if cfg.budget_j is not None and spent >= cfg.budget_j:
                return f"energy budget {cfg.budget_j:g} J spent"
        return ""

    # ------------------------------------------------------------------ the run

    def run(self) -> SteerResult:
        """Train to a perfect pass verified by inference, the time limit, budget or interrupt."""
        snap, meter, task = self._join()
        self.board_eta = float(snap.config.params.get("eta", snap.state.eta))
        step_s = float(snap.config.params.get("step_s", 1e-4))
        signs = classifier_signs(task)  # the board is held: safe to refuse here
        params = {
            "policy": "overclamp",
            "dry_run": self.dry_run,
            "eta": self.eta,
            "budget_j": self.config.budget_j,
            "max_time_s": self.config.max_time_s,
        }
        doc = start_doc(
            source="board", kind="steer", params=params, board=self.board.board_id, uid=self.uid
        )
        self.dispatch(doc)
        self._release_held_docs()
        out: dict[str, Any] = {"reached": False, "reason": ""}
        status = "complete"
        first: tuple[float | None, float] = (None, float("nan"))
        last = first
        try:
            first = last = self._classify(meter, signs)
            if self.dry_run:
                self._start(self.config.max_time_s)
                out["reason"] = "dry run: nothing sent"
            elif first[0] == 0.0:
                out.update(reached=True, reason="already perfect (verified by inference)")
            while not self.dry_run and not out["reached"] and self.attempts < self.max_attempts:
                reason = self._train(meter)
                last = self._classify(meter, signs)
                if last[0] == 0.0:
                    out.update(reached=True, reason="perfect pass (verified by inference)")
                elif reason:
                    out["reason"] = reason
                    break
                else:
                    out["reason"] = "the board stopped without a pass inference confirms"
        except KeyboardInterrupt:
            out["reason"], status = "interrupted by the operator", "aborted"
        except (CommandUnanswered, BoardSilent, BridgeError) as exc:
            out["reason"], status = f"link lost: {exc}", "aborted"
        finally:
            out["safe_mode"] = self._stop_training()
            out["eta_final"] = self._restore_eta()
        summary = self._summary(meter, out, first, last, step_s)
        self.dispatch(stop_doc(self.uid, status=status, summary=summary, reason=out["reason"]))
        return SteerResult(summary=summary, uid=self.uid)

    def _summary(
        self,
        meter: BoardMeter,
        out: dict[str, Any],
        first: tuple[float | None, float],
        last: tuple[float | None, float],
        step_s: float,
    ) -> dict[str, Any]:
        c = self.client.counters
        return {
            "reached": out["reached"],
            "reason": out["reason"],
            "policy": "overclamp",
            "goal": "a perfect pass over the training points",
            "error_initial": first[0],
            "error_final": last[0],
            "error_unit": "misclassified fraction",
            "predicted_error_initial": first[1],
            "predicted_error_final": last[1],
            "training_energy_j": meter.training_energy_j - self._e_join_j,
            "pre_steer_energy_j": self._e_join_j,
            "baseline_energy_j": None,
            "baseline_note": "no lambda = 0 baseline for a classifier trained by overclamping",
            "steps": round(meter.training_s / step_s),
            "trainings_started": self.attempts,
            "commands_sent": c.sent,
            "commands_refused": c.refused,
            "commands": c.as_dict(),
            "replans": 0,
            "board_time_s": self.t_s,
            "training_time_s": meter.training_s,
            "safe_mode": out.get("safe_mode"),
            "eta_board": self.board_eta,
            "eta_steered": self.eta,
            "eta_final": out.get("eta_final"),
            "dry_run": self.dry_run,
            **self.counts,
        }
