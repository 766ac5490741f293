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

A reboot (a :class:`~twin.board.contract.Resync` of reason ``restart``) is resumed from the new
epoch: the client adopts the board's version, the policy starts again from the board's new
state, and lambda and training are sent again. Silences and reconnects are counted as lost
connections; the link itself recovers (the ZeroMQ client re-joins).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from twin.board.contract import Board, BoardState, Resync, Snapshot
from twin.board.errors import BridgeError
from twin.documents import Dispatcher, Subscriber, sample_doc, start_doc, stop_doc
from twin.physics.task import Task, task_from_dict
from twin.simulation.edge import EdgeParams

from .client import CommandClient
from .config import SteerConfig
from .errors import BoardSilent, CommandUnanswered, SteerError
from .meter import BoardMeter
from .planner import Phase, Planner, PlannerConfig
from .policies import Observation, Policy
from .record import EnergyBook, record_prediction

__all__ = ["SAFE_MODE", "PolicyFactory", "SteerContext", "SteerResult", "Steerer"]

log = logging.getLogger("twin.steer")

#: The state a steering run leaves the board in, whatever ended it.
SAFE_MODE = "idle: training stopped, gates held"


@attrs.frozen(kw_only=True, eq=False)
class SteerContext:
    """What a policy is built from: the board's task and settings, the tolerance, the twin."""

    task: Task
    tol: float
    eta: float
    step_s: float
    edges: EdgeParams
    planner: Planner


#: Builds the policy once the tolerance is known.
PolicyFactory = Callable[[SteerContext], Policy]


@attrs.frozen(kw_only=True)
class SteerResult:
    """The run's summary (``summary`` is the ``--json`` object) and its run uid."""

    summary: dict[str, Any]
    uid: str


def _finite_or_none(value: Any) -> Any:
    """``None`` for a non-finite float (JSON has no NaN), else the value."""
    return None if isinstance(value, float) and not np.isfinite(value) else value


