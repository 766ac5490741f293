"""Candidates, resolution and budgets of the predictive planner (:class:`PlannerConfig`)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import attrs
import numpy as np

from .errors import SteerConfigError

__all__ = [
    "DEFAULT_BUDGET_HOLD_S",
    "DEFAULT_BUDGET_SIM_S",
    "NO_PLAN",
    "REFINE_LAMS",
    "PlannerConfig",
]

#: Default twin time one plan may simulate, s (:attr:`PlannerConfig.budget_sim_s`).
DEFAULT_BUDGET_SIM_S = 300.0
#: Default board time one plan may hold a board whose clock runs on while held, s
#: (:attr:`PlannerConfig.budget_hold_s`).
DEFAULT_BUDGET_HOLD_S = 30.0
#: Default refinement lambdas (:attr:`PlannerConfig.refine_lams`): between the grid's, where the
#: own circuits of boards missed at 1e-4 reach (0.12-0.26) and the former midpoints below 0.1.
REFINE_LAMS = (0.0055, 0.017, 0.055, 0.12, 0.15, 0.2, 0.23, 0.26)
#: What the predictive policy may do where no schedule reaches (:attr:`PlannerConfig.no_plan`).
NO_PLAN = ("control", "lowest")


def _positive(name: str, values: Sequence[float]) -> None:
    if not values or any(not (np.isfinite(v) and v > 0) for v in values):
        raise SteerConfigError(f"{name}: expected positive numbers, got {list(values)!r}")


@attrs.frozen(kw_only=True)
class PlannerConfig:
    """Candidates and resolution of the planner.

    Attributes
    ----------
    lams : tuple of float
        Lambdas held from the start (0 included: the early-stopping candidate).
    switch_factors : tuple of float
        A high lambda is held until the error is ``factor x tolerance``, then ``lam = 0``.
    dt_s : float
        Simulation step between readings, s of board time.
    horizon_s : float
        Longest stretch simulated per candidate, s.
    stall_s : float
        A candidate whose error has not fallen by 1 % in this time is abandoned, s.
    eta_factors : tuple of float
        When no lambda schedule is predicted to reach the tolerance at the board's nudge eta,
        the planner tries these multiples of it (ascending, each capped at ``eta_max``), then
        ``eta_max``, and takes the cheapest at which one does (:meth:`Planner.plan_eta`,
        ``eta_saving``): the nudge signal grows with eta,
        while the boards' free/clamped gain mismatch (a per-edge error floor) does not.
        Empty: eta is never changed.
    eta_max : float
        Largest eta the planner proposes (the board's eta setting is at most 1).
    eta_saving : float
        Of two raised etas, the higher is chosen only when its plan is predicted to save at
        least this fraction of the lower one's energy (the twin is calibrated at the board's
        eta, and predicts less well the further eta is raised; a change of the board's
        settings should pay for itself).
    budget_sim_s : float or None
        Twin time one plan may simulate, s of board time summed over its candidates and probes
        (``None``: unbounded). Counted in simulated work, not wall time, so where a plan is
        cut, and so what it chooses, does not depend on the machine's load: the same board and
        seed give the same plan. When it runs out, the plan is the best of the candidates
        simulated by then (``truncated``).
    budget_s : float or None
        Wall time one plan may take, s (``None``: unbounded, the default), measured by the
        clock the planner is given (:attr:`Planner.clock`; without one, unbounded): for a
        board whose clock runs on while it is held, an upper bound on the hold. Load-dependent:
        prefer ``budget_sim_s``.
    refine_lams : tuple of float or None
        Lambdas tried as well when no candidate of ``lams`` is predicted to reach the tolerance
        at any eta (each held to the tolerance, and branched to ``lam = 0`` at the switch points,
        at each eta in turn: :meth:`Planner.plan_eta`): the band of lambda that reaches can lie
        between two of ``lams`` (a typical board, seed 10, its own circuit from boot: lambda
        0.05 and 0.07 reach 1e-3 of the initial error at eta 0.44-1, 0.03 and 0.1 do not).
        Default :data:`REFINE_LAMS` (0.0055-0.26: typical boards in process at 1e-4 of the
        initial error, fresh seeds 100-149: 42/50 reached against 39/50 with the midpoints, 6
        gained and 3 lost; seeds 0-99: 90/100 against 84/100, 8 gained and 2 lost; neither
        significant alone, McNemar exact p = 0.51 and 0.11; ``benchmarks/evidence/steer_fine/``).
        ``None``: the geometric midpoints of consecutive positive ``lams`` (:meth:`refinement`;
        the former default); ``()``: none. Boards where ``lams`` reaches plan as without it.
    refine_margin : float
        A refinement candidate counts only where it is predicted to reach this fraction of the
        tolerance (it is planned to ``refine_margin x tolerance``): where the candidates of
        ``lams`` all fail, the one that gets there often only touches the tolerance at the
        bottom of a valley (seed 19: lambda 0.17 at eta 0.88 dips to 0.9x the tolerance for
        under 10 ms), which a board passes through before it can be stopped there.
    budget_hold_s : float or None
        Board time one plan may hold the board, s (``None``: unbounded), read from the board's
        own clock (:attr:`Planner.board_clock`, set by the steerer; without one, unbounded). A
        board whose clock stops while it is held (an emulator that makes its frames when
        polled) is never cut by it, so plans on it stay load-independent; a board that runs in
        real time is held, idle, at most this long per plan (plus a look's delay), however
        loaded the host: a real board's gates leak while held, and its time limit runs.
    no_plan : str
        What :class:`~twin.steer.policies.PredictivePolicy` does where no schedule is predicted
        to reach the tolerance (the search complete, not cut by a budget): ``"lowest"`` (the
        default), follow the simulated schedule predicted to get lowest, at its eta
        (:mod:`twin.steer.lowest`; in process, typical boards at 1e-4 of the initial error,
        seeds 0-59: 36/60 reached against 29/60 with Eq. 18, none lost); ``"control"``, Eq. 18
        control on the board's error. A twin distrusted (at the start, or after divergences)
        or a plan cut by its budget falls back to Eq. 18 either way.
    reach_margin : float
        Plans are made to ``reach_margin x tolerance`` where any schedule gets there, else to
        the tolerance (:func:`~twin.steer.margin.plan_with_margin`): a schedule predicted to
        only touch the tolerance (the bottom of a valley) often misses it on the board (typical
        boards in process at 1e-4 of the initial error, seeds 0-99: 82/100 reached against
        73/100 with 1, 10 gained and 1 lost). 1: to the tolerance.
    lowest_tries : int
        Where no schedule is predicted to reach and the lowest is followed (``no_plan``
        ``"lowest"``), the candidates predicted lowest tried on the board in turn, one per
        first lambda, the plan's start gates written back before each next
        (:mod:`twin.steer.tries`). 1 (the default): the lowest alone, held on. 3 measured no
        better (typical boards in process at 1e-4, 42 seeds: 2 gained, 4 lost, the twin's
        ranking near the tolerance too far off, and a try cutting short a lowest schedule that
        reaches when held on; ``benchmarks/evidence/steer_tries/``).
    lowest_try_factor : float
        Each try but the last is given this many times its predicted time to its lowest error
        of training (at least :data:`~twin.steer.tries.TRY_MIN_S`).
    stop_at_plan : bool
        The board is started for a training duration that ends where the followed plan gets
        there (its reach, or the lowest point of a schedule predicted not to reach), and
        verified there by inference whatever its lagging error window reads, once per plan
        (:mod:`twin.steer.timed_stop`): a steep valley under a lambda > 0 is passed before the
        window shows it. The default, with ``seek_bursts`` 15 (typical boards in process at 1e-4
        of the initial error, seeds 0-99: 81/100 reached against 66/100 without either, 16
        gained and 1 lost, McNemar exact p = 0.0003; ``benchmarks/evidence/steer_timed/``).
        ``False``: the board stops itself at 1.25x the plan's time, and is verified early only
        when it reads within 2x the tolerance.
    seek_bursts : int
        With ``stop_at_plan`` (only): the board is stopped a little before the plan's moment
        and, where the inference there does not show the tolerance, trains on in up to this
        many short bursts, each verified by inference (:mod:`twin.steer.seek`; the timed stop
        alone, 0, reached 76/100 on the seeds above). 0: no seeking.
    """

    lams: tuple[float, ...] = (0.0, 0.003, 0.01, 0.03, 0.1, 0.3)
    switch_factors: tuple[float, ...] = (300.0, 100.0, 30.0, 10.0)
    dt_s: float = 0.005
    horizon_s: float = 5.0
    stall_s: float = 0.5
    eta_factors: tuple[float, ...] = (2.0, 4.0)
    eta_max: float = 1.0
    eta_saving: float = 0.1
    refine_lams: tuple[float, ...] | None = REFINE_LAMS
    refine_margin: float = 0.5
    budget_sim_s: float | None = DEFAULT_BUDGET_SIM_S
    budget_s: float | None = None
    budget_hold_s: float | None = DEFAULT_BUDGET_HOLD_S
    no_plan: str = "lowest"
    reach_margin: float = 0.5
    lowest_tries: int = 1
    lowest_try_factor: float = 2.0
    stop_at_plan: bool = True
    seek_bursts: int = 15

    def __attrs_post_init__(self) -> None:
        for name in ("budget_s", "budget_sim_s", "budget_hold_s"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise SteerConfigError(
                    f"planner {name}: expected a positive time or None, got {value}"
                )
        if any(not (np.isfinite(f) and f > 1) for f in self.eta_factors):
            raise SteerConfigError(
                f"planner eta_factors: expected numbers > 1, got {self.eta_factors}"
            )
        if not (np.isfinite(self.eta_saving) and 0 <= self.eta_saving < 1):
            raise SteerConfigError(
                f"planner eta_saving: expected a fraction in [0, 1), got {self.eta_saving}"
            )
        if not (np.isfinite(self.eta_max) and 0 < self.eta_max <= 1):
            raise SteerConfigError(
                f"planner eta_max: expected a number in (0, 1], got {self.eta_max}"
            )
        if any(not (0 <= v < 1) for v in self.lams):
            raise SteerConfigError(f"planner lams: expected numbers in [0, 1), got {self.lams}")
        if self.refine_lams is not None and any(not (0 < v < 1) for v in self.refine_lams):
            raise SteerConfigError(
                f"planner refine_lams: expected numbers in (0, 1), got {self.refine_lams}"
            )
        if not (0 < self.refine_margin <= 1):
            raise SteerConfigError(
                f"planner refine_margin: expected a fraction in (0, 1], got {self.refine_margin}"
            )
        if not (0 < self.reach_margin <= 1):
            raise SteerConfigError(
                f"planner reach_margin: expected a fraction in (0, 1], got {self.reach_margin}"
            )
        if type(self.lowest_tries) is not int or not 1 <= self.lowest_tries <= 10:
            raise SteerConfigError(
                f"planner lowest_tries: expected an integer in 1..10, got {self.lowest_tries!r}"
            )
        if not (np.isfinite(self.lowest_try_factor) and self.lowest_try_factor >= 1):
            raise SteerConfigError(
                f"planner lowest_try_factor: expected a number >= 1, got {self.lowest_try_factor}"
            )
        if type(self.seek_bursts) is not int or not 0 <= self.seek_bursts <= 100:
            raise SteerConfigError(
                f"planner seek_bursts: expected an integer in 0..100, got {self.seek_bursts!r}"
            )
        if self.no_plan not in NO_PLAN:
            raise SteerConfigError(
                f"planner no_plan: expected one of {', '.join(NO_PLAN)}, got {self.no_plan!r}"
            )
        _positive("planner switch_factors", self.switch_factors)
        _positive("planner dt_s/horizon_s/stall_s", (self.dt_s, self.horizon_s, self.stall_s))

    def seeks(self) -> bool:
        """Whether a timed stop short of the plan's moment seeks on in bursts."""
        return self.stop_at_plan and self.seek_bursts > 0

    def refinement(self) -> tuple[float, ...]:
        """The lambdas tried when none of ``lams`` reaches (:attr:`refine_lams`; ``None``: the
        geometric midpoints of consecutive positive ``lams``), without those in ``lams``."""
        if self.refine_lams is not None:
            extra = self.refine_lams
        else:
            pos = sorted({v for v in self.lams if v > 0})
            extra = tuple(float(np.sqrt(a * b)) for a, b in itertools.pairwise(pos))
        return tuple(v for v in extra if v not in self.lams)
