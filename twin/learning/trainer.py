"""Synchronous (full-batch, discrete-step) trainer for many realizations at once.

Each step solves the free and clamped states of every realization for all training examples,
applies the local rule of :mod:`twin.learning.rules`, clips to the bounds and, with dynamic control,
updates lambda. Readings are sampled on a log-spaced schedule of steps and emitted as ``sample``
documents; the energy dissipated between samples is emitted as ``energy`` documents.

Time: one learning step lasts ``step_s`` seconds (default 0.1 ms, the board's learning step, as in
the seed's Fig. 3 simulations). Conductances are held constant during a step, so the training
energy ``sum_steps P_F * step_s`` is the exact integral of the free power.

Two backends compute the same steps: ``numpy`` (the reference: batched dense or SuperLU solves per
step, :mod:`twin.physics.solver`) and ``compiled`` (:mod:`twin.kernels.train_step`: numba kernels
with a sparse Cholesky factorization that advance all realizations between record points without
returning to Python); ``auto`` is ``compiled``. Records and documents are produced in Python at
the record points, identically for both. Both form the free-clamped contrast without cancellation
and agree per step to rounding; over long runs they agree only where the dynamics are not
sensitive to rounding (see :class:`TrainConfig`, ``backend``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

import attrs
import numpy as np

from .._validators import non_negative, positive
from ..documents import Run, Subscriber
from ..errors import ConfigError
from ..kernels.train_run import KernelRun, StepParams
from ..physics.contract import Physics
from ..physics.estimate import PCG_MIN_EDGES
from ..physics.resistors import ResistorPhysics
from ..physics.solver import CircuitBatch
from ..physics.substrates import physics_for
from ._compiled import realizations
from .rules import LambdaControl, LearningRule, clip_conductance, contrast_update
from .tol_marks import ToleranceMarks

__all__ = [
    "PCG_MIN_EDGES",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "public_key",
    "record_steps",
    "resolve_solver",
    "train",
]

log = logging.getLogger("twin.trainer")

Progress = Callable[[int, int], None]

Backend = Literal["auto", "numpy", "compiled"]
BACKENDS: tuple[str, ...] = ("auto", "numpy", "compiled")
Solver = Literal["auto", "direct", "pcg"]
SOLVERS: tuple[str, ...] = ("auto", "direct", "pcg")

#: Longest run of compiled steps between two progress calls.
MAX_CHUNK_STEPS = 1000
#: Wall time aimed at per compiled chunk, seconds (keeps progress moving on large networks).
CHUNK_SECONDS = 0.25


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


def _history_arrays(
    hist: dict[str, list[Any]], err0: np.ndarray, cost_name: str = "power_w"
) -> dict[str, np.ndarray]:
    """Recorded samples as arrays, with the error also normalised by its initial value."""
    out = {public_key(key, cost_name): np.array(v) for key, v in hist.items()}
    out["error_normalized"] = out["error"] / np.where(err0 > 0, err0, 1.0)
    return out


def record_steps(steps: int, n_records: int) -> np.ndarray:
    """Log-spaced step numbers in ``[0, steps]``, always including 0 and ``steps``."""
    if steps == 0 or n_records <= 1:
        return np.unique([0, steps])
    pts = np.unique(np.round(np.logspace(0, np.log10(steps), n_records)).astype(np.int64))
    return np.unique(np.concatenate([[0], pts, [steps]]))


def _squared_error(outputs: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """Mean over examples of the summed squared target error, ``(R,)`` in V^2."""
    return np.mean(np.sum((outputs - desired) ** 2, axis=-1), axis=-1)


def _resolve_backend(name: str, physics: Physics | None = None) -> str:
    """``numpy`` or ``compiled`` for a configured backend name (``auto`` is ``compiled`` where the
    substrate has compiled kernels: resistors, and springs on the linear path)."""
    if physics is not None and physics.name != "resistors":
        fast = bool(getattr(physics, "compiled", False))
        if name == "compiled" and not fast:
            mode = getattr(physics, "mode", "")
            raise ConfigError(f"backend: 'compiled' is not available for {physics.name} "
                              f"({mode}); use numpy")  # fmt: skip
        return "compiled" if fast and name != "numpy" else "numpy"
    return "numpy" if name == "numpy" else "compiled"


def resolve_solver(config: TrainConfig, n_edges: int) -> str:
    """``direct`` or ``pcg`` for a configuration and the largest network's edge count."""
    if config.solver != "auto":
        return config.solver
    if _resolve_backend(config.backend) == "numpy" or n_edges < PCG_MIN_EDGES:
        return "direct"
    return "pcg"


