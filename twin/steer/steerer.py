"""The steering loop: the twin in the loop of a board's training (``twin steer``).

:class:`Steerer` joins a :class:`~twin.board.contract.Board`, measures its initial error,
holds the board (``stop_training``: a real board keeps learning while the twin plans, and the
plan must start from the state it was made for), chooses lambda with a
:class:`~twin.steer.policies.Policy` every ``decision_s`` of board time and sends it through
the :class:`~twin.steer.client.CommandClient`. When the board's error is at
or below the tolerance it *verifies* with an inference command (the twin predicts its outcome
from the reported gates first) and stops training. It also stops (unreached) at the energy
budget or the time limit. Whatever ends the run, including an operator's Ctrl-C
(``KeyboardInterrupt``) or a lost link, :meth:`Steerer.run` leaves the board in a stated safe
mode: ``stop_training`` is sent (gates held, learning rule off).

A reboot is resumed from the new epoch: the policy starts again from the board's new state,
and lambda and training are sent again. The board actions (joining, commands, the board's
clock across epochs) are :class:`~twin.steer.actions.BoardActions`; the summary is
:func:`~twin.steer.report.summarize`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from twin.board.contract import Board
from twin.board.errors import BridgeError
from twin.documents import Subscriber, start_doc, stop_doc
from twin.physics.task import Task
from twin.simulation.edge import EdgeParams

from .actions import BoardActions
from .config import SteerConfig
from .errors import BoardSilent, CommandUnanswered, TimeLimitReached
from .hold import rejoin_plan
from .meter import BoardMeter
from .observation import Observation, Policy
from .planner import Planner, PlannerConfig
from .record import EnergyBook, record_plans, record_prediction
from .report import SteerResult, predict_baseline, summarize
from .seek import seek_valley

__all__ = ["TIME_CHECK_S", "WHILE_PLANNING", "PolicyFactory", "SteerContext", "Steerer"]


@attrs.frozen(kw_only=True, eq=False)
class SteerContext:
    """What a policy is built from: the board's task and settings, the tolerance, the twin."""

    task: Task
    tol: float
    eta: float
    step_s: float
    edges: EdgeParams
    planner: Planner


#: Wall time between two looks at the board's clock while the twin plans, s.
TIME_CHECK_S = 0.2

#: What the board does while the twin plans (the summary's ``while_planning``).
WHILE_PLANNING = (
    "held in the safe mode (training stopped, gates held) for at most the plan's hold budget "
    "of board time; then it follows the best schedule simulated by then, or Eq. 18 control "
    "if none reached, from the gates the plan was made from (written back to the board), "
    "else from where the held board drifted to (the schedule simulated again)"
)

#: Builds the policy once the tolerance is known.
PolicyFactory = Callable[[SteerContext], Policy]


