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
from typing import Any

import numpy as np

from ..documents import Run, Subscriber
from ..errors import ConfigError
from ..physics.contract import Physics
from ..physics.estimate import PCG_MIN_EDGES
from ..physics.resistors import ResistorPhysics
from ..physics.solver import CircuitBatch
from ..physics.substrates import physics_for
from ._engines import CompiledEngine, Engine, NumpyEngine
from .rules import contrast_update
from .train_types import RealizationSettings, TrainConfig, TrainResult, public_key

__all__ = [
    "PCG_MIN_EDGES",
    "RealizationSettings",
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


class Trainer:
    """Holds the physics (:class:`~twin.physics.contract.Physics`) and example arrays of ``R``
    realizations; the quantities named ``*power_w`` hold the substrate's cost (elastic energy in
    joules for springs, reported as ``*energy_j``: :func:`public_key`).

    Use :func:`train` for the common case; the class is for callers that evaluate or step by hand
    (the event-driven twin's tests, sweeps). ``settings``: per-realization kappa, alpha and lambda
    in place of the configuration's (:class:`RealizationSettings`).
    """

    def __init__(
        self,
        tasks: Sequence[Any],
        config: TrainConfig,
        *,
        physics: Physics | None = None,
        settings: RealizationSettings | None = None,
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
        self.settings = settings
        kappa = config.kappa if settings is None else settings.kappa[:, None]
        self.k0 = np.where(self.mask, np.clip(kappa, self.k_min, self.k_max), 1.0)
        self.shape = (rr, e)
        self.backend = _resolve_backend(config.backend, self.physics)
        if settings is not None:
            self._check_settings(settings)
        if self.physics.name != "resistors" and config.mark_tol is not None:
            raise ConfigError(f"mark_tol: resistor networks only, not {self.physics.name}")
        if self.physics.name != "resistors" and config.solver == "pcg":
            raise ConfigError(f"solver: 'pcg' is not available for {self.physics.name}")
        self.solver = resolve_solver(config, e) if self.backend == "compiled" else "direct"

    def _check_settings(self, settings: RealizationSettings) -> None:
        rr = self.shape[0]
        if settings.kappa.shape != (rr,):
            raise ConfigError(f"realization settings: expected {rr} values each, got "
                              f"{settings.kappa.shape[0]}")  # fmt: skip
        one_alpha = bool(np.all(settings.alpha == self.config.rule.alpha))
        if self.config.control is not None and not one_alpha:
            raise ConfigError("realization settings: with lambda control, one alpha for all "
                              "(the control's time step)")  # fmt: skip
        if settings.control_tol is not None:
            if self.config.control is None:
                raise ConfigError("realization settings: control_tol needs lambda control in "
                                  "the configuration")  # fmt: skip
            if self.backend != "compiled" or self.physics.name != "resistors":
                raise ConfigError("realization settings: control tolerances per realization "
                                  "need the compiled resistor trainer")  # fmt: skip
        if not one_alpha and (self.backend != "compiled" or self.physics.name != "resistors"):
            raise ConfigError("realization settings: alphas that differ need the compiled "
                              "resistor trainer")  # fmt: skip
        if settings.stop_tol is not None:
            if self.config.mark_tol is not None:
                raise ConfigError("realization settings: stop_tol, not with mark_tol")
            if self.backend == "compiled" and self.physics.name != "resistors":
                raise ConfigError("realization settings: stopping tolerances per realization "
                                  "need the resistor trainer or the numpy backend")  # fmt: skip

    @property
    def stop_tols(self) -> np.ndarray:
        """Each realization's early-stopping tolerance, V^2 (0: none)."""
        if self.settings is not None and self.settings.stop_tol is not None:
            return self.settings.stop_tol
        return np.full(self.shape[0], self.config.stop_tol or 0.0)

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

    def _engine(self, k0: np.ndarray | None) -> Engine:
        cfg = self.config
        rr, _ = self.shape
        k = self.k0.copy() if k0 is None else np.where(self.mask, np.asarray(k0, float), 1.0)
        lam = np.full(rr, cfg.control.lam0 if cfg.control and cfg.rule.lam == 0 else cfg.rule.lam)
        if self.settings is not None:
            lam = self.settings.lam.copy()
        if self.backend == "compiled" and self.physics.name == "springs":
            from ._spring_engine import SpringKernelEngine

            return SpringKernelEngine(self, k, lam)
        if self.backend == "compiled":
            return CompiledEngine(self, k, lam)
        return NumpyEngine(self, k, lam)

    def _loop(self, engine: Engine, run: Run, progress: Progress | None) -> TrainResult:
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
        stops = self.stop_tols
        stopping = stops > 0.0
        while True:
            if stopping.any():  # the kernels' test: a NaN error stops
                engine.active &= ~stopping | (q["error"] > stops)
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
