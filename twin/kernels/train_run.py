"""Driver of the compiled trainer: the arrays of a run and the threads that advance them.

:class:`~.train_arrays.Realizations` stacks the factor layouts (:mod:`.ordering`) and training
examples of ``R`` realizations, padded to common sizes (it and :class:`~.train_arrays.StepParams`
are re-exported here); :class:`KernelRun` owns every state array and calls
:func:`twin.kernels.train_step.advance` on groups of realizations (with the direct solver its
lower-overhead equal, :func:`twin.kernels.direct.advance_direct`). Realizations that share one
factor layout (the same network and constrained nodes) are advanced together in lanes by
:func:`twin.kernels.train_lanes.advance_lanes` (direct solver, up to 4 constraint rows), with
the same numbers bit for bit. The kernels release the GIL, so the work is split over threads
without changing any number (each realization is computed by one thread, in the same order,
whatever the thread count).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .direct import advance_direct
from .lanes import LANES
from .pcg import N_COUNTERS
from .status import raise_for_status
from .train_arrays import Realizations, StepParams
from .train_lanes import LANE_COLUMNS, advance_lanes
from .train_step import advance

__all__ = ["MAX_LANES", "KernelRun", "Realizations", "StepParams", "default_threads"]

#: Most realizations factorized together in lanes.
MAX_LANES = LANES


Unit = tuple[np.ndarray, tuple[np.ndarray, ...] | None]


def _merge_single(units: list[Unit], settings: np.ndarray) -> list[Unit]:
    """One thread's units with its lone realizations of the same ``settings[r]`` (rows: learning
    rate, stopping and control tolerances) in one call (in realization order)."""
    single = [idx for idx, lws in units if lws is None]
    merged: list[Unit] = [(g, w) for g, w in units if w is not None]
    if single:
        alone = np.sort(np.concatenate(single))
        for key in dict.fromkeys(map(tuple, settings[alone].tolist())):
            merged.append((alone[np.all(settings[alone] == key, axis=1)], None))
    return merged


def default_threads() -> int:
    """Worker threads for realizations: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class KernelRun:
    """Arrays of a compiled training run and the calls that advance them.

    Parameters
    ----------
    structure
        Sparse structures and examples of the realizations.
    params
        Scalar settings.
    k
        ``(R, E)`` initial conductances, siemens (padding edges are ignored).
    lam
        ``(R,)`` initial lambda.
    kmin, kmax
        ``(R, E)`` conductance bounds, siemens.
    threads
        Worker threads; ``0`` uses every available CPU (never more than the units of work).
    max_lanes
        Most realizations of one layout advanced together in lanes (``1``: none; at most
        :data:`~.lanes.LANES`).
    alpha
        ``(R,)`` learning rate of each realization (S/V^2 per step), default ``params.alpha``
        for all: realizations of several sweep cells trained in one run (one lane group per
        network, :func:`twin.sweeps.batches`). Not with lambda control, whose time step is
        ``params.alpha``.
    stop_tol
        ``(R,)`` early-stopping tolerance of each realization (V^2, 0: none), default
        ``params.stop_tol`` for all (which :class:`twin.learning.tol_marks.ToleranceMarks`
        changes between calls; with ``stop_tol`` given it must not).
    ctl_tol
        ``(R,)`` lambda-control tolerance of each realization (V^2, 0: none), default
        ``params.ctl_tol`` for all; with control, one learning rate for all.
    """

    def __init__(
        self,
        structure: Realizations,
        params: StepParams,
        k: np.ndarray,
        lam: np.ndarray,
        kmin: np.ndarray,
        kmax: np.ndarray,
        threads: int = 0,
        max_lanes: int = MAX_LANES,
        alpha: np.ndarray | None = None,
        stop_tol: np.ndarray | None = None,
        ctl_tol: np.ndarray | None = None,
    ) -> None:
        rr = structure.realizations
        self.structure = structure
        self.circ = structure.arrays()
        self.work = structure.workspace()
        self.pwork = structure.pcg_workspace(params.pcg)
        #: per realization: CG iterations, factorizations, stored solutions, refactor flag, latest
        self.counters = np.zeros((rr, N_COUNTERS), dtype=np.int64)
        self.par = params.array()
        self.alpha = np.full(rr, params.alpha) if alpha is None else np.array(alpha, dtype=float)
        if self.alpha.shape != (rr,):
            raise ValueError(f"alpha: expected shape ({rr},), got {self.alpha.shape}")
        self.stop_tol = None if stop_tol is None else np.array(stop_tol, dtype=float)
        if self.stop_tol is not None and self.stop_tol.shape != (rr,):
            raise ValueError(f"stop_tol: expected shape ({rr},), got {self.stop_tol.shape}")
        self.ctl_tol = None if ctl_tol is None else np.array(ctl_tol, dtype=float)
        if self.ctl_tol is not None and self.ctl_tol.shape != (rr,):
            raise ValueError(f"ctl_tol: expected shape ({rr},), got {self.ctl_tol.shape}")
        controlled = (params.ctl_tol > 0.0 if self.ctl_tol is None
                      else bool(np.any(self.ctl_tol > 0)))  # fmt: skip
        if controlled and np.any(self.alpha != params.alpha):
            raise ValueError("alpha: one learning rate for all realizations with lambda control")
        self.k = np.ascontiguousarray(k, dtype=float).copy()
        self.lam = np.ascontiguousarray(lam, dtype=float).copy()
        self.kmin = np.ascontiguousarray(kmin, dtype=float)
        self.kmax = np.ascontiguousarray(kmax, dtype=float)
        self.dk = np.zeros_like(self.k)
        self.active = np.ones(rr, dtype=np.bool_)
        self.steps_done = np.zeros(rr, dtype=np.int64)
        #: rows: free and clamped energy since the start, then since the last reset (joules)
        self.energy = np.zeros((4, rr))
        self.error = np.zeros(rr)
        self.free_power = np.zeros(rr)
        self.clamped_power = np.zeros(rr)
        self.iters = np.zeros(rr, dtype=np.int64)
        self.status = np.zeros(rr, dtype=np.int64)
        c = structure.cidx.shape[1]
        lanes_ok = not bool(self.par[8]) and c <= LANE_COLUMNS and max_lanes > 1
        self._layout = structure.layout_groups(min(max_lanes, LANES) if lanes_ok else 1)
        self._lane_ws: dict[tuple[int, ...], tuple[np.ndarray, ...]] = {}
        self._plans: dict[bytes, list[list[Unit]]] = {}
        n_threads = min(threads or default_threads(), len(self._layout))
        self._threads = n_threads
        self._groups = self._plan()
        self._pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None
        try:
            self._map(self._advance, 0, True)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the worker threads."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> KernelRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _units(self) -> list[Unit]:
        """Units of work of the active realizations: the active members of a layout group in
        lanes with their workspace (two or more), or one realization alone.

        A group whose members stopped (early stopping) leaves its last running ones alone: a lane
        group costs ~2.5 updates of one realization however few lanes run, and a realization's
        numbers are the same alone or in lanes (the same operations in the same order).
        """
        units: list[Unit] = []
        for group in self._layout:
            members = group[self.active[group]]
            if members.size > 1:
                lanes = np.full(LANES, members[0], dtype=np.int64)
                lanes[: members.size] = members
                key = tuple(members.tolist())
                if key not in self._lane_ws:
                    lws = self.structure.lane_workspace(members)
                    lws[10][:] = self.alpha[lanes]
                    self._lane_ws[key] = lws
                units.append((lanes, self._lane_ws[key]))
            elif members.size:
                units.append((members, None))
        return units

    def _plan(self) -> list[list[Unit]]:
        """Each thread's units for the current active set (kept per set: tolerance marks switch
        between a few)."""
        key = self.active.tobytes()
        if key not in self._plans:
            units = self._units()
            n = self._threads
            if len(self._plans) > 16:
                self._plans.clear()
            zero = np.zeros(self.alpha.shape)
            rows = np.stack([self.alpha, zero if self.stop_tol is None else self.stop_tol,
                             zero if self.ctl_tol is None else self.ctl_tol], axis=1)  # fmt: skip
            self._plans[key] = [_merge_single(units[g::n], rows) for g in range(n)]
        return self._plans[key]

    def _map(self, fn: Any, *args: Any) -> None:
        """Run ``fn(group, *args)`` for every thread's group of realizations; check status."""
        if self._pool is None:
            fn(self._groups[0], *args)
        else:
            list(self._pool.map(lambda g: fn(g, *args), self._groups))
        bad = np.flatnonzero(self.status)
        if bad.size:
            raise_for_status(int(self.status[bad[0]]), f"realization {int(bad[0])}")

    def _advance(
        self, units: list[Unit], n_steps: int,
        initial: bool = False,
    ) -> None:  # fmt: skip
        state = (self.k, self.dk, self.lam, self.active, self.steps_done, self.energy,
                 self.error, self.free_power, self.clamped_power)  # fmt: skip
        stops, ctls = self.stop_tol, self.ctl_tol
        for idx, lws in units:
            par = self.par
            if lws is None and (self.alpha[idx[0]] != par[0]
                                or (stops is not None and stops[idx[0]] != par[3])
                                or (ctls is not None and ctls[idx[0]] != par[4])):  # fmt: skip
                par = par.copy()  # lone cells of a batch
                par[0] = self.alpha[idx[0]]
                if stops is not None:
                    par[3] = stops[idx[0]]
                if ctls is not None:
                    par[4] = ctls[idx[0]]
            if lws is not None:  # each lane's stopping and control tolerances
                lws[11][:] = par[3] if stops is None else stops[idx]
                lws[12][:] = par[4] if ctls is None else ctls[idx]
            if lws is None and par[8] == 0.0:  # the direct solver
                advance_direct(idx, n_steps, initial, self.circ, self.work, par,
                               self.kmin, self.kmax, state, self.iters, self.status,
                               self.counters)  # fmt: skip
            elif lws is None:
                advance(idx, n_steps, initial, self.circ, self.work, par, self.kmin,
                        self.kmax, state, self.iters, self.status, self.pwork,
                        self.counters)  # fmt: skip
            else:
                advance_lanes(idx, n_steps, initial, self.circ, lws, self.par,
                              self.kmin, self.kmax, state, self.iters, self.status,
                              self.counters)  # fmt: skip

    def advance(self, n_steps: int) -> int:
        """Advance every active realization by up to ``n_steps`` steps.

        Returns
        -------
        int
            Steps until the last realization stopped (``n_steps`` if any is still active).
        """
        self.iters[:] = 0
        self._groups = self._plan()
        self._map(self._advance, int(n_steps))
        return int(self.iters.max(initial=0))

    def solver_stats(self) -> dict[str, np.ndarray]:
        """Per realization: CG iterations and factorizations so far (the direct solver factorizes
        at every evaluation, the first included)."""
        return {
            "iterations": self.counters[:, 0].copy(),
            "refactorizations": self.counters[:, 1].copy(),
        }

    def quantities(self) -> dict[str, np.ndarray]:
        """Current error (V^2), free and clamped power (W) and rate ``dk`` (S per step)."""
        return {
            "error": self.error,
            "free_power_w": self.free_power,
            "clamped_power_w": self.clamped_power,
            "dk": self.dk,
        }
