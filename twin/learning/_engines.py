"""The trainer's engines: what advances the training state between record points.

:class:`Engine` is the contract the run loop of :class:`~twin.learning.trainer.Trainer` reads
and records from; :class:`NumpyEngine` is the reference path (one
:meth:`~twin.learning.trainer.Trainer.step_quantities` call per step) and
:class:`CompiledEngine` the numba path (:class:`twin.kernels.train_run.KernelRun` advancing
whole chunks of steps). Spring physics has its own compiled engine
(:mod:`twin.learning._spring_engine`). Energies in joules, time in seconds.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..kernels.train_arrays import StepParams
from ..kernels.train_run import KernelRun
from ._compiled import realizations
from .rules import clip_conductance
from .tol_marks import ToleranceMarks

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["CHUNK_SECONDS", "MAX_CHUNK_STEPS", "CompiledEngine", "Engine", "NumpyEngine"]

#: Longest run of compiled steps between two progress calls.
MAX_CHUNK_STEPS = 1000
#: Wall time aimed at per compiled chunk, seconds (keeps progress moving on large networks).
CHUNK_SECONDS = 0.25


class Engine(Protocol):
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


class NumpyEngine:
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


class CompiledEngine:
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
        settings = trainer.settings
        runs_of = settings.cell_realizations if settings is not None else None
        structure = realizations(trainer.tasks, runs_of=runs_of or None)
        self.run = KernelRun(structure, params, k, lam, trainer.k_min, trainer.k_max,
                             threads=cfg.threads,
                             alpha=None if settings is None else settings.alpha,
                             stop_tol=None if settings is None else settings.stop_tol,
                             ctl_tol=None if settings is None else settings.control_tol,
                             )  # fmt: skip
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