class _Engine(Protocol):
    """Advances the training state; the run loop records and emits from its arrays."""

    k: np.ndarray
    lam: np.ndarray
    active: np.ndarray
    steps_done: np.ndarray
    e_free: np.ndarray
    e_clamped: np.ndarray
    pending: np.ndarray  # (2, R) free and clamped energy since the last sample, J
    chunk: int  # steps per advance call
    marks: ToleranceMarks | None

    def quantities(self) -> dict[str, np.ndarray]: ...

    def solver_stats(self) -> dict[str, np.ndarray]: ...

    def advance(self, n_steps: int) -> int: ...

    def close(self) -> None: ...


class _NumpyEngine:
    """The reference path: one :meth:`Trainer.step_quantities` call per step."""

    chunk = 1

    def __init__(self, trainer: Trainer, k: np.ndarray, lam: np.ndarray) -> None:
        rr = lam.size
        self.trainer = trainer
        self.k, self.lam = k, lam
        self.active = np.ones(rr, dtype=bool)
        self.steps_done = np.zeros(rr, dtype=np.int64)
        self.e_free = np.zeros(rr)
        self.e_clamped = np.zeros(rr)
        self.pending = np.zeros((2, rr))
        self.q = trainer.step_quantities(k, lam)
        tol = trainer.config.mark_tol
        self.marks = None if tol is None else ToleranceMarks(tol, rr)

    def quantities(self) -> dict[str, np.ndarray]:
        return self.q

    def solver_stats(self) -> dict[str, np.ndarray]:
        return {}

    def advance(self, n_steps: int) -> int:
        """One step (``n_steps`` is always 1 here); returns 1."""
        cfg, t, q, active = self.trainer.config, self.trainer, self.q, self.active
        cost = t.physics.cost
        if self.marks is not None:
            self.marks.check(self.steps_done, np.stack([self.e_free, self.e_clamped]),
                             q["error"])  # fmt: skip
        de_free = cost.update_energy_j(q["free_power_w"], cfg.step_s) * active
        de_clamped = cost.update_energy_j(q["clamped_power_w"], cfg.step_s) * active
        self.e_free += de_free
        self.e_clamped += de_clamped
        self.pending += (de_free, de_clamped)
        k_new = clip_conductance(self.k + q["dk"], t.k_min, t.k_max)
        self.k = np.where(active[:, None] & t.mask, k_new, self.k)
        if cfg.control is not None:
            self.lam = np.where(active, cfg.control.step(self.lam, q["error"], cfg.rule.alpha),
                                self.lam)  # fmt: skip
        self.steps_done += active
        self.q = t.step_quantities(self.k, self.lam)
        return 1

    def close(self) -> None:
        return None


