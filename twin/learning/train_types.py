"""What a synchronous training run is given and gives back: :class:`TrainConfig` and
:class:`TrainResult` (siemens, seconds, volts squared, joules), and :func:`public_key`, the
name a result field is reported under for a substrate whose cost is not a power."""

from __future__ import annotations

from typing import Any, Literal

import attrs
import numpy as np

from .._validators import non_negative, positive
from ..errors import ConfigError
from .rules import LambdaControl, LearningRule

__all__ = ["BACKENDS", "SOLVERS", "Backend", "RealizationSettings", "Solver", "TrainConfig",
           "TrainResult", "public_key"]  # fmt: skip

Backend = Literal["auto", "numpy", "compiled"]
BACKENDS: tuple[str, ...] = ("auto", "numpy", "compiled")
Solver = Literal["auto", "direct", "pcg"]
SOLVERS: tuple[str, ...] = ("auto", "direct", "pcg")


def _backend(_inst: object, attr: attrs.Attribute[Any], value: str) -> None:
    if value not in BACKENDS:
        raise ConfigError(f"{attr.name}: expected one of {', '.join(BACKENDS)}, got {value!r}")


def _solver(_inst: object, attr: attrs.Attribute[Any], value: str) -> None:
    if value not in SOLVERS:
        raise ConfigError(f"{attr.name}: expected one of {', '.join(SOLVERS)}, got {value!r}")


