"""Where each realization first reaches an error tolerance, marked without stopping it.

A run with ``stop_tol`` stops a realization at the first step whose training error is <= the
tolerance; a run without it goes on to the end. :class:`ToleranceMarks` gives both from one run
(``TrainConfig.mark_tol``): it notes, per realization, the step count and the free and clamped
energies at that first step, exactly the ``steps_done`` and energies a ``stop_tol`` run ends with,
and lets the realization go on, exactly as a run without a tolerance.

Exactness. The compiled kernels check the tolerance at the start of each step (before its energy
is added) and stop a realization there. :meth:`ToleranceMarks.advance` lets them do so
(``stop_tol`` set for the realizations not yet marked), reads the marks off the state they
stopped in, then advances the marked realizations with the check off (``stop_tol`` 0) to the
chunk's end. The kernels keep the whole state in arrays between calls, so a realization's
sequence of floating-point operations is the one of an uninterrupted run: its numbers are bit
for bit those of a run without ``mark_tol`` (``tests/learning/test_tol_marks.py``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["ToleranceMarks"]

#: Index of ``stop_tol`` in the kernels' settings
#: (:meth:`twin.kernels.train_arrays.StepParams.array`).
_STOP_TOL = 3


class _Run(Protocol):
    """What :meth:`ToleranceMarks.advance` uses of :class:`twin.kernels.train_run.KernelRun`."""

    par: np.ndarray
    active: np.ndarray
    steps_done: np.ndarray
    energy: np.ndarray
    error: np.ndarray

    def advance(self, n_steps: int) -> int: ...


class ToleranceMarks:
    """Per realization: the step (``-1``: not reached) and free / clamped energy (J) at which the
    training error first was <= ``tol`` (V^2), and the error there."""

    def __init__(self, tol: float, realizations: int) -> None:
        self.tol = float(tol)
        self.steps = np.full(realizations, -1, dtype=np.int64)
        self.energy_j = np.full((2, realizations), np.nan)
        self.error = np.full(realizations, np.nan)

    @property
    def marked(self) -> np.ndarray:
        """Which realizations have reached the tolerance."""
        return self.steps >= 0

    def note(self, which: np.ndarray, steps: np.ndarray, energy: np.ndarray, error: np.ndarray,
             ) -> None:  # fmt: skip
        """Mark realizations ``which`` (boolean) at their current state."""
        self.steps[which] = steps[which]
        self.energy_j[:, which] = energy[:2, which]
        self.error[which] = error[which]

    def check(self, steps: np.ndarray, energy: np.ndarray, error: np.ndarray) -> None:
        """Mark the unmarked realizations whose current error is not above ``tol`` (the kernels'
        test, ``not error > tol``: a NaN error marks, as it stops a ``stop_tol`` run)."""
        self.note(~self.marked & ~(error > self.tol), steps, energy, error)

    def advance(self, run: _Run, n_steps: int) -> int:
        """Advance every realization of ``run`` by ``n_steps``, marking those that reach ``tol``.

        Returns ``n_steps``: no realization stops.
        """
        goal = run.steps_done + n_steps
        unmarked = ~self.marked
        if unmarked.any():
            run.par[_STOP_TOL] = self.tol
            run.active[:] = unmarked
            run.advance(n_steps)
            self.note(unmarked & (run.steps_done < goal), run.steps_done, run.energy, run.error)
        run.par[_STOP_TOL] = 0.0
        while True:
            behind = run.steps_done < goal
            if not behind.any():
                break
            run.active[:] = behind
            run.advance(int((goal - run.steps_done)[behind].min()))
        run.active[:] = True
        return n_steps
