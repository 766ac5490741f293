"""Driver of the compiled trainer: the arrays of a run and the threads that advance them.

:class:`Realizations` stacks the factor layouts (:mod:`.ordering`) and training examples of
``R`` realizations, padded to common sizes; :class:`KernelRun` owns every state array and calls
:func:`twin.kernels.train_step.advance` on groups of realizations. Realizations that share one
factor layout (the same network and constrained nodes) are advanced together in lanes by
:func:`twin.kernels.train_lanes.advance_lanes` (direct solver, up to 4 constraint rows), with
the same numbers bit for bit. The kernels release the GIL, so the work is split over threads
without changing any number (each realization is computed by one thread, in the same order,
whatever the thread count).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import numpy as np

from .lanes import LANES
from .ordering import FactorLayout
from .pcg import N_COUNTERS
from .status import raise_for_status
from .train_lanes import LANE_COLUMNS, advance_lanes
from .train_step import advance

__all__ = ["MAX_LANES", "KernelRun", "Realizations", "StepParams", "default_threads"]

#: Most realizations factorized together in lanes.
MAX_LANES = LANES


def _pad(arrays: Sequence[np.ndarray], fill: float, dtype: Any) -> np.ndarray:
    """Stack arrays whose first lengths differ into one array padded with ``fill``."""
    length = max(1, *(a.shape[0] for a in arrays))
    out = np.full((len(arrays), length, *arrays[0].shape[1:]), fill, dtype=dtype)
    for r, a in enumerate(arrays):
        out[r, : a.shape[0]] = a
    return out


@attrs.frozen(eq=False)
class Realizations:
    """Factor structures and training examples of ``R`` realizations, padded to common sizes.

    Build with :meth:`from_layouts` (from tasks: :func:`twin.learning._compiled.realizations`).
    Each realization keeps its own sizes: padding is stored, never computed.
    """

    sizes: np.ndarray  # (R, 5): reduced nodes, real edges, split, first constraint row, values
    colptr: np.ndarray  # (R, split_max + 1)
    rowind: np.ndarray  # (R, nnz_max)
    rlptr: np.ndarray  # (R, split_max + 1)
    rlcol: np.ndarray  # (R, rl_max)
    rlpos: np.ndarray  # (R, rl_max)
    tstart: np.ndarray  # (R, split_max)
    diagpos: np.ndarray  # (R, n_max)
    ends: np.ndarray  # (R, E, 2)
    offdiag: np.ndarray  # (R, E)
    cidx: np.ndarray  # (R, c, 2)
    cval: np.ndarray  # (R, c, 2)
    inputs: np.ndarray  # (R, m, s) volts
    desired: np.ndarray  # (R, m, t) volts
    input_moment: np.ndarray  # (R, s, s) sum over examples of b b^T, V^2

    @classmethod
    def from_layouts(
        cls, layouts: Sequence[FactorLayout], inputs: np.ndarray, desired: np.ndarray
    ) -> Realizations:
        """Stack per-realization layouts and examples (``inputs`` ``(R, m, s)``, ``desired``
        ``(R, m, t)``, volts; every realization has the same ``m``, ``s`` and ``t``)."""
        ls = list(layouts)
        inputs = np.asarray(inputs, dtype=float)
        sizes = [(c.n, c.ends.shape[0], c.split, c.first, c.n_values) for c in ls]
        return cls(
            sizes=np.array(sizes, dtype=np.int64),
            colptr=_pad([c.colptr for c in ls], 0, np.int64),
            rowind=_pad([c.rowind for c in ls], 0, np.int64),
            rlptr=_pad([c.rlptr for c in ls], 0, np.int64),
            rlcol=_pad([c.rlcol for c in ls], 0, np.int64),
            rlpos=_pad([c.rlpos for c in ls], 0, np.int64),
            tstart=_pad([c.tstart for c in ls], 0, np.int64),
            diagpos=_pad([c.diagpos for c in ls], 0, np.int64),
            ends=_pad([c.ends for c in ls], 0, np.int64),
            offdiag=_pad([c.offdiag for c in ls], -1, np.int64),
            cidx=np.stack([c.cidx for c in ls]),
            cval=np.stack([c.cval for c in ls]),
            inputs=inputs,
            desired=np.asarray(desired, dtype=float),
            input_moment=np.einsum("rmi,rmj->rij", inputs, inputs),
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The structure in the order the kernels unpack it."""
        return (
            self.sizes,
            self.colptr,
            self.rowind,
            self.rlptr,
            self.rlcol,
            self.rlpos,
            self.tstart,
            self.diagpos,
            self.ends,
            self.offdiag,
            self.cidx,
            self.cval,
            self.inputs,
            self.desired,
            self.input_moment,
        )

    def workspace(self) -> tuple[np.ndarray, ...]:
        """Zeroed scratch arrays of every realization, in the order the kernels unpack them.

        Factor values, position map, basis ``x`` and its product ``y`` (``cw`` columns: the
        constraint count rounded up to a multiple of 4), ``S``, the rule's form ``Q`` and small
        matrices of the coefficient algebra.
        """
        rr = self.realizations
        n_max = int(self.sizes[:, 0].max())
        c = self.cidx.shape[1]
        cw = 4 * ((c + 3) // 4)
        return (
            np.zeros((rr, int(self.sizes[:, 4].max()))),
            np.zeros((rr, n_max), dtype=np.int64),
            np.zeros((rr, n_max + 1, cw)),
            np.zeros((rr, n_max + 1, cw)),
            np.zeros((rr, c, c)),
            np.zeros((rr, cw, cw)),
            np.zeros((rr, 12, c, c)),
        )

    def pcg_workspace(self, enabled: bool) -> tuple[np.ndarray, ...]:
        """Arrays of the PCG solver (:func:`twin.kernels.pcg.pcg_basis`), in kernel order.

        Inverse conductances of the stored factor, the two previous basis solutions, four
        basis-shaped vectors and per-column scalars; placeholders of one row when ``enabled`` is
        false.
        """
        rr = self.realizations
        c = self.cidx.shape[1]
        cw = 4 * ((c + 3) // 4)
        m = int(self.sizes[:, 0].max()) + 1 if enabled else 1
        e = self.ends.shape[1] if enabled else 1
        return (
            np.ones((rr, e)),
            np.zeros((rr, 2, m, cw)),
            *(np.zeros((rr, m, cw)) for _ in range(4)),
            np.zeros((rr, 6, cw)),
        )

    @property
    def realizations(self) -> int:
        return int(self.sizes.shape[0])

    def layout_groups(self, max_lanes: int) -> list[np.ndarray]:
        """Realizations in groups of at most ``max_lanes`` sharing one factor layout.

        Ordered by each group's first realization; a realization whose layout no other shares
        is a group of one.
        """
        keyed: dict[bytes, list[int]] = {}
        layout = self.arrays()[:12]
        for r in range(self.realizations):
            key = b"|".join(np.ascontiguousarray(a[r]).tobytes() for a in layout)
            keyed.setdefault(key, []).append(r)
        groups = []
        for members in keyed.values():
            for g in range(0, len(members), max(1, max_lanes)):
                groups.append(np.array(members[g : g + max_lanes], dtype=np.int64))
        return sorted(groups, key=lambda g: int(g[0]))

    def lane_workspace(self, group: np.ndarray) -> tuple[np.ndarray, ...]:
        """Scratch of one group of realizations computed in lanes, in kernel order.

        With ``W`` = :data:`~.lanes.LANES`: factor values (flat ``(values, W)``), position map,
        basis (flat ``(n + 1, 4, W)``), ``S`` ``(c, c, W)``, an accumulator ``(4 W)``, pivot
        flags and the rates' coefficients and values ``(10 + E, W)``.
        """
        w = LANES
        n, nvals = int(self.sizes[group[0], 0]), int(self.sizes[group[0], 4])
        c = self.cidx.shape[1]
        return (
            np.zeros(nvals * w),
            np.zeros(n, dtype=np.int64),
            np.zeros((n + 1) * LANE_COLUMNS * w),
            np.zeros((c, c, w)),
            np.zeros(LANE_COLUMNS * w),
            np.ones(w, dtype=np.bool_),
            np.zeros((10 + self.ends.shape[1], w)),
        )


@attrs.frozen(kw_only=True)
class StepParams:
    """Scalar settings of a run (see :class:`twin.learning.trainer.TrainConfig`).

    ``alpha`` (S/V^2 per step) and ``eta`` are the rule's, ``step_s`` the step duration in seconds,
    ``stop_tol`` the early-stopping tolerance and ``ctl_tol`` the lambda-control tolerance (V^2;
    ``<= 0`` disables either); ``rho``, ``p`` and ``lam_max`` are the control's constants.

    ``pcg`` selects the basis solver (false: one factorization per update; true:
    :func:`twin.kernels.pcg.pcg_basis`), ``solver_tol`` its relative energy-norm tolerance per
    basis column, ``max_iters`` the iterations after which it refactorizes at once,
    ``refactor_iters`` the iterations of one update above which the next update refactorizes,
    and ``kappa_max`` the largest ratio ``max(k/k_f) / min(k/k_f)`` it iterates at.
    """

    alpha: float
    eta: float
    step_s: float
    stop_tol: float = 0.0
    ctl_tol: float = 0.0
    rho: float = 1.0
    p: float = 1.0
    lam_max: float = 1.0
    pcg: bool = False
    solver_tol: float = 1e-6
    max_iters: int = 8
    refactor_iters: int = 2
    kappa_max: float = 4.0

    def array(self) -> np.ndarray:
        """The settings in the order the kernels read them."""
        return np.array(
            [
                self.alpha,
                self.eta,
                self.step_s,
                self.stop_tol,
                self.ctl_tol,
                self.rho,
                self.p,
                self.lam_max,
                1.0 if self.pcg else 0.0,
                self.solver_tol,
                self.max_iters,
                self.refactor_iters,
                self.kappa_max,
            ]
        )


Unit = tuple[np.ndarray, tuple[np.ndarray, ...] | None]


def _merge_single(units: list[Unit]) -> list[Unit]:
    """One thread's units with its lone realizations in one call (in realization order)."""
    single = [idx for idx, lws in units if lws is None]
    merged: list[Unit] = [(g, w) for g, w in units if w is not None]
    if single:
        merged.append((np.sort(np.concatenate(single)), None))
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
    ) -> None:
        rr = structure.realizations
        self.structure = structure
        self.circ = structure.arrays()
        self.work = structure.workspace()
        self.pwork = structure.pcg_workspace(params.pcg)
        #: per realization: CG iterations, factorizations, stored solutions, refactor flag, latest
        self.counters = np.zeros((rr, N_COUNTERS), dtype=np.int64)
        self.par = params.array()
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
        units = self._units(max_lanes)
        n_threads = min(threads or default_threads(), len(units))
        self._groups = [_merge_single(units[g::n_threads]) for g in range(n_threads)]
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

    def _units(self, max_lanes: int) -> list[Unit]:
        """Units of work: a group in lanes with its workspace, or one realization alone."""
        c = self.structure.cidx.shape[1]
        lanes_ok = not bool(self.par[8]) and c <= LANE_COLUMNS and max_lanes > 1
        units: list[Unit] = []
        for group in self.structure.layout_groups(min(max_lanes, LANES) if lanes_ok else 1):
            if group.size > 1:
                lanes = np.full(LANES, group[0], dtype=np.int64)
                lanes[: group.size] = group
                units.append((lanes, self.structure.lane_workspace(group)))
            else:
                units.append((group, None))
        return units

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
        for idx, lws in units:
            if lws is None:
                advance(idx, n_steps, initial, self.circ, self.work, self.par, self.kmin,
                        self.kmax, state, self.iters, self.status, self.pwork,
                        self.counters)  # fmt: skip
            else:
                advance_lanes(idx, n_steps, initial, self.circ, self.work, lws, self.par,
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