class Steerer:
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
        self.planner_config = planner
        self.board = board
        self.make_policy = policy
        self.config = config
        self.edges = edges
        self.dispatch = Dispatcher([emit] if emit is not None else [])
        self.dry_run = dry_run
        self.want_baseline = baseline
        self.seed = seed
        self.uid = uuid.uuid4().hex
        self.t_s = 0.0  # board time since steering began, summed over epochs
        self._t_base_s = 0.0
        self._t0_epoch_s = 0.0
        self.client = CommandClient(
            board,
            run=self.uid,
            key_prefix=self.uid[:12],
            limits=config.limits,
            emit=self._emit_command,
            dry_run=dry_run,
            timeout_s=config.command_timeout_s,
            clock=lambda: self.t_s,
        )
        self.counts = {"reboots": 0, "lost_connections": 0, "gaps": 0, "verifications": 0}
        self.lam_acked: float | None = None
        self.training = False
        self._samples = 0
        self._last_error = float("nan")
        self._step_s = 1e-4
        self._e_join_j = 0.0
        self._gates_start: np.ndarray | None = None
        self._meter: BoardMeter | None = None
        self._held_docs: list[Any] | None = []
        self._energy = EnergyBook(self.dispatch, self.uid)
        self._plan_runs: list[str] = []
        self._run_params: dict[str, Any] = {}

    # ------------------------------------------------------------------ documents

    def _emit_command(self, doc: Any) -> None:
        if self._held_docs is None:
            self.dispatch(doc)
        else:  # sent while joining (the hold): recorded once the run has started
            self._held_docs.append(doc)

    def _sample(self, data: dict[str, float]) -> None:
        self.dispatch(
            sample_doc(self.uid, self._samples, self.t_s, {k: [v] for k, v in data.items()})
        )
        self._samples += 1

    # ------------------------------------------------------------------ joining

    def _join(self) -> tuple[Snapshot, BoardMeter, Task]:
        snap = self.board.snapshot(self.config.join_timeout_s)
        task = task_from_dict(snap.config.task)
        meter = BoardMeter(task, self.edges, window=self.config.window)
        self._meter = meter
        self.client.new_epoch(snap.config.version)
        self._hold(meter)
        meter.clear_window()  # the initial error is the held board's
        deadline = time.monotonic() + self.config.join_timeout_s
        while not meter.ready:
            if time.monotonic() > deadline:
                raise SteerError(f"board {self.board.board_id}: no frames within the join timeout")
            self._ingest(meter, self.board.poll(self.config.poll_s))
        self._e_join_j = meter.training_energy_j  # the board's own training before steering
        return snap, meter, task

    def _ingest(self, meter: BoardMeter, updates: list[Any]) -> bool:
        """Book updates; True when the board rebooted."""
        rebooted = False
        states: list[BoardState] = []
        for u in updates:
            if isinstance(u, Resync):
                meter.add(states)
                states = []
                rebooted |= self._resync(meter, u)
            else:
                states.append(u)
        meter.add(states)
        if meter.latest is not None:
            self.t_s = self._t_base_s + meter.latest.t_s - self._t0_epoch_s
        return rebooted

    def _resync(self, meter: BoardMeter, resync: Resync) -> bool:
        state = resync.snapshot.state
        if resync.reason == "initial":
            self._t0_epoch_s = state.t_s
            return False
        if resync.reason == "restart":
            self.counts["reboots"] += 1
            self._t_base_s = self.t_s
            self._t0_epoch_s = state.t_s
            self.client.new_epoch(resync.snapshot.config.version)
            meter.restart()
            log.warning("board %s rebooted: resuming from the new epoch", self.board.board_id)
            return True
        key = "gaps" if resync.reason == "gap" else "lost_connections"
        self.counts[key] += 1
        return False

    # ------------------------------------------------------------------ commands

    def _set_lam(self, lam: float) -> None:
        acked = self.lam_acked
        if acked is not None and abs(lam - acked) <= self.config.lam_rtol * max(abs(acked), 1e-12):
            return
        lam = min(max(float(lam), 0.0), self.config.limits.lam_max)
        ack = self.client.send("set_params", {"lam": lam})
        if ack is not None and ack.ok:
            self.lam_acked = lam

    def _start_training(self) -> None:
        ack = self.client.send("start_training", must=True, patience_s=self.config.join_timeout_s)
        self.training = bool(ack is not None and ack.ok)

    def _stop_training(self) -> str:
        """Leave the board in the safe mode; its description."""
        if self.dry_run:
            return "unchanged (dry run: nothing sent)"
        try:
            ack = self.client.send(
                "stop_training", must=True, patience_s=self.config.stop_patience_s
            )
        except (CommandUnanswered, BridgeError) as exc:
            return f"unknown: stop_training not acknowledged ({exc})"
        if ack is None or not ack.ok:
            return f"unknown: stop_training refused ({ack.message if ack else 'no ack'})"
        self.training = False
        return SAFE_MODE if self._await_idle() else f"{SAFE_MODE} (acknowledged; not yet reported)"

    def _await_idle(self) -> bool:
        """Poll (booking frames) until the board reports itself idle (an inference ends first)."""
        deadline = time.monotonic() + self.config.join_timeout_s
        while time.monotonic() < deadline:
            try:
                updates = self.board.poll(self.config.poll_s)
            except BridgeError:
                return False
            if self._meter is not None:
                self._ingest(self._meter, updates)
            states = [u for u in updates if isinstance(u, BoardState)]
            if states and states[-1].mode == "idle":
                return True
        return False

    def _pause(self) -> None:
        """Hold a training board while the twin re-plans (training resumes with the plan)."""
        if self.training and not self.dry_run:
            ack = self.client.send("stop_training", must=True)
            self.training = not (ack is not None and ack.ok)
            self._await_idle()

    def _record_plans(self, policy: Policy) -> None:
        """Record the plans the policy made since the last call as twin runs (role ``plan``),
        from the board time training resumed with them (now)."""
        plans = getattr(policy, "plans", [])
        for _, plan in plans[len(self._plan_runs) :]:
            uid = ""
            if plan.best is not None:
                uid = record_prediction(
                    self.dispatch,
                    plan.best,
                    role="plan",
                    peer_run=self.uid,
                    board=self.board.board_id,
                    t0_s=self.t_s,
                    params=self._run_params,
                )
            self._plan_runs.append(uid)

    def _plan_error(self, policy: Policy, obs: Observation) -> float | None:
        """The followed plan's predicted error at ``obs`` (None without one)."""
        predicted = getattr(policy, "predicted_error", None)
        return None if predicted is None else predicted(obs)

    def _decide(self, policy: Policy, obs: Observation) -> None:
        """The policy's lambda, sent; training restarted if a re-plan held the board."""
        self._set_lam(policy.decide(obs))
        if not self.training:
            self._start_training()
        self._record_plans(policy)

    def _hold(self, meter: BoardMeter) -> None:
        """Stop training while the twin decides, so the plan starts from the board's state."""
        if self.dry_run:
            return
        ack = self.client.send("stop_training", must=True)
        if ack is not None and ack.ok:
            self._await_idle()

    def _verify(self, meter: BoardMeter, tol: float) -> tuple[bool, float, float]:
        """Inference on the training input: (error <= tol, measured error, predicted error)."""
        self.counts["verifications"] += 1
        latest = meter.latest
        assert latest is not None
        inputs = np.asarray(meter.task.train.inputs[0], dtype=float)
        nodes, _ = meter.circuit.free_response(self.edges.device, latest.gate_v, inputs)
        predicted = meter.error_of(meter.outputs(nodes))
        args = {"inputs_v": inputs.tolist(), "hold_s": self.config.verify_hold_s}
        ack = self.client.send("run_inference", args)
        if ack is None or not ack.ok or "outputs_v" not in ack.result:
            return False, float("nan"), predicted
        measured = meter.error_of(np.asarray(ack.result["outputs_v"], dtype=float))
        meter.clear_window()
        return measured <= tol, measured, predicted

    # ------------------------------------------------------------------ the run

    def run(self) -> SteerResult:
        """Steer until the tolerance, the budget, the time limit or an interrupt."""
        snap, meter, task = self._join()
        params = snap.config.params
        e0 = meter.error()
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
        for doc in self._held_docs or ():
            self.dispatch(doc)
        self._held_docs = None
        out: dict[str, Any] = {
            "reached": False,
            "reason": "",
            "verified_error": None,
            "predicted_inference_error": None,
        }
        status = "complete"
        try:
            self._loop(meter, policy, tol, out)
        except KeyboardInterrupt:
            out["reason"] = "interrupted by the operator"
            status = "aborted"
        except (CommandUnanswered, BoardSilent, BridgeError) as exc:
            out["reason"] = f"link lost: {exc}"
            status = "aborted"
        finally:
            out["safe_mode"] = self._stop_training()
        start_gates = gates0 if self._gates_start is None else self._gates_start
        baseline = (
            planner.simulate(start_gates, (Phase(lam=0.0, until_error=tol),), tol)
            if self.want_baseline and status == "complete"
            else None
        )
        summary = self._summary(meter, policy, tol, e0, out, baseline)
        self._energy.flush(self.t_s, meter.energy_j)
        if baseline is not None:
            summary["baseline_run"] = record_prediction(
                self.dispatch,
                baseline,
                role="baseline",
                peer_run=self.uid,
                board=self.board.board_id,
                t0_s=0.0,
                params=self._run_params,
            )
        summary["plan_runs"] = [uid for uid in self._plan_runs if uid]
        self.dispatch(stop_doc(self.uid, status=status, summary=summary, reason=out["reason"]))
        return SteerResult(summary=summary, uid=self.uid)

    def _loop(self, meter: BoardMeter, policy: Policy, tol: float, out: dict[str, Any]) -> None:
        cfg = self.config
        obs = self._observe(meter)
        self._gates_start = obs.gate_v
        self._set_lam(policy.start(obs))
        self._start_training()
        self._record_plans(policy)
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
            if self._ingest(meter, updates):
                self.lam_acked = None  # the new epoch's settings are not ours
                self._await_window(meter)
                self.client.send("stop_training", must=True)  # hold while the policy restarts
                self.training = False
                self._await_idle()
                self._set_lam(policy.start(self._observe(meter)))
                self._start_training()
                self._record_plans(policy)
                continue
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
            if obs.error <= tol:
                ok, measured, predicted = self._verify(meter, tol)
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
            elif self.t_s >= cfg.max_time_s:
                out["reason"] = f"time limit {cfg.max_time_s:g} s of board time"
                return
            else:
                self._decide(policy, obs)

    def _await_window(self, meter: BoardMeter) -> None:
        deadline = time.monotonic() + self.config.join_timeout_s
        while not meter.ready and time.monotonic() < deadline:
            self._ingest(meter, self.board.poll(self.config.poll_s))

    def _observe(self, meter: BoardMeter) -> Observation:
        latest = meter.latest
        assert latest is not None
        return Observation(
            t_s=self.t_s,
            error=meter.error(),
            gate_v=np.array(latest.gate_v),
            lam=self.lam_acked if self.lam_acked is not None else float(latest.lam),
            train_s=meter.training_s,
        )

    def _summary(
        self,
        meter: BoardMeter,
        policy: Policy,
        tol: float,
        e0: float,
        out: dict[str, Any],
        baseline: Any,
    ) -> dict[str, Any]:
        c = self.client.counters
        plan = getattr(policy, "current", None)
        summary = {
            "reached": out["reached"],
            "reason": out["reason"],
            "policy": policy.name,
            "fell_back": getattr(policy, "fell_back", None),
            "tolerance_v2": tol,
            "error_initial": e0,
            "error_final": out["verified_error"] if out["reached"] else self._last_error,
            "verified_error": out["verified_error"],
            "predicted_inference_error": out["predicted_inference_error"],
            "training_energy_j": meter.training_energy_j - self._e_join_j,
            "pre_steer_energy_j": self._e_join_j,
            "baseline_energy_j": None if baseline is None else baseline.energy_to_tol_j,
            "baseline_time_s": None if baseline is None else baseline.reached_s,
            "predicted_energy_j": None if plan is None else plan.energy_to_tol_j,
            "steps": round(meter.training_s / self._step_s),
            "commands_sent": c.sent,
            "commands_refused": c.refused,
            "commands": c.as_dict(),
            "replans": policy.replans,
            "board_time_s": self.t_s,
            "training_time_s": meter.training_s,
            "safe_mode": out.get("safe_mode", SAFE_MODE),
            "dry_run": self.dry_run,
            **self.counts,
        }
        return {k: _finite_or_none(v) for k, v in summary.items()}
