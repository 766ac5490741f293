"""The compiled engine of spring physics: :func:`twin.kernels.springs.spring_steps` behind the
trainer's engine interface (the same one as the resistor engines of :mod:`.trainer`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SolverError
from ..physics.springs.linear import SpringBatch
from ..physics.springs.physics import SpringPhysics
from ._engines import CHUNK_SECONDS, MAX_CHUNK_STEPS

if TYPE_CHECKING:
    from .tol_marks import ToleranceMarks
    from .trainer import Trainer

__all__ = ["SpringKernelEngine", "layouts", "row_nonzeros"]


def row_nonzeros(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(R, E, 4)`` (-1 for none) and values of the nonzeros of rigidity rows."""
    rr, e, _ = rows.shape
    idx = np.full((rr, e, 4), -1, dtype=np.int64)
    val = np.zeros((rr, e, 4))
    for r in range(rr):
        for i in range(e):
            nz = np.flatnonzero(rows[r, i])
            idx[r, i, : nz.size] = nz
            val[r, i, : nz.size] = rows[r, i, nz]
    return idx, val


def layouts(batch: SpringBatch) -> tuple[np.ndarray, ...]:
    """The block factor layouts of every realization's ``H_F``, stacked for the kernel."""
    from ..kernels.spring_layout import spring_layout, stack_spring_layouts

    ridx, rval = row_nonzeros(batch.rigidity)
    cidx, cval = row_nonzeros(batch.constraints)
    return stack_spring_layouts(
        [
            spring_layout(
                batch.coords[r],
                ridx[r],
                rval[r],
                cidx[r],
                cval[r],
                float(batch.pin[r]),
                batch.n_sources,
            )
            for r in range(batch.realizations)
        ]
    )


class SpringKernelEngine:
    """Advances all realizations in compiled chunks; quantities as the numpy engine's."""

    def __init__(self, trainer: Trainer, k: np.ndarray, lam: np.ndarray) -> None:
        from ..kernels.springs import spring_steps  # numba: loaded once a run is accepted

        physics = trainer.physics
        assert isinstance(physics, SpringPhysics)
        batch = physics.batch
        cfg, ctl = trainer.config, trainer.config.control
        self._steps: Callable[..., int] = spring_steps
        rr = lam.size
        self.k = np.ascontiguousarray(k, dtype=float)
        self.lam = np.array(lam, dtype=float)
        self.active = np.ones(rr, dtype=bool)
        self.steps_done = np.zeros(rr, dtype=np.int64)
        self.energy = np.zeros((4, rr))
        self.e_free, self.e_clamped, self.pending = self.energy[0], self.energy[1], self.energy[2:]
        self.status = np.zeros(rr, dtype=np.int64)
        self.chunk = 16
        self.marks: ToleranceMarks | None = None  # mark_tol: resistor networks only
        s = batch.n_sources
        self.struct: tuple[np.ndarray, ...] = (
            *layouts(batch),
            np.ascontiguousarray(batch.l0),
            np.ascontiguousarray(batch.pin, dtype=float),
            np.ascontiguousarray(batch.source_forces(trainer.inputs)),
            np.ascontiguousarray(batch.l0[:, :s, None] * np.swapaxes(trainer.inputs, 1, 2)),
            np.ascontiguousarray(trainer.desired, dtype=float),
        )
        self.params = np.array(
            [
                cfg.rule.alpha,
                cfg.rule.eta,
                cfg.stop_tol or 0.0,
                1.0 if ctl else 0.0,
                ctl.tol if ctl else 0.0,
                ctl.rho if ctl else 1.0,
                ctl.p if ctl else 1.0,
                ctl.lam_max if ctl else 1.0,
            ]
        )
        self.mask = np.ascontiguousarray(trainer.mask)
        self.k_min = np.ascontiguousarray(trainer.k_min, dtype=float)
        self.k_max = np.ascontiguousarray(trainer.k_max, dtype=float)
        q0 = trainer.step_quantities(self.k, self.lam)  # the reference's first evaluation
        self.q = np.stack([q0["error"], q0["free_power_w"], q0["clamped_power_w"]], axis=1)

    def quantities(self) -> dict[str, np.ndarray]:
        q = self.q
        return {
            "error": q[:, 0].copy(),
            "free_power_w": q[:, 1].copy(),
            "clamped_power_w": q[:, 2].copy(),
        }

    def solver_stats(self) -> dict[str, np.ndarray]:
        return {}

    def advance(self, n_steps: int) -> int:
        """Up to ``n_steps`` updates; adapts the chunk to about :data:`CHUNK_SECONDS`."""
        t0 = time.perf_counter()
        done = int(
            self._steps(
                n_steps,
                self.k,
                self.lam,
                self.active,
                self.steps_done,
                self.energy,
                self.q,
                self.status,
                self.mask,
                self.k_min,
                self.k_max,
                *self.struct,
                self.params,
            )
        )
        if np.any(self.status):
            bad = int(np.flatnonzero(self.status)[0])
            raise SolverError(f"stiffness: realization {bad}: the Hessian is singular (floppy)")
        per_step = (time.perf_counter() - t0) / max(done, 1)
        self.chunk = int(np.clip(CHUNK_SECONDS / max(per_step, 1e-9), 1, MAX_CHUNK_STEPS))
        return done

    def close(self) -> None:
        return None