class _CompiledEngine:
    """The numba path: :class:`twin.kernels.train_run.KernelRun` advances whole chunks of steps."""

    def __init__(self, trainer: Trainer, k: np.ndarray, lam: np.ndarray) -> None:
        cfg = trainer.config
        ctl = cfg.control
        params = StepParams(
            alpha=cfg.rule.alpha,
            eta=cfg.rule.eta,
            step_s=cfg.step_s,
            stop_tol=cfg.stop_tol or 0.0,
            ctl_tol=ctl.tol if ctl is not None else 0.0,
            rho=ctl.rho if ctl is not None else 1.0,
            p=ctl.p if ctl is not None else 1.0,
            lam_max=ctl.lam_max if ctl is not None else 1.0,
            pcg=trainer.solver == "pcg",
            solver_tol=cfg.solver_tol,
        )
        structure = realizations(trainer.tasks)
        self.run = KernelRun(structure, params, k, lam, trainer.k_min, trainer.k_max,
                             threads=cfg.threads)  # fmt: skip
        self.k, self.lam, self.active = self.run.k, self.run.lam, self.run.active
        self.steps_done = self.run.steps_done
        self.e_free, self.e_clamped = self.run.energy[0], self.run.energy[1]
        self.pending = self.run.energy[2:4]
        self.chunk = 16
        tol = cfg.mark_tol
        self.marks = None if tol is None else ToleranceMarks(tol, k.shape[0])

    def quantities(self) -> dict[str, np.ndarray]:
        return self.run.quantities()

    def solver_stats(self) -> dict[str, np.ndarray]:
        return self.run.solver_stats()

    def advance(self, n_steps: int) -> int:
        """Up to ``n_steps`` steps; fewer when every realization stopped. Adapts the chunk."""
        t0 = time.perf_counter()
        if self.marks is not None:
            done = self.marks.advance(self.run, n_steps)
        else:
            done = self.run.advance(n_steps)
        per_step = (time.perf_counter() - t0) / max(done, 1)
        self.chunk = int(np.clip(CHUNK_SECONDS / max(per_step, 1e-9), 1, MAX_CHUNK_STEPS))
        return done

    def close(self) -> None:
        self.run.close()


