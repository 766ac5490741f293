"""Steering policies: what lambda the board should train with, given what it reports.

A :class:`Policy` sees :class:`Observation` objects (board time, the board's measured error,
its gates) and answers with the lambda to hold. Three policies:

- :class:`FixedPolicy`: one lambda throughout (``lam = 0`` is early stopping);
- :class:`ControlPolicy`: the seed's Eq. 18 dynamic control on the board's reported error, by
  :class:`twin.learning.rules.LambdaControl` (the trainer's own implementation, reused);
- :class:`PredictivePolicy`: follows the least-energy schedule the :class:`~.planner.Planner`
  predicts on the twin, re-plans when the board departs from the prediction (a
  :class:`Divergence` detector: today the shadow's hold-time monitor) and falls back to control
  when the twin is not trusted or keeps diverging; where no schedule is predicted to reach, it
  falls back too, or follows the one predicted lowest (``PlannerConfig.no_plan``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import numpy as np

from twin.learning.rules import LambdaControl

from .divergence import Divergence, MonitorDivergence
from .errors import SteerConfigError
from .lowest import describe_lowest, lowest_plan
from .margin import plan_with_margin
from .observation import Observation, Policy
from .planner import Plan, Planner, Prediction
from .seek import SEEK_LEAD_S
from .timed_stop import plan_there_s, stop_in_s
from .tries import ranked_lowest, try_time_s

__all__ = [
    "ControlPolicy",
    "Divergence",
    "FixedPolicy",
    "MonitorDivergence",
    "Observation",
    "Policy",
    "PredictivePolicy",
]


#: A plan's phase may train this many times its predicted time before the board stops itself.
TRAIN_MARGIN = 1.25
#: ... plus this, s of training (a few decision intervals).
TRAIN_SLACK_S = 0.03
#: Once the plan has reached the tolerance, a board reading within this factor of it is
#: verified by inference (:meth:`PredictivePolicy.verify_due`).
VERIFY_NEAR = 2.0
#: A gate that moved more than this (V, two steps of the board's 10-bit gate ADC over 5.5 V)
#: while the board was held has left the plan's start: the plan is re-synced
#: (:meth:`PredictivePolicy.resync`).
RESYNC_GATE_V = 0.01


@attrs.define(kw_only=True)
class FixedPolicy:
    """Hold ``lam`` throughout (``0``: coupled learning stopped at the tolerance), at the nudge
    ``eta`` (``None``: the board's own; the steerer sets it and sets the board's back at the
    end)."""

    lam: float = 0.0
    eta: float | None = None
    name: str = "fixed"
    replans: int = 0

    def start(self, obs: Observation) -> float:
        return self.lam

    def decide(self, obs: Observation) -> float:
        return self.lam


class ControlPolicy:
    """Seed Eq. 18 on the board: ``d lam/dt = rho lam ((tol/L)^p - 1)`` with ``L`` reported.

    Parameters
    ----------
    control
        The control law (tolerance, rho, p, starting lambda, cap): the trainer's own.
    time_unit_s
        Board seconds per unit of the law's time (the trainer's unit is ``1/alpha`` steps;
        on the board, its learning time constant).
    """

    name = "control"

    def __init__(self, control: LambdaControl, *, time_unit_s: float = 0.1) -> None:
        if not (math.isfinite(time_unit_s) and time_unit_s > 0):
            raise SteerConfigError(f"time_unit_s: expected a positive time, got {time_unit_s!r}")
        self.control = control
        self.time_unit_s = float(time_unit_s)
        self.replans = 0
        self._lam = control.lam0
        self._t_s: float | None = None

    def start(self, obs: Observation) -> float:
        self._t_s = obs.t_s
        return self._lam

    def decide(self, obs: Observation) -> float:
        last = obs.t_s if self._t_s is None else self._t_s
        dt = max(obs.t_s - last, 0.0) / self.time_unit_s
        self._t_s = obs.t_s
        lam = self.control.step(np.array([self._lam]), np.array([obs.error]), dt)
        self._lam = float(lam[0])
        return self._lam


class PredictivePolicy:
    """Follow the twin's least-energy plan; re-plan on divergence; else fall back to control.

    Parameters
    ----------
    planner
        Simulates schedules on the twin.
    tol
        Tolerance, V^2.
    fallback
        The control used when the twin is not trusted, no plan reaches the tolerance (unless
        the planner's ``no_plan`` is ``"lowest"``: the schedule predicted lowest is followed),
        or more than ``max_replans`` re-plans were needed.
    trusted
        Whether the twin is trusted at the start (e.g. its calibration's held-out error).
    divergence
        Detector of board-versus-plan divergence.
    """

    name = "predictive"

    def __init__(
        self,
        planner: Planner,
        tol: float,
        fallback: ControlPolicy,
        *,
        trusted: bool = True,
        divergence: Divergence | None = None,
        max_replans: int = 3,
    ) -> None:
        self.planner = planner
        self.tol = float(tol)
        self.fallback = fallback
        self.trusted = trusted
        self.divergence = divergence if divergence is not None else MonitorDivergence()
        self.max_replans = int(max_replans)
        self.replans = 0
        #: Plans re-started from the board's state at resume (:meth:`resync`), and the largest
        #: gate move (V) each found since its plan's start.
        self.resyncs: list[float] = []
        self._plan_gates: np.ndarray | None = None
        self._fresh = False  # a plan made, training not yet resumed with it
        self.plans: list[tuple[float, Plan]] = []
        self.fell_back: str | None = None if trusted else "twin not trusted"
        #: The nudge eta the board should train at (``None``: the board's own): a plan's raised
        #: eta where lambda alone is predicted not to reach the tolerance.
        self.eta: float | None = None
        self._phase = 0
        self._t0_s = 0.0
        self._verified_early = 0  # the plan (count) verified early, once each
        #: Lowest candidates still to try, and the gates their plan started from (tries.py).
        self._tries: tuple[Prediction, ...] = ()
        self._try_gates: np.ndarray | None = None
        #: Tries switched to (a next lowest candidate, the start gates written back first).
        self.lowest_switches = 0
        #: Called before each (re-)plan: the steerer holds the board while the twin plans.
        self.before_planning: Callable[[], None] | None = None

    @property
    def current(self) -> Prediction | None:
        """The prediction being followed (``None`` once fallen back)."""
        if self.fell_back is not None or not self.plans:
            return None
        return self.plans[-1][1].best

    @property
    def start_gates_v(self) -> np.ndarray | None:
        """The gates (V) the plan just made starts from (``None`` once training went on with it).
        Also when that plan fell back to control (no schedule reaches, or its budget ran out):
        the board was held while the twin planned, and control goes on from where the hold
        began, not from where the held board drifted (across processes, seed 8: a re-plan held
        the board 9 s, its error rose from 1.6x the tolerance to 120x, and Eq. 18 started from
        there)."""
        return self._plan_gates if self._fresh else None

    def predicted_error(self, obs: Observation) -> float | None:
        """The followed plan's predicted error at ``obs`` (``None`` without a plan)."""
        best = self.current
        return None if best is None else best.error_at(obs.clock_s - self._t0_s)

    def train_for_s(self, obs: Observation) -> float | None:
        """Training time the followed plan gives the current phase from ``obs`` (to its switch
        error, or the tolerance), times ``TRAIN_MARGIN`` plus ``TRAIN_SLACK_S``, s: the board
        stops itself there if the host falls behind (``None`` without a plan: unlimited)."""
        best = self.current
        if best is None:
            return None
        until = best.schedule[min(self._phase, len(best.schedule) - 1)].until_error
        below = np.nonzero(best.error <= until)[0]
        t_end = float(best.t_s[below[0]] if below.size else best.t_s[-1])
        remaining = max(t_end - (obs.clock_s - self._t0_s), 0.0)
        if best.reached_s is None:  # the lowest schedule, held on: its predicted length each time
            remaining = max(remaining, float(best.t_s[-1]))
        train_s = TRAIN_MARGIN * remaining + TRAIN_SLACK_S
        if self.planner.config.stop_at_plan:  # timed_stop.py: end where the plan gets there
            stop = stop_in_s(best, obs.clock_s - self._t0_s, lead_s=self._lead_s)
            if stop is not None:
                return min(train_s, stop)
        return train_s

    @property
    def _lead_s(self) -> float:
        """How long before the plan's moment a timed stop comes (:mod:`~twin.steer.seek`)."""
        return SEEK_LEAD_S if self.planner.config.seeks() else 0.0

    def verify_due(self, obs: Observation) -> bool:
        """Whether to verify by inference now although the board's error reads above the
        tolerance: the followed plan has reached it by now (one that does not reach: got to
        its lowest) and the board reads within ``VERIFY_NEAR`` of it (``stop_at_plan``: whatever
        it reads, :mod:`~twin.steer.timed_stop`). The board's error is the
        mean of a window of frames, which lags a fast fall: a board that passes through the
        tolerance (e.g. at the bottom of a valley under lambda > 0) can be there before its
        window shows it, and past it after. Once per plan; the inference decides, as for any
        stop."""
        best = self.current
        if best is None or self._verified_early == len(self.plans):
            return False
        elapsed = obs.clock_s - self._t0_s
        if self.planner.config.stop_at_plan:  # stopped there: whatever the lagging window reads
            if stop_in_s(best, elapsed, lead_s=self._lead_s) is not None:
                return False
        elif elapsed < plan_there_s(best) or obs.error > VERIFY_NEAR * self.tol:
            return False
        self._verified_early = len(self.plans)
        return True

    def _overdue(self, best: Prediction, obs: Observation) -> bool:
        """The plan's time is up (``TRAIN_MARGIN`` x its time to the tolerance plus
        ``TRAIN_SLACK_S``) and the board is not there: a board held near, not at, the
        tolerance (e.g. at a lambda's error floor) would never diverge by the error ratio."""
        if best.reached_s is None or obs.error <= self.tol:
            return False
        return obs.clock_s - self._t0_s > TRAIN_MARGIN * best.reached_s + TRAIN_SLACK_S

    def _replan(self, obs: Observation) -> float:
        if self.before_planning is not None:
            self.before_planning()
        last = self.plans[-1][1].best if self.plans else None
        first = None if last is None else last.schedule[0].lam
        plan = plan_with_margin(self.planner, obs.gate_v, self.tol, first=first, at_least=self.eta)
        lowest = describe_lowest(plan, own_eta=self.planner.eta)  # before any is followed
        self._tries = ()
        if plan.best is None and not plan.truncated and self.planner.config.no_plan == "lowest":
            plan = lowest_plan(plan)  # none reaches: the schedule predicted lowest, at its eta
            self._tries = ranked_lowest(plan, self.planner.config.lowest_tries)[1:]
            self._try_gates = np.array(obs.gate_v, dtype=float)
        self.plans.append((obs.t_s, plan))
        self._plan_gates = np.array(obs.gate_v, dtype=float)
        self._fresh = True
        self._t0_s, self._phase = obs.clock_s, 0
        own = plan.eta is None or abs(plan.eta - self.planner.eta) <= 1e-9 * self.planner.eta
        self.eta = None if own else plan.eta
        if plan.best is None and plan.truncated:
            self.fell_back = (
                f"the plan budget ({self.planner.cut_by}) ran out before "
                "any schedule was predicted to reach the tolerance"
            )
            return self.fallback.start(obs)
        if plan.best is None:
            horizon = self.planner.config.horizon_s
            self.fell_back = (
                f"no schedule predicted to reach the tolerance within {horizon:g} s "
                f"({lowest} against {self.tol:.3g})"
            )
            return self.fallback.start(obs)
        return plan.best.schedule[0].lam

    def _next_try(self, best: Prediction, obs: Observation) -> float | None:
        """Switch to the next lowest candidate when the one followed has had its time
        (:func:`~twin.steer.tries.try_time_s`) and the board is not at the tolerance: a new
        plan entry from the first plan's start gates, the board held so that they are
        written back before training resumes (:func:`~twin.steer.hold.rejoin_plan`). The
        lambda to hold (``None``: no switch)."""
        factor = self.planner.config.lowest_try_factor
        if not self._tries or obs.error <= self.tol:
            return None
        if obs.clock_s - self._t0_s <= try_time_s(best, factor):
            return None
        nxt, self._tries = self._tries[0], self._tries[1:]
        plan = self.plans[-1][1]
        self.plans.append((obs.t_s, attrs.evolve(plan, best=nxt, eta=nxt.eta or plan.eta)))
        self.lowest_switches += 1
        if self.before_planning is not None:
            self.before_planning()  # hold: training resumes after the gates are written back
        self._plan_gates, self._fresh = self._try_gates, True
        self._t0_s, self._phase = obs.clock_s, 0
        own = nxt.eta is None or abs(nxt.eta - self.planner.eta) <= 1e-9 * self.planner.eta
        self.eta = None if own else nxt.eta
        return nxt.schedule[0].lam

    def resync(self, obs: Observation) -> float | None:
        """Start the followed plan from the board's state ``obs`` when training resumes.

        A board that runs in real time is held while the twin plans, and a held board is not at
        rest: its leak and comparator offsets move its gates (on a typical board the largest
        gate moves ~0.27 V in a second held, ``benchmarks/bench_hold_drift.py``), so a plan
        made at the start of a hold of seconds starts from a state the board has left. When a
        gate moved more than ``RESYNC_GATE_V`` since the plan's start, the chosen schedule is
        simulated again from ``obs``'s gates (one run, not a new search) and followed from
        there; if it no longer reaches the tolerance, a new plan is made (a re-plan; a followed
        lowest schedule, which never reaches, is followed as re-simulated). Returns
        the lambda to hold (``None``: the board is where the plan started, nothing changed).
        Only before training resumes with a new plan (a board that trained on, e.g. until it
        stopped itself, is not re-synced); a board whose clock stops while held (the
        in-process emulator) never is.
        """
        best = self.current
        if best is None or self._plan_gates is None or not self._fresh:
            return None
        moved = float(np.max(np.abs(np.asarray(obs.gate_v, dtype=float) - self._plan_gates)))
        if not moved > RESYNC_GATE_V:
            return None
        self.resyncs.append(moved)
        pred = self.planner.simulate(obs.gate_v, best.schedule, self.tol, eta=self.eta)
        if pred.reached_s is None and best.reached_s is not None:  # (the lowest never reaches)
            self.replans += 1
            if self.replans > self.max_replans:
                self.fell_back = f"diverged from the twin {self.replans} times"
                return self.fallback.start(obs)
            return self._replan(obs)
        t_s, plan = self.plans[-1]
        self.plans[-1] = (t_s, attrs.evolve(plan, best=pred))
        self._plan_gates = np.array(obs.gate_v, dtype=float)
        self._t0_s, self._phase = obs.clock_s, 0
        return pred.schedule[0].lam

    def start(self, obs: Observation) -> float:
        """Plan from ``obs`` (again after a reboot: counted as a re-plan)."""
        if self.fell_back is not None:
            self._fresh = False  # no plan made here: nothing to put the board back to
            return self.fallback.start(obs)
        self.replans += bool(self.plans)
        return self._replan(obs)

    def decide(self, obs: Observation) -> float:
        self._fresh = False  # training went on with the plan
        if self.fell_back is not None:
            return self.fallback.decide(obs)
        best = self.current
        assert best is not None
        lam = self._next_try(best, obs)
        if lam is not None:
            return lam
        predicted = best.error_at(obs.clock_s - self._t0_s)
        if math.isfinite(obs.floor_v2) and obs.floor_v2 > 0:  # what the board's readings add
            predicted += obs.floor_v2
        diverged = self.divergence.update(obs.t_s, obs.error, predicted)
        if diverged or self._overdue(best, obs):
            self.replans += 1
            if self.replans > self.max_replans:
                self.fell_back = f"diverged from the twin {self.replans} times"
                return self.fallback.start(obs)
            return self._replan(obs)
        schedule = best.schedule
        while self._phase + 1 < len(schedule) and obs.error <= schedule[self._phase].until_error:
            self._phase += 1
        return schedule[self._phase].lam