class Steerer(BoardActions):
    """Steers ``board`` (see the module docstring).

    Parameters
    ----------
    board
        The board.
    policy
        Builds the policy from the :class:`SteerContext`.
    config
        Tolerance, budget and limits.
    edges
        The twin's edges (calibrated or nominal): the device model of the energy estimate,
        the planner's and the inference prediction's twin.
    emit
        Receives the run's documents (start, samples, commands, energy, stop).
    dry_run
        Send nothing: report the commands the first decision would send.
    baseline
        Predict the lambda = 0 energy to the tolerance on the twin from the start state.
    seed
        Seed of the twin's noise keys.
    planner
        Candidates and resolution of the predictive planner (default :class:`PlannerConfig`).
    """

    def __init__(
        self,
        board: Board,
        policy: PolicyFactory,
        config: SteerConfig,
        *,
        edges: EdgeParams,
        emit: Subscriber | None = None,
        dry_run: bool = False,
        baseline: bool = True,
        seed: int = 0,
        planner: PlannerConfig | None = None,
    ) -> None:
        super().__init__(board, config, edges=edges, emit=emit, dry_run=dry_run)
        self.planner_config = planner
        self.make_policy = policy
        self.want_baseline = baseline
        self.seed = seed
        self._last_error = float("nan")
        self._step_s = 1e-4
        self._gates_start: np.ndarray | None = None
        self._energy = EnergyBook(self.dispatch, self.uid)
        self._plan_runs: list[str] = []
        self._run_params: dict[str, Any] = {}
        self._time_checked = -np.inf
        self._clock_read: float | None = None

    # ------------------------------------------------------------------ plans

    def _plan_error(self, policy: Policy, obs: Observation) -> float | None:
        """The followed plan's predicted error at ``obs`` (None without one)."""
        predicted = getattr(policy, "predicted_error", None)
        return None if predicted is None else predicted(obs)

    def _start_policy(self, policy: Policy, obs: Observation) -> None:
        """Start the policy from ``obs`` (a plan, for the predictive one) and send its eta and
        lambda."""
        lam = policy.start(obs)
        self._set_eta(getattr(policy, "eta", None))
        self._set_lam(lam)

    def _decide(self, meter: BoardMeter, policy: Policy, obs: Observation) -> None:
        """The policy's lambda, sent; training restarted if a re-plan held the board (or the
        board stopped itself at the end of its duration), re-armed when the lambda changed."""
        lam, eta = self.lam_acked, self.eta_acked
        new_lam = policy.decide(obs)
        self._set_eta(getattr(policy, "eta", None))
        self._set_lam(new_lam)
        if not self.training:
            self._resume(meter, policy, obs)
        elif (self.lam_acked != lam or self.eta_acked != eta) and self._armed:
            self._start_training(self._duration(policy, obs))

    def _duration(self, policy: Policy, obs: Observation) -> float | None:
        """How long the board may train before it must hear from the steerer again: the
        policy's (the plan's time to the end of its phase, with a margin), else unlimited."""
        train_for = getattr(policy, "train_for_s", None)
        return None if train_for is None else train_for(obs)

    def _resume(self, meter: BoardMeter, policy: Policy, obs: Observation) -> None:
        """Restart training after a hold: first book the frames the board published while held
        (:meth:`~twin.steer.actions.BoardActions._catch_up`) and record the plans made in it,
        so the first decision comes one interval after training resumes, not a backlog later
        (again after recording, which takes wall time too)."""
        self._catch_up(meter)
        rejoin_plan(self, meter, policy, restore=self.config.restore_gates)
        self._plan_runs += record_plans(
            self.dispatch,
            getattr(policy, "plans", [])[len(self._plan_runs) :],
            peer_run=self.uid,
            board=self.board.board_id,
            t0_s=self.t_s,
            params=self._run_params,
        )
        self._catch_up(meter)
        self._start_training(self._duration(policy, obs))

    # ------------------------------------------------------------------ the time limit

    def _time_limit_reason(self) -> str:
        return f"time limit {self.config.max_time_s:g} s of board time (holds included)"

    def _board_clock(self) -> float | None:
        """Steering's board time (s) while the twin plans (the board held, its frames unread):
        the board's clock from a fresh snapshot, read at most every ``TIME_CHECK_S`` of wall
        time (the last reading in between); ``None`` when unreadable or in another epoch. A
        board whose clock stops while held (one that makes its frames when polled) spends no
        board time planning."""
        now = time.monotonic()
        if now - self._time_checked < TIME_CHECK_S:
            return self._clock_read
        self._time_checked = now
        latest = self._meter.latest if self._meter is not None else None
        try:
            state = self.board.snapshot(self.config.poll_s).state
        except BridgeError:
            state = None
        if state is None or latest is None or state.epoch != latest.epoch:
            self._clock_read = None
        else:
            self._clock_read = self._t_base_s + state.t_s - self._t0_epoch_s
        return self._clock_read

    def _time_up(self) -> bool:
        """Whether the board-time limit has passed, asked while the twin plans."""
        t_s = self._board_clock()
        return t_s is not None and t_s >= self.config.max_time_s

    # ------------------------------------------------------------------ the run

    def run(self) -> SteerResult:
        """Steer until the tolerance, the budget, the time limit or an interrupt."""
        snap, meter, task = self._join()
        params = snap.config.params
        e0 = meter.error()
        floor = meter.noise_floor_v2()  # the held board's readings: what its error can show
        self.floor_v2 = floor if np.isfinite(floor) else 0.0  # in every observation
        tol = self.config.tolerance(e0)
        planner = Planner(
            task,
            self.edges,
            eta=float(params.get("eta", snap.state.eta)),
            step_s=float(params.get("step_s", 1e-4)),
            seed=self.seed,
            config=self.planner_config,
        )
        ctx = SteerContext(
            task=task,
            tol=tol,
            eta=planner.eta,
            step_s=planner.step_s,
            edges=self.edges,
            planner=planner,
        )
        self._step_s = planner.step_s
        self.board_eta = planner.eta
        planner.should_stop = self._time_up
        planner.clock = time.monotonic  # the plan budget's wall clock
        planner.board_clock = self._board_clock  # the hold budget's
        policy = self.make_policy(ctx)
        if hasattr(policy, "before_planning"):
            policy.before_planning = self._pause
        gates0 = np.array(meter.latest.gate_v) if meter.latest is not None else snap.state.gate_v
        self._run_params = {
            "policy": policy.name,
            "tolerance_v2": tol,
            "dry_run": self.dry_run,
            "budget_j": self.config.budget_j,
            "max_time_s": self.config.max_time_s,
        }
        self.dispatch(
            start_doc(
                source="board",
                kind="steer",
                params=self._run_params,
                board=self.board.board_id,
                uid=self.uid,
            )
        )
        self._release_held_docs()
        out: dict[str, Any] = {
            "reached": False,
            "reason": "",
            "verified_error": None,
            "predicted_inference_error": None,
        }
        status = "complete"
        try:
            if tol < floor:
                out["reason"] = (
                    f"tolerance {tol:.3g} V^2 is below the board's measurement floor "
                    f"{floor:.3g} V^2 (its readings' spread over {meter.window} frames): it "
                    "cannot be seen; give a larger tolerance, or --reset-gates to steer "
                    "from the start"
                )
            else:
                self._loop(meter, policy, tol, out)
        except TimeLimitReached:
            out["reason"] = f"{self._time_limit_reason()} (the twin was planning)"
        except KeyboardInterrupt:
            out["reason"] = "interrupted by the operator"
            status = "aborted"
        except (CommandUnanswered, BoardSilent, BridgeError) as exc:
            out["reason"] = f"link lost: {exc}"
            status = "aborted"
        finally:
            # the baseline is the report's, no plan
            planner.should_stop = planner.clock = planner.board_clock = None
            plan_simulated_s = planner.simulated_s
            out["safe_mode"] = self._stop_training()
            out["eta_final"] = self._restore_eta()
        start_gates = gates0 if self._gates_start is None else self._gates_start
        baseline = predict_baseline(
            planner,
            start_gates,
            tol,
            horizon_s=max(planner.config.horizon_s, self.config.max_time_s),
            wanted=self.want_baseline,
            status=status,
            eta_steered=self.eta_highest,
        )
        summary = summarize(
            meter=meter,
            policy=policy,
            counters=self.client.counters,
            counts=self.counts,
            tol=tol,
            e0=e0,
            out=out,
            baseline=baseline,
            last_error=self._last_error,
            e_join_j=self._e_join_j,
            step_s=self._step_s,
            board_time_s=self.t_s,
            dry_run=self.dry_run,
        )
        self._energy.flush(self.t_s, meter.energy_j)
        if baseline.prediction is not None:
            summary["baseline_run"] = record_prediction(
                self.dispatch,
                baseline.prediction,
                role="baseline",
                peer_run=self.uid,
                board=self.board.board_id,
                t0_s=0.0,
                params=self._run_params,
            )
        summary["plan_runs"] = [uid for uid in self._plan_runs if uid]
        summary["measurement_floor_v2"] = floor if np.isfinite(floor) else None
        summary["eta_board"] = self.board_eta
        summary["plan_simulated_s"] = plan_simulated_s  # twin time the plans simulated, s
        summary["plan_holds_s"] = list(planner.holds_s)  # board time each plan held it, s
        summary["while_planning"] = WHILE_PLANNING
        self.dispatch(stop_doc(self.uid, status=status, summary=summary, reason=out["reason"]))
        return SteerResult(summary=summary, uid=self.uid)

    def _loop(self, meter: BoardMeter, policy: Policy, tol: float, out: dict[str, Any]) -> None:
        cfg = self.config
        obs = self._observe(meter)
        self._gates_start = obs.gate_v
        self._start_policy(policy, obs)
        self._resume(meter, policy, obs)
        if self.dry_run:
            out["reason"] = "dry run: nothing sent"
            return
        next_decision = self.t_s + cfg.decision_s
        heard = time.monotonic()
        while True:
            updates = self.board.poll(cfg.poll_s)
            if updates:
                heard = time.monotonic()
            elif time.monotonic() - heard > cfg.join_timeout_s:
                raise BoardSilent(f"no state from the board for {cfg.join_timeout_s:g} s")
            self._note_self_stop(updates)
            if self._ingest(meter, updates) | self._take_reboot():
                self.lam_acked = self.eta_acked = None  # the new epoch's settings are not ours
                self._await_window(meter)
                self.client.send("stop_training", must=True)  # hold while the policy restarts
                self.training = False
                self._await_idle()
                obs = self._observe(meter)
                self._start_policy(policy, obs)
                self._resume(meter, policy, obs)
                continue
            if self.t_s >= cfg.max_time_s:  # every poll: holds count, and are not decisions
                out["reason"] = self._time_limit_reason()
                return
            if self.t_s < next_decision or not meter.ready:
                continue
            next_decision = self.t_s + cfg.decision_s
            obs = self._observe(meter)
            self._last_error = obs.error
            reading = {
                "error": obs.error,
                "lam": self.lam_acked or 0.0,
                "energy_j": meter.training_energy_j,
            }
            plan_error = self._plan_error(policy, obs)
            if plan_error is not None:
                reading["plan_error"] = plan_error
            self._sample(reading)
            self._energy.flush(self.t_s, meter.energy_j)
            due = getattr(policy, "verify_due", None)  # the plan says it is there: look
            timed = obs.error > tol and due is not None and due(obs)
            if obs.error <= tol or timed:
                ok, measured, predicted = self._verify(meter, tol)
                if not ok and timed and self.planner_config and self.planner_config.seeks():
                    bursts = self.planner_config.seek_bursts  # seek.py: short of it, creep on
                    ok, measured, predicted = seek_valley(self, meter, tol, measured, bursts=bursts)
                out.update(verified_error=measured, predicted_inference_error=predicted)
                if ok:
                    out.update(reached=True, reason="tolerance reached (verified by inference)")
                    return
            elif (
                cfg.budget_j is not None
                and meter.training_energy_j - self._e_join_j >= cfg.budget_j
            ):
                out["reason"] = f"energy budget {cfg.budget_j:g} J spent"
                return
            else:
                self._decide(meter, policy, obs)