class Trainer:
    """Holds the physics (:class:`~twin.physics.contract.Physics`) and example arrays of ``R``
    realizations; the quantities named ``*power_w`` hold the substrate's cost (elastic energy in
    joules for springs, reported as ``*energy_j``: :func:`public_key`).

    Use :func:`train` for the common case; the class is for callers that evaluate or step by hand
    (the event-driven twin's tests, sweeps).
    """

    def __init__(
        self, tasks: Sequence[Any], config: TrainConfig, *, physics: Physics | None = None
    ) -> None:
        self.tasks = list(tasks)
        self.config = config
        self.physics: Physics = physics_for(self.tasks) if physics is None else physics
        self.inputs, self.desired = self.physics.examples("train")
        rr, e = self.physics.shape
        kmin = [config.k_min or float(lo) for lo in self.physics.k_min]
        kmax = [config.k_max or float(hi) for hi in self.physics.k_max]
        self.k_min = np.array(kmin)[:, None] * np.ones((1, e))
        self.k_max = np.array(kmax)[:, None] * np.ones((1, e))
        if np.any(self.k_min >= self.k_max):
            raise ConfigError("kmin/kmax: need kmin < kmax for every network")
        self.mask = self.physics.edge_mask
        self.k0 = np.where(self.mask, np.clip(config.kappa, self.k_min, self.k_max), 1.0)
        self.shape = (rr, e)
        self.backend = _resolve_backend(config.backend, self.physics)
        if self.physics.name != "resistors" and config.mark_tol is not None:
            raise ConfigError(f"mark_tol: resistor networks only, not {self.physics.name}")
        if self.physics.name != "resistors" and config.solver == "pcg":
            raise ConfigError(f"solver: 'pcg' is not available for {self.physics.name}")
        self.solver = resolve_solver(config, e) if self.backend == "compiled" else "direct"

    @property
    def batch(self) -> CircuitBatch:
        """The resistor circuits (resistor physics only)."""
        if not isinstance(self.physics, ResistorPhysics):
            raise AttributeError(f"batch: {self.physics.name} have no circuit batch")
        return self.physics.batch

    def evaluate(self, k: np.ndarray, examples: str = "train") -> dict[str, np.ndarray]:
        """Free-state error and mean free cost (``free_power_w``: W, or J for springs) of ``k``."""
        inputs, desired = self.physics.examples(examples)
        free = self.physics.solve(k, inputs, None)
        out = {
            "error": _squared_error(free.outputs, desired),
            "free_power_w": free.cost,
            "outputs": free.outputs,
        }
        labels = self.physics.labels(examples)
        if labels is not None:
            pred = np.argmax(free.outputs, axis=-1)
            out["accuracy"] = np.mean(pred == labels, axis=-1)
        return out

    def step_quantities(self, k: np.ndarray, lam: np.ndarray) -> dict[str, np.ndarray]:
        """Everything one learning step needs and reports, for learning DOF ``k``."""
        cfg = self.config
        terms = self.physics.rule_terms(k, self.inputs, self.desired, cfg.rule.eta)
        return {
            "error": _squared_error(terms.free.outputs, self.desired),
            "free_power_w": terms.free.cost,
            "clamped_power_w": terms.clamped.cost,
            "dk": contrast_update(cfg.rule, terms.contrast + lam[:, None] * terms.free_term),
        }

    def run(
        self,
        *,
        emit: Subscriber | None = None,
        progress: Progress | None = None,
        params: dict[str, Any] | None = None,
        k0: np.ndarray | None = None,
    ) -> TrainResult:
        """Train; see :func:`train`."""
        rr, _ = self.shape
        with Run(emit, source="twin", kind="train", params=params or {}, realizations=rr) as run:
            engine = self._engine(k0)
            try:
                result = self._loop(engine, run, progress)
            finally:
                engine.close()
            run.summary = result.summary()
        return result

    def _engine(self, k0: np.ndarray | None) -> _Engine:
        cfg = self.config
        rr, _ = self.shape
        k = self.k0.copy() if k0 is None else np.where(self.mask, np.asarray(k0, float), 1.0)
        lam = np.full(rr, cfg.control.lam0 if cfg.control and cfg.rule.lam == 0 else cfg.rule.lam)
        if self.backend == "compiled" and self.physics.name == "springs":
            from ._spring_engine import SpringKernelEngine

            return SpringKernelEngine(self, k, lam)
        if self.backend == "compiled":
            return _CompiledEngine(self, k, lam)
        return _NumpyEngine(self, k, lam)

    def _loop(self, engine: _Engine, run: Run, progress: Progress | None) -> TrainResult:
        """Step to the end, sampling on the record schedule (identical for both backends)."""
        cfg = self.config
        schedule = record_steps(cfg.steps, cfg.n_records)
        records = set(schedule.tolist())
        hist: dict[str, list[Any]] = {
            key: []
            for key in (
                "step",
                "t_s",
                "error",
                "free_power_w",
                "clamped_power_w",
                "lam",
                "energy_j",
            )
        }
        q = engine.quantities()
        err0, p0 = q["error"].copy(), q["free_power_w"].copy()
        last_t = 0.0
        step = 0
        while True:
            if cfg.stop_tol is not None:
                engine.active &= q["error"] > cfg.stop_tol
            if step in records or not engine.active.any():
                t_s = step * cfg.step_s
                self._record(hist, step, t_s, q, engine.lam, engine.e_free)
                if run.recording:
                    self._emit(run, step, last_t, t_s, hist, engine.pending, err0,
                               self.physics.cost.name)  # fmt: skip
                engine.pending[:] = 0.0
                last_t = t_s
            if step == cfg.steps or not engine.active.any():
                break
            target = int(schedule[np.searchsorted(schedule, step, side="right")])
            step += engine.advance(min(target - step, engine.chunk))
            q = engine.quantities()
            if progress is not None:
                progress(step, cfg.steps)
        marks = engine.marks
        if marks is not None:  # reached at the last step: where a stop_tol run ends too
            marks.check(engine.steps_done, np.stack([engine.e_free, engine.e_clamped]),
                        q["error"])  # fmt: skip
        return TrainResult(
            k=engine.k.copy(),
            steps_done=engine.steps_done.copy(),
            error_initial=err0,
            error_final=q["error"].copy(),
            free_power_initial_w=p0,
            free_power_final_w=q["free_power_w"].copy(),
            training_energy_j=engine.e_free.copy(),
            clamped_energy_j=engine.e_clamped.copy(),
            lam_final=engine.lam.copy(),
            history=_history_arrays(hist, err0, self.physics.cost.name),
            run_uid=run.uid,
            solver=self.solver,
            solver_stats=engine.solver_stats(),
            k_min_siemens=self.k_min[:, 0].copy(),
            k_max_siemens=self.k_max[:, 0].copy(),
            cost_name=self.physics.cost.name,
            tol_steps=None if marks is None else marks.steps.copy(),
            tol_energy_j=None if marks is None else marks.energy_j.copy(),
            tol_error=None if marks is None else marks.error.copy(),
        )

    @staticmethod
    def _record(
        hist: dict[str, list[Any]],
        step: int,
        t_s: float,
        q: dict[str, np.ndarray],
        lam: np.ndarray,
        energy: np.ndarray,
    ) -> None:
        hist["step"].append(step)
        hist["t_s"].append(t_s)
        for key in ("error", "free_power_w", "clamped_power_w"):
            hist[key].append(q[key].copy())
        hist["lam"].append(lam.copy())
        hist["energy_j"].append(energy.copy())

    @staticmethod
    def _emit(
        run: Run,
        step: int,
        t0: float,
        t1: float,
        hist: dict[str, list[Any]],
        pending: np.ndarray,
        err0: np.ndarray,
        cost_name: str = "power_w",
    ) -> None:
        data = {
            public_key(key, cost_name): hist[key][-1]
            for key in ("error", "free_power_w", "clamped_power_w", "lam", "energy_j")
        }
        data["error_normalized"] = hist["error"][-1] / np.where(err0 > 0, err0, 1.0)
        run.sample(t1, data, step=step)
        if t1 <= t0:
            return
        for r in range(pending.shape[1]):
            for comp, e_j in zip(("free_network", "clamped_network"), pending[:, r], strict=True):
                run.energy(t0, t1, e_j, component=comp, realization=r)


