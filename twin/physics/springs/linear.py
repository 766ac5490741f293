"""Linear response of unstrained spring networks: the fast path of the spring physics.

For an unstrained network (rest lengths equal to the lengths) the prestress vanishes and, to first
order in the displacements ``u``, the extensions are ``s = R u`` (``R`` the rigidity matrix with
the rigid motions' coordinates removed). Source bonds carry pinning springs of stiffness ``K``
(N/m) and rest extension ``l0 eps``; the free state minimises

    E(u) = 1/2 u^T R^T k R u + 1/2 K |C_S u - l0_S eps_S|^2

so ``H_F u = C_S^T K l0_S eps_S`` with ``H_F = R^T k R + K C_S^T C_S`` (``C`` the rows of ``R`` at
the source and then the target bonds). One factorization of ``H_F`` per stiffness vector gives the
basis ``X = H_F^-1 C^T``, ``S = C X`` (constraint-space compliance, m/N) and ``G = R X``
(extension per unit constraint force). Every state is a combination: with source forces
``w_S = K l0_S eps_S`` and target forces ``y``, the extensions are ``G_S w_S + G_T y``. Pinning
the targets at strain ``eps`` (the clamped state) adds ``K C_T^T C_T`` to ``H``; by Woodbury
``(I + K S_TT) y = K (l0_T eps - S_TS w_S)``. The clamped-minus-free extensions of a nudge
``eta (eps_T - eps_F)`` follow directly as ``G_T (I + K S_TT)^-1 K l0_T eta (eps_T - eps_F)``.

Realizations are batched by padding (dense batched solves up to :data:`DENSE_MAX_DOF` degrees of
freedom, one sparse LU per realization above). A singular ``H_F`` (a floppy mode the pins do not
hold) raises :class:`~twin.errors.SolverError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np

from ...errors import SolverError, TaskError
from .network import fixed_coordinates, rigidity_matrix
from .task import SpringTask

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["DENSE_MAX_DOF", "LinearBasis", "SpringBatch"]

#: Above this many degrees of freedom the sparse (SuperLU) path is used.
DENSE_MAX_DOF = 600


@attrs.frozen(eq=False)
class LinearBasis:
    """``s`` ``(R, c, c)`` compliance (m/N) and ``g`` ``(R, E, c)`` extension per unit force."""

    s: np.ndarray
    g: np.ndarray


class SpringBatch:
    """The stiffness-independent structure of ``R`` spring tasks, padded to common sizes."""

    def __init__(self, tasks: Sequence[SpringTask]) -> None:
        s, t = tasks[0].n_sources, tasks[0].n_targets
        for r, task in enumerate(tasks):
            if (task.n_sources, task.n_targets) != (s, t):
                raise TaskError(f"realization {r}: all tasks need {s} sources and {t} targets")
        self.n_sources, self.n_targets = s, t
        rr = len(tasks)
        self.n_edges = max(task.network.n_edges for task in tasks)
        reduced = []
        #: per realization, the flat coordinate ``2 node + axis`` of each free degree of freedom
        self.coords: list[np.ndarray] = []
        for task in tasks:
            free = np.ones(2 * task.network.n_nodes, dtype=bool)
            free[fixed_coordinates(task.network)] = False
            reduced.append(rigidity_matrix(task.network)[:, free])
            self.coords.append(np.flatnonzero(free))
        self.n_dof = max(m.shape[1] for m in reduced)
        self.edge_mask = np.zeros((rr, self.n_edges), dtype=bool)
        self.rigidity = np.zeros((rr, self.n_edges, self.n_dof))
        self.pad_dof = np.ones((rr, self.n_dof), dtype=bool)
        bonds = np.zeros((rr, s + t), dtype=np.int64)
        for r, (task, m) in enumerate(zip(tasks, reduced, strict=True)):
            e, n = m.shape
            self.rigidity[r, :e, :n] = m
            self.edge_mask[r, :e] = True
            self.pad_dof[r, :n] = False
            bonds[r] = np.concatenate([task.sources, task.targets])
        self.bonds = bonds
        ridx = np.arange(rr)[:, None]
        self.constraints = self.rigidity[ridx, bonds]  # (R, c, n)
        self.rest = np.stack(
            [
                np.pad(
                    task.network.rest_lengths,
                    (0, self.n_edges - task.network.n_edges),
                    constant_values=1.0,
                )
                for task in tasks
            ]
        )
        self.l0 = self.rest[ridx, bonds]  # (R, c) rest lengths of the constraint bonds, m
        self.pin = np.array([task.pin_stiffness for task in tasks])  # (R,) N/m
        self._sparse: dict[int, tuple[sp.csr_matrix, sp.csr_matrix]] = {}

    @property
    def realizations(self) -> int:
        return int(self.rigidity.shape[0])

    def free_hessian(self, k: np.ndarray) -> np.ndarray:
        """Dense ``H_F = R^T k R + K C_S^T C_S`` ``(R, n, n)``, N/m; padding rows identity."""
        rk = self.rigidity * k[:, :, None]
        h = np.swapaxes(self.rigidity, 1, 2) @ rk
        cs = self.constraints[:, : self.n_sources]
        h += self.pin[:, None, None] * (np.swapaxes(cs, 1, 2) @ cs)
        rows = np.nonzero(self.pad_dof)
        h[rows[0], rows[1], rows[1]] = 1.0
        return h

    def basis(self, k: np.ndarray) -> LinearBasis:
        """Basis solutions for stiffnesses ``k`` ``(R, E)`` (N/m)."""
        if k.shape != (self.realizations, self.n_edges):
            raise TaskError(
                f"stiffness: expected shape {(self.realizations, self.n_edges)}, got {k.shape}"
            )
        ct = np.swapaxes(self.constraints, 1, 2)  # (R, n, c)
        if self.n_dof <= DENSE_MAX_DOF:
            h = self.free_hessian(k)
            try:
                x = np.linalg.solve(h, ct)
            except np.linalg.LinAlgError:
                raise SolverError(_FLOPPY) from None
        else:
            x = np.stack([self._sparse_solve(k[r], r, ct[r]) for r in range(self.realizations)])
        if not np.all(np.isfinite(x)):
            raise SolverError(_FLOPPY)
        return LinearBasis(s=self.constraints @ x, g=self.rigidity @ x)

    def _sparse_parts(self, r: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Sparse rigidity matrix and ``K C_S^T C_S + padding`` of realization ``r`` (cached)."""
        import scipy.sparse as sp

        if r not in self._sparse:
            rm = sp.csr_matrix(self.rigidity[r])
            cs = sp.csr_matrix(self.constraints[r, : self.n_sources])
            pad = sp.diags(self.pad_dof[r].astype(float))
            self._sparse[r] = (rm, (self.pin[r] * (cs.T @ cs) + pad).tocsr())
        return self._sparse[r]

    def _sparse_solve(self, k_r: np.ndarray, r: int, rhs: np.ndarray) -> np.ndarray:
        import scipy.sparse as sp
        import scipy.sparse.linalg as spla

        rm, constant = self._sparse_parts(r)
        h = rm.T @ sp.diags(k_r) @ rm + constant
        try:
            lu = spla.splu(h.tocsc())
        except RuntimeError:
            raise SolverError(_FLOPPY) from None
        return np.asarray(lu.solve(rhs))

    def source_forces(self, source_strains: np.ndarray) -> np.ndarray:
        """``w_S = K l0_S eps_S`` ``(R, s, m)`` (N) for strains ``(R, m, s)``."""
        s = self.n_sources
        return self.pin[:, None, None] * self.l0[:, :s, None] * np.swapaxes(source_strains, 1, 2)

    def target_forces(
        self, basis: LinearBasis, w_s: np.ndarray, target_strains: np.ndarray
    ) -> np.ndarray:
        """Target pin forces ``y`` ``(R, t, m)`` (N) holding the targets near ``target_strains``."""
        s = self.n_sources
        kk = self.pin[:, None, None]
        a = np.eye(self.n_targets)[None] + kk * basis.s[:, s:, s:]
        rhs = kk * (
            self.l0[:, s:, None] * np.swapaxes(target_strains, 1, 2) - basis.s[:, s:, :s] @ w_s
        )
        return np.linalg.solve(a, rhs)

    def nudge_forces(self, basis: LinearBasis, nudge_strain: np.ndarray) -> np.ndarray:
        """Target forces ``(R, t, m)`` of the clamped-minus-free state for a strain nudge
        ``eta (eps_T - eps_F)`` ``(R, m, t)``, solved for directly."""
        s = self.n_sources
        kk = self.pin[:, None, None]
        a = np.eye(self.n_targets)[None] + kk * basis.s[:, s:, s:]
        return np.linalg.solve(a, kk * self.l0[:, s:, None] * np.swapaxes(nudge_strain, 1, 2))


_FLOPPY = "stiffness: the Hessian is singular (a floppy mode, or non-positive stiffnesses)"