def _solver_tol(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ConfigError(f"{attr.name}: expected a number in (0, 1), got {value!r}")


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Settings of a synchronous training run.

    Parameters
    ----------
    rule
        Learning rule (alpha, eta, lambda).
    kappa
        Initial conductance of every edge, siemens (clipped to the bounds).
    k_min, k_max
        Conductance bounds, siemens; ``None`` takes each network's own bounds.
    steps
        Maximum number of learning steps.
    step_s
        Duration of one learning step, seconds.
    control
        Dynamic lambda control; ``None`` keeps lambda fixed at ``rule.lam``.
    stop_tol
        Early stopping: a realization stops learning once its training error is <= this (V^2).
    mark_tol
        Mark, without stopping, where each realization first has a training error <= this
        (V^2): the step and the free and clamped energies there, exactly what a run with
        ``stop_tol = mark_tol`` ends with (``TrainResult.tol_steps``, ``tol_energy_j``), while
        the run itself is bit for bit the run without it (:mod:`twin.learning.tol_marks`).
        Resistor substrate only; not with ``stop_tol``.
    n_records
        Number of log-spaced sample points.
    backend
        ``numpy`` (reference), ``compiled`` (numba kernels) or ``auto`` (= ``compiled``). From
        the same conductances both compute the same update to rounding (within ~1e-15 of the
        exact update relative to its largest entry, ``tests/learning/test_agreement.py``).
        Trajectories agree to rounding over runs whose dynamics are not sensitive (relative
        1e-10 over a few hundred steps in the tests), but not in general: where the dynamics
        amplify rounding (e.g. the reference task at lambda 1e-5, near update 27,600) single
        runs of the two backends can end in different outcomes; only the set of outcomes of an
        ensemble of perturbed runs is the same.
    threads
        Worker threads of the compiled backend, one realization per thread at a time; ``0`` uses
        every CPU available to the process. Results do not depend on it.
    solver
        How the compiled backend solves the circuit equations at each update. ``direct`` (the
        reference): one sparse Cholesky factorization per update, exact to rounding. ``pcg``:
        conjugate gradients warm-started from the previous updates' solutions and preconditioned
        by a recent factorization, refactorizing only when the iteration count climbs
        (:mod:`twin.kernels.pcg`). ``auto`` (default): ``pcg`` for networks of at least
        :data:`PCG_MIN_EDGES` edges (where it is several times faster), ``direct`` below and
        always with the numpy backend (which has no ``pcg``).
    solver_tol
        ``pcg`` only: bound on the relative error, in the energy norm ``sqrt(x^T L x)``, of each
        basis solution of an update (the node voltages per unit constraint current, from which
        every free and clamped node voltage is formed). The target outputs, the error and the
        powers come from ``S = C X`` in a Galerkin form whose relative error is ``solver_tol^2``;
        edge drops, hence the update ``dk``, carry the first-order ``solver_tol``.
    """

    rule: LearningRule = attrs.field(factory=LearningRule)
    kappa: float = attrs.field(default=1.0, validator=positive(optional=True))
    k_min: float | None = attrs.field(default=None, validator=positive(optional=True))
    k_max: float | None = attrs.field(default=None, validator=positive(optional=True))
    steps: int = attrs.field(default=10_000, converter=int, validator=non_negative())
    step_s: float = attrs.field(default=1e-4, validator=positive(optional=True))
    control: LambdaControl | None = None
    stop_tol: float | None = attrs.field(default=None, validator=positive(optional=True))
    mark_tol: float | None = attrs.field(default=None, validator=positive(optional=True))
    n_records: int = attrs.field(default=100, converter=int, validator=non_negative())
    backend: Backend = attrs.field(default="auto", validator=_backend)
    threads: int = attrs.field(default=0, converter=int, validator=non_negative())
    solver: Solver = attrs.field(default="auto", validator=_solver)
    solver_tol: float = attrs.field(default=1e-6, converter=float, validator=_solver_tol)

    def __attrs_post_init__(self) -> None:
        if self.solver == "pcg" and self.backend == "numpy":
            raise ConfigError("solver: 'pcg' needs the compiled backend, got backend 'numpy'")
        if self.mark_tol is not None and self.stop_tol is not None:
            raise ConfigError("mark_tol: give mark_tol or stop_tol, not both")
        if self.k_min is not None and self.k_max is not None and self.k_min >= self.k_max:
            raise ConfigError(f"kmin/kmax: need kmin < kmax, got {self.k_min} >= {self.k_max}")


def _column(value: Any) -> np.ndarray:
    out = np.array(value, dtype=float)
    out.flags.writeable = False
    return out


@attrs.frozen(kw_only=True, eq=False)
class RealizationSettings:
    """Per-realization initial conductance ``kappa`` (S), learning rate ``alpha``, initial lambda
    ``lam``, early-stopping tolerance ``stop_tol`` and lambda-control tolerance ``control_tol``
    (V^2), ``(R,)`` each, in place of the
    configuration's: the realizations of several sweep cells that differ only in these, trained
    in one run so that the realizations sharing a network share one lane group
    (:mod:`twin.kernels.train_lanes`). Each realization's numbers are those of a run with its
    own values in the configuration (bit for bit, compiled backend;
    ``tests/sweeps/test_batches.py``: each realization keeps the factor layout of its own
    cell's run). With lambda control (the configuration's, whose tolerance ``control_tol``
    replaces), one learning rate for all (the control's time step); a learning rate or a control
    tolerance that differs between realizations needs the compiled resistor trainer, a stopping
    tolerance the resistor trainer."""

    kappa: np.ndarray = attrs.field(converter=_column)
    alpha: np.ndarray = attrs.field(converter=_column)
    lam: np.ndarray = attrs.field(converter=_column)
    #: Realizations of one cell: the run's realizations are runs of this many, each laid out as
    #: in its own cell's run (:func:`twin.learning._compiled.realizations`); 0: all one cell.
    cell_realizations: int = attrs.field(default=0, converter=int)
    #: Early-stopping tolerance of each realization, V^2 (0: none); ``None``: the
    #: configuration's ``stop_tol`` for all.
    stop_tol: np.ndarray | None = attrs.field(
        default=None, converter=attrs.converters.optional(_column)
    )
    #: Lambda-control tolerance of each realization, V^2 (0: fixed lambda); ``None``: the
    #: configuration's control for all.
    control_tol: np.ndarray | None = attrs.field(
        default=None, converter=attrs.converters.optional(_column)
    )

    def __attrs_post_init__(self) -> None:
        shapes = {self.kappa.shape, self.alpha.shape, self.lam.shape}
        for tols in (self.stop_tol, self.control_tol):
            if tols is not None:
                shapes.add(tols.shape)
        if len(shapes) != 1 or len(self.kappa.shape) != 1:
            raise ConfigError(f"realization settings: expected (R,) arrays, got {shapes}")
        if not (np.all(self.kappa > 0) and np.all(self.alpha > 0)):
            raise ConfigError("realization settings: kappa and alpha must be > 0")
        for name in ("stop_tol", "control_tol"):
            tols = getattr(self, name)
            if tols is not None and not np.all(tols >= 0):
                raise ConfigError(f"realization settings: {name} must be >= 0 (0: none)")


@attrs.frozen(eq=False)
class TrainResult:
    """Outcome of :func:`train`; arrays have one entry per realization.

    Attributes
    ----------
    k : (R, E) final conductances (siemens; padding edges of smaller networks are meaningless).
    steps_done : (R,) steps each realization learned for.
    error_initial, error_final : (R,) training error, V^2 (mean over examples of the summed
        squared target error).
    free_power_initial_w, free_power_final_w : (R,) free power averaged over training examples, W.
    training_energy_j : (R,) integral of the free power over learning, J.
    clamped_energy_j : (R,) integral of the clamped-state power, J.
    lam_final : (R,) lambda at the end.
    history : log-spaced samples, each ``(n_samples, R)``; ``step``, ``t_s`` are ``(n_samples,)``.
        Keys: step, t_s, error (V^2), error_normalized (L / L(t=0)), free_power_w,
        clamped_power_w, lam, energy_j.
    solver : the solver used (``direct`` or ``pcg``).
    solver_stats : per realization ``(R,)``: ``iterations`` (CG iterations in all) and
        ``refactorizations`` (sparse factorizations, one per evaluation with ``direct``); empty
        for the numpy backend.
    k_min_siemens, k_max_siemens : (R,) conductance bounds the run used (siemens): the configured
        ones or each network's own (``None`` when not known).
    tol_steps, tol_energy_j, tol_error : with ``mark_tol``: per realization the step at which
        the training error was first <= ``mark_tol`` (``-1``: never), the free and clamped
        energies there ``(2, R)`` (J; NaN: never) and the error there (V^2); else ``None``.
    """

    k: np.ndarray
    steps_done: np.ndarray
    error_initial: np.ndarray
    error_final: np.ndarray
    free_power_initial_w: np.ndarray
    free_power_final_w: np.ndarray
    training_energy_j: np.ndarray
    clamped_energy_j: np.ndarray
    lam_final: np.ndarray
    history: dict[str, np.ndarray]
    run_uid: str = ""
    solver: str = "direct"
    solver_stats: dict[str, np.ndarray] = attrs.field(factory=dict)
    k_min_siemens: np.ndarray | None = None
    k_max_siemens: np.ndarray | None = None
    cost_name: str = "power_w"
    tol_steps: np.ndarray | None = None
    tol_energy_j: np.ndarray | None = None
    tol_error: np.ndarray | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: per-realization lists plus means (``*_mean``)."""
        out: dict[str, Any] = {}
        fields = {
            "error_initial": self.error_initial,
            "error_final": self.error_final,
            "free_power_initial_w": self.free_power_initial_w,
            "free_power_final_w": self.free_power_final_w,
            "training_energy_j": self.training_energy_j,
            "clamped_energy_j": self.clamped_energy_j,
            "lam_final": self.lam_final,
        }
        single = self.k.shape[0] == 1
        for field, arr in fields.items():
            name = public_key(field, self.cost_name)
            out[name] = float(arr[0]) if single else [float(x) for x in arr]
            if not single:
                out[f"{name}_mean"] = float(np.mean(arr))
        out["steps"] = int(self.steps_done[0]) if single else [int(s) for s in self.steps_done]
        bounds = (("k_min_siemens", self.k_min_siemens), ("k_max_siemens", self.k_max_siemens))
        for field, bound in bounds:
            name = public_key(field, self.cost_name)
            if bound is not None:  # one number when every realization shares it
                same = bool(np.all(bound == bound[0]))
                out[name] = float(bound[0]) if same else [float(x) for x in bound]
        return out


def public_key(key: str, cost_name: str) -> str:
    """A reported key for a substrate whose cost is ``cost_name`` (:class:`~twin.physics.
    contract.Cost`): ``free_power_initial_w`` reads ``free_energy_initial_j`` and
    ``k_min_siemens`` reads ``k_min_n_per_m`` for springs."""
    if cost_name == "power_w":
        return key
    if key.endswith("_siemens"):
        return key.removesuffix("_siemens") + "_n_per_m"
    if "power" not in key or not key.endswith("_w"):
        return key
    return key[:-2].replace("power", "energy") + "_j"