def train(
    tasks: Any,
    config: TrainConfig,
    *,
    emit: Subscriber | None = None,
    progress: Progress | None = None,
    params: dict[str, Any] | None = None,
    k0: np.ndarray | None = None,
    physics: Physics | None = None,
) -> TrainResult:
    """Train one or many realizations synchronously.

    Parameters
    ----------
    tasks
        One task or one per realization (same numbers of sources, targets and examples), all of
        one substrate (resistor :class:`~twin.physics.task.Task` or spring
        :class:`~twin.physics.springs.task.SpringTask`).
    config
        Run settings.
    emit
        Subscriber receiving the run's documents (start, samples, energy entries, stop).
    progress
        Called as ``progress(step, steps)`` after each step (numpy backend) or after each chunk
        of steps (compiled backend: at most every 1000 steps, about every 0.25 s).
    params
        Provenance recorded in the start document.
    k0
        Initial conductances ``(R, E)`` (siemens) instead of the uniform ``kappa``.
    physics
        The substrate built from ``tasks`` (default :func:`twin.physics.substrates.physics_for`;
        e.g. spring physics in its ``nonlinear`` mode).
    """
    task_list = list(tasks) if isinstance(tasks, Sequence) else [tasks]
    t0 = time.perf_counter()
    trainer = Trainer(task_list, config, physics=physics)
    result = trainer.run(emit=emit, progress=progress, params=params, k0=k0)
    log.info("trained %d realization(s) in %.3f s", len(task_list), time.perf_counter() - t0)
    return result
