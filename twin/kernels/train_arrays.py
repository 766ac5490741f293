"""The arrays of a compiled training run: the realizations' structures and the scalar settings.

:class:`Realizations` stacks the factor layouts (:mod:`.ordering`) and training examples of
``R`` realizations, padded to common sizes, and makes their scratch arrays (one realization at a
time, the PCG solver's, lanes); :class:`StepParams` holds the run's scalar settings in the order
the kernels read them. :class:`twin.kernels.train_run.KernelRun` advances them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from .lane_rule import rule_rows
from .lanes import LANES
from .ordering import FactorLayout
from .train_lanes import LANE_COLUMNS

__all__ = ["Realizations", "StepParams"]


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

        Rows of ``W`` = :data:`~.lanes.LANES` doubles (flat arrays, each aligned to 64 bytes):
        factor values (one row per value), basis (rows ``(n + 1, 4)``), ``S`` (rows ``(c, c)``),
        an accumulator (4 rows), the pivot flags (``W`` booleans), the rates' coefficients and
        values (``11 + E`` rows), the conductances by edge (``E`` rows), the scratch of the
        rule's coefficients (:func:`~.lane_rule.rule_rows`), the examples (inputs, outputs and
        their moment: :func:`~.lane_rule.lane_examples`), the lanes' lambdas (one row) and
        their learning rates alpha, early-stopping tolerances and lambda-control tolerances
        (one row each, zero here: :class:`~.train_run.KernelRun` fills them).
        """
        w = LANES
        n, nvals = int(self.sizes[group[0], 0]), int(self.sizes[group[0], 4])
        c, e = self.cidx.shape[1], self.ends.shape[1]
        m, ns, nt = self.inputs.shape[1], self.inputs.shape[2], self.desired.shape[2]
        return (
            _aligned_zeros(nvals * w),
            _aligned_zeros((n + 1) * LANE_COLUMNS * w),
            _aligned_zeros(c * c * w),
            _aligned_zeros(LANE_COLUMNS * w),
            np.ones(w, dtype=np.bool_),
            _aligned_zeros((11 + e) * w),
            _aligned_zeros(e * w),
            _aligned_zeros(rule_rows(c) * w),
            _aligned_zeros((m * (ns + nt) + ns * ns) * w),
            _aligned_zeros(w),
            _aligned_zeros(w),
            _aligned_zeros(w),
            _aligned_zeros(w),
        )


def _aligned_zeros(size: int, align: int = 64) -> np.ndarray:
    """A zeroed float64 array of ``size`` whose data starts at a multiple of ``align`` bytes
    (a row of lanes is then one cache line: no vector load straddles two)."""
    buf = np.zeros(size + align // 8)
    skip = (-buf.ctypes.data % align) // 8
    return buf[skip : skip + size]


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
