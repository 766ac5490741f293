"""The predictive planner: the twin simulates lambda schedules ahead of the board.

A :class:`Schedule` is a sequence of :class:`Phase` objects: hold ``lam`` until the error
(V^2) falls to ``until_error``, then go on to the next phase; the last phase runs until the
tolerance. Switching on the *error* rather than on time makes a schedule robust when it is
executed on a board that runs a little faster or slower than the twin.

:class:`Planner` runs candidate schedules on a :class:`~twin.board.track.TwinTrack` (the
event-driven twin with the shadow's calibrated edges) from the board's current gate voltages,
and picks the one predicted to reach the tolerance with the least training energy (free
network, J). Candidates: every ``lam`` held to the tolerance, and every high ``lam`` held to
``factor x tolerance`` then ``lam = 0`` to the tolerance; trunks are shared (each high-lambda
run is simulated once and branched at every switch point). Branch and bound: the energy of a
run only grows, so a candidate is abandoned as soon as it has spent more than the least energy
to the tolerance found so far; it could not have been chosen, and the choice is the one the
exhaustive search makes (``bound=False`` runs that, for comparison). Pure and seeded: nothing
reads the wall clock.

The nudge eta is a second lever (:meth:`Planner.plan_eta`): the boards' free/clamped gain
mismatch drives each gate by a term that does not scale with eta, while the learning signal
does, so it floors the error like a per-edge lambda; where no lambda schedule is predicted to
reach the tolerance at the board's eta, the planner tries raised ones (``eta_factors``). Where
none of ``lams`` reaches at any eta, lambdas between them (``refine_lams``): the band of lambda
that reaches can be narrow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import numpy as np

from twin.board.track import TwinTrack
from twin.physics.task import Task
from twin.simulation.edge import EdgeParams
from twin.simulation.noise import NoiseConfig

from .errors import SteerConfigError, TimeLimitReached
from .lowest import lowest_error, lowest_eta
from .plan_budget import STOP_CHECK_STEPS, PlanBudget, _BudgetSpent
from .planner_config import PlannerConfig
from .plans import Phase, Plan, Prediction, Schedule, capped, join_predictions, plan_energy_j

__all__ = [
    "STOP_CHECK_STEPS",
    "Phase",
    "Plan",
    "Planner",
    "PlannerConfig",
    "Prediction",
    "Schedule",
    "lowest_error",
]


class Planner(PlanBudget):
    """Simulates schedules on the twin (see the module docstring).

    Parameters
    ----------
    task
        The board's task.
    edges
        The twin's edge circuits (calibrated to the board, or nominal).
    eta, step_s
        The board's nudge and learning step, s.
    seed
        Seed of the twin's noise keys.
    config
        Candidates and resolution.
    """

    def __init__(
        self,
        task: Task,
        edges: EdgeParams,
        *,
        eta: float,
        step_s: float,
        seed: int = 0,
        config: PlannerConfig | None = None,
    ) -> None:
        self.task = task
        self.edges = edges
        self.eta = float(eta)
        self.step_s = float(step_s)
        self.seed = int(seed)
        self.config = config if config is not None else PlannerConfig()
        self.simulated_s = 0.0
        #: Asked every ``STOP_CHECK_STEPS`` steps; True abandons the plan
        #: (:class:`~twin.steer.errors.TimeLimitReached`). The steerer's board-time limit.
        self.should_stop: Callable[[], bool] | None = None
        #: Wall clock of the plan budget (``time.monotonic``; set by the steerer): the planner
        #: itself reads no clock.
        self.clock: Callable[[], float] | None = None
        self._deadline: float | None = None
        #: The board's clock (s since steering began; ``None`` when it cannot be read), read
        #: while the twin plans (set by the steerer): ``budget_hold_s`` counts on it.
        self.board_clock: Callable[[], float | None] | None = None
        self._hold_deadline: float | None = None
        self._hold_start: float | None = None
        #: Board time each plan held the board, s, as the board's clock read it (plans made
        #: with a board clock only).
        self.holds_s: list[float] = []
        #: The budget that cut the last plan cut short ("" before any).
        self.cut_by = ""
        #: Twin time simulated so far, s, counted every step (``simulated_s`` per candidate).
        self._work_s = 0.0
        self._work_deadline: float | None = None
        self._budget_open = False

    def etas(self, *, at_least: float | None = None) -> list[float]:
        """The nudges a plan may use, in the order tried: the board's, then the raised ones
        (``eta_factors``, capped at ``eta_max``, then ``eta_max``); none below ``at_least``."""
        cfg = self.config
        raised = sorted({min(f * self.eta, cfg.eta_max) for f in cfg.eta_factors})
        if raised:  # and the highest the board takes
            raised.append(cfg.eta_max)
        etas = [self.eta, *sorted({e for e in raised if e > self.eta * (1 + 1e-9)})]
        low = self.eta if at_least is None else at_least
        return [e for e in etas if e >= low * (1 - 1e-9)]

    def _track(self, gates_v: np.ndarray, lam: float, eta: float) -> TwinTrack:
        return TwinTrack(
            self.task,
            self.edges,
            t_s=0.0,
            gates_v=np.asarray(gates_v, dtype=float),
            mode="training",
            eta=eta,
            lam=lam,
            step_s=self.step_s,
            noise=NoiseConfig(),
            rng=np.random.default_rng([self.seed, 23]),
        )

    def simulate(
        self,
        gates_v: np.ndarray,
        schedule: Schedule,
        tol: float,
        *,
        horizon_s: float | None = None,
        energy_cap_j: float = np.inf,
        eta: float | None = None,
    ) -> Prediction:
        """Run ``schedule`` on the twin from ``gates_v`` until ``tol``, a stall, the horizon, or
        more than ``energy_cap_j`` spent (then not reached); at nudge ``eta`` (default the
        board's)."""
        pred, _ = self._run(
            gates_v,
            schedule,
            tol,
            horizon_s=horizon_s,
            branch_at=(),
            energy_cap_j=energy_cap_j,
            eta=self.eta if eta is None else eta,
        )
        return pred

    def _run(
        self,
        gates_v: np.ndarray,
        schedule: Schedule,
        tol: float,
        *,
        horizon_s: float | None,
        branch_at: Sequence[float],
        energy_cap_j: float = np.inf,
        eta: float,
    ) -> tuple[Prediction, list[tuple[float, float, np.ndarray, int]]]:
        """Simulate; also the (t, energy, gates, sample index) where the error first falls to
        each of ``branch_at`` (for branching further candidates off this trunk). Stops, not
        reached, once more than ``energy_cap_j`` is spent (no later branch could spend less)."""
        cfg = self.config
        horizon = cfg.horizon_s if horizon_s is None else horizon_s
        phase = 0
        track = self._track(gates_v, schedule[0].lam, eta)
        r = track.readings()
        ts, errs, ens = [0.0], [float(r["error"])], [float(r["energy_j"])]
        branches: list[tuple[float, float, np.ndarray, int]] = []
        pending = sorted(branch_at, reverse=True)
        reached: float | None = None
        n_stall = max(1, round(cfg.stall_s / cfg.dt_s))
        while ts[-1] < horizon:
            stop = self.should_stop
            if len(ts) % STOP_CHECK_STEPS == 0:
                if stop is not None and stop():
                    raise TimeLimitReached("the time limit passed while the twin planned")
                if self._over_budget():
                    raise _BudgetSpent
            t = ts[-1] + cfg.dt_s
            self._work_s += cfg.dt_s
            track.advance(t)
            r = track.readings()
            ts.append(t)
            errs.append(float(r["error"]))
            ens.append(float(r["energy_j"]))
            while pending and errs[-1] <= pending[0]:
                branches.append((t, ens[-1], np.array(r["gate_v"]), len(ts)))
                pending.pop(0)
            if ens[-1] > energy_cap_j:
                break  # bounded: costs more than a candidate already found
            if errs[-1] <= tol:
                reached = t
                break
            while phase + 1 < len(schedule) and errs[-1] <= schedule[phase].until_error:
                phase += 1
                track.restart(t, lam=schedule[phase].lam)
            if len(errs) > n_stall and errs[-1] > 0.99 * errs[-1 - n_stall]:
                break  # stalled: this schedule (and any branch still ahead) does not get there
        self.simulated_s += ts[-1]
        pred = Prediction(
            schedule=schedule,
            t_s=np.array(ts),
            error=np.array(errs),
            energy_j=np.array(ens),
            reached_s=reached,
            energy_to_tol_j=ens[-1] if reached is not None else None,
            eta=eta,
        )
        return pred, branches

    def plan_eta(
        self,
        gates_v: np.ndarray,
        tol: float,
        *,
        first: float | None = None,
        at_least: float | None = None,
    ) -> Plan:
        """:meth:`plan` at the nudge eta predicted cheapest (:meth:`etas`: the board's, then
        the raised ones, none below ``at_least``).

        Each eta is probed with lambda = 0 alone first (a lambda > 0 adds a floor of its own).
        Where the probe reaches at the first eta (the board's own, or on a re-plan the one in
        force), the plan is made there and eta is left alone. Otherwise a full plan is made at
        every raised eta whose probe reaches, and the one predicted to reach the tolerance with
        the least training energy is taken (a higher eta only when it saves at least
        ``eta_saving`` of the lower's): the search is bounded across etas (a candidate is
        abandoned once it has spent more than the best found at any eta), so the choice is
        among the cheapest candidates of all etas, not the first eta that gets there. The
        probe is not a perfect test: lambda = 0 can stall on a plateau that a lambda > 0
        schedule gets past. When no probe reaches, full plans at each eta in order (the first
        that reaches). Where still none does, the refinement lambdas
        (:meth:`PlannerConfig.refinement`, between those of ``lams``) at each eta in order (the
        first that reaches ``refine_margin x tol``: its schedule ends there). Without any, a
        plan with no best: every schedule simulated its candidates, its ``eta`` the one whose
        probe gets lowest. One budget covers it all; when it runs out, the cheapest plan found
        by then (``truncated``); a probe that reached counts as a plan (lambda = 0 at its eta).
        """
        etas = self.etas(at_least=at_least)
        if len(etas) == 1:
            with self._budget():  # plan() returns what it has when the budget runs out
                plan = self.plan(gates_v, tol, first=first, eta=etas[0])
                if plan.best is None and not plan.truncated:
                    plan = self._refined(gates_v, tol, etas, plan)
            return plan
        probes: list[Prediction] = []
        plans: list[Plan] = []
        best_j = np.inf
        truncated = False
        with self._budget() as spent:
            for i, eta in enumerate(etas):
                lam0 = (Phase(lam=0.0, until_error=tol),)
                probe = self.simulate(gates_v, lam0, tol, eta=eta)  # whether it gets there
                if probe.reached_s is None:
                    probes.append(probe)
                    continue
                plan = self.plan(
                    gates_v,
                    tol,
                    first=first if i == 0 else None,
                    eta=eta,
                    bound_j=best_j,
                    lam0=probe,
                )
                if (
                    plan.best is None
                    and probe.energy_to_tol_j is not None
                    and (probe.energy_to_tol_j <= best_j)
                ):  # the budget ran out first: the probe
                    cands = (probe, *plan.candidates)
                    plan = Plan(best=probe, candidates=cands, eta=eta, truncated=plan.truncated)
                if i == 0 or plan.truncated:  # the eta in force reaches: kept; or out of budget
                    plans.append(plan)
                    truncated = plan.truncated
                    break
                plans.append(plan)
                best_j = min(best_j, plan_energy_j(plan))
            if not plans:
                # lambda = 0 stalls everywhere (a plateau can outlast the stall test): full
                # plans, in order, while the budget lasts (a lambda > 0 trunk may get past it)
                stalled = dict(zip(etas, probes, strict=True))  # every probe: none reached
                tried = list(probes)  # every candidate is kept (none reached: the lowest)
                for i, eta in enumerate(etas):
                    plan = self.plan(
                        gates_v, tol, first=first if i == 0 else None, eta=eta, lam0=stalled[eta]
                    )
                    if plan.best is not None or plan.truncated:
                        return plan
                    tried += plan.candidates
                unreached = Plan(
                    best=None, candidates=tuple(tried), eta=lowest_eta(etas, probes, self.eta)
                )
                return self._refined(gates_v, tol, etas, unreached)
        truncated = truncated or spent.truncated
        reaching = [p for p in plans if p.best is not None]
        if reaching:
            cheapest = reaching[0]
            for later in reaching[1:]:  # a higher eta must save at least eta_saving
                if plan_energy_j(later) < (1 - self.config.eta_saving) * plan_energy_j(cheapest):
                    cheapest = later
            return attrs.evolve(cheapest, truncated=truncated or cheapest.truncated)
        eta = lowest_eta(etas, probes, self.eta)
        return Plan(best=None, candidates=tuple(probes), eta=eta, truncated=truncated)

    def _refined(self, gates_v: np.ndarray, tol: float, etas: list[float], unreached: Plan) -> Plan:
        """No candidate of ``lams`` reaches ``tol`` at any of ``etas``: plans with the
        :meth:`PlannerConfig.refinement` lambdas to ``refine_margin x tol`` at each eta in turn,
        the first that reaches (or whose budget ran out); else ``unreached`` with every candidate
        simulated (:func:`~twin.steer.lowest.lowest_plan` picks among them). Within an open
        budget."""
        lams = self.config.refinement()
        if not lams:
            return unreached
        tried = list(unreached.candidates)
        for eta in etas:
            plan = self.plan(gates_v, self.config.refine_margin * tol, eta=eta, lams=lams)
            if plan.best is not None or plan.truncated:
                return plan
            tried += plan.candidates
        return attrs.evolve(unreached, candidates=tuple(tried))

    def plan(
        self,
        gates_v: np.ndarray,
        tol: float,
        *,
        bound: bool = True,
        first: float | None = None,
        eta: float | None = None,
        bound_j: float = np.inf,
        lam0: Prediction | None = None,
        lams: Sequence[float] | None = None,
    ) -> Plan:
        """Candidates from ``gates_v``; the least-energy one that reaches ``tol``.

        ``bound``: abandon a candidate once it has spent more than the best found so far (the
        same choice, fewer simulated seconds); ``False``: simulate every candidate fully.
        Abandoned candidates are listed, not reached; branches of an abandoned trunk past its
        abandonment are not listed. ``first``: simulate the candidates of this lambda first (a
        re-plan starts from the last plan's; a good first bound prunes the most). ``eta``: the
        nudge of every candidate (default the board's). ``bound_j``: an energy to the tolerance
        already found elsewhere (another eta), J: candidates spending more are abandoned (with
        ``bound``), and none may be best. ``lam0``: lambda = 0 held to ``tol`` at this eta from
        ``gates_v``, already simulated (:meth:`plan_eta`'s probe): taken as that candidate, cut
        where it spends more than the bound as its run would have been, instead of simulating it
        again (the twin is deterministic: the same run). ``lams``: the lambdas of the candidates
        (default the config's ``lams``).
        """
        eta = self.eta if eta is None else float(eta)
        if not (np.isfinite(tol) and tol > 0):
            raise SteerConfigError(f"tolerance: expected a positive error in V^2, got {tol!r}")
        candidates: list[Prediction] = []
        best_j = bound_j if bound else np.inf

        def keep(candidate: Prediction) -> None:
            nonlocal best_j
            candidates.append(candidate)
            if bound and candidate.energy_to_tol_j is not None:
                best_j = min(best_j, candidate.energy_to_tol_j)

        given = self.config.lams if lams is None else tuple(lams)
        lams = sorted(given, key=lambda lam: lam != first)  # stable: else in order
        with self._budget() as spent:  # out of budget: the best of what was simulated
            for lam in lams:
                direct: Schedule = (Phase(lam=lam, until_error=tol),)
                if lam == 0 and lam0 is not None and lam0.schedule == direct:
                    keep(capped(lam0, best_j))
                    continue
                switches = [f * tol for f in self.config.switch_factors] if lam > 0 else []
                trunk, branches = self._run(
                    gates_v,
                    direct,
                    tol,
                    horizon_s=None,
                    branch_at=switches,
                    energy_cap_j=best_j,
                    eta=eta,
                )
                keep(trunk)
                for (t0, e0, gates, n), until in zip(branches, switches, strict=False):
                    schedule = (Phase(lam=lam, until_error=until), Phase(lam=0.0, until_error=tol))
                    horizon = self.config.horizon_s - t0
                    tail = self.simulate(
                        gates,
                        schedule[1:],
                        tol,
                        horizon_s=horizon,
                        energy_cap_j=best_j - e0,
                        eta=eta,
                    )
                    keep(join_predictions(schedule, trunk, n, t0, e0, tail))
        truncated = spent.truncated  # lambda = 0 comes first
        reaching = [c for c in candidates if c.energy_to_tol_j is not None]
        best = min(reaching, key=lambda c: c.energy_to_tol_j or 0.0) if reaching else None
        return Plan(best=best, candidates=tuple(candidates), eta=eta, truncated=truncated)
