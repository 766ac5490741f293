"""Free and clamped states of resistor networks, for many realizations and examples at once.

The network is linear, so every state is a combination of a few basis solutions. Ground nodes are
eliminated; the reduced Laplacian ``L`` (positive definite on a connected network) and the
boundary-condition rows ``C`` (one per source, then one per target: ``e_a`` for a node, ``D_i`` for
an edge) give

    X = L^-1 C^T      (node response to a unit current injected at each constraint)
    S = C X           (constraint-space Schur complement, c x c, positive definite)
    G = D X           (edge drops of each basis solution)

A state with constraint values ``b`` (volts) has constraint currents ``mu = S^-1 b`` (amperes,
the Lagrange multipliers), node voltages ``X mu`` and edge drops ``G mu``. The free state uses the
source block only; the clamped state uses sources and targets. One factorization of ``L`` per
conductance vector serves every example and both states.

Realizations with different networks or boundary conditions are batched by padding: missing nodes
become isolated identity rows, missing edges become inert edges with zero drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np

from ..errors import SolverError, TaskError
from .task import Task

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = [
    "DENSE_MAX_NODES",
    "Basis",
    "CircuitBatch",
    "State",
    "clamped_state",
    "free_state",
    "nudged_targets",
]

#: Above this many reduced nodes the sparse (SuperLU) backend is used.
DENSE_MAX_NODES = 400


@attrs.frozen(eq=False)
class Basis:
    """Basis solutions for one conductance array ``k`` of shape ``(R, E)``.

    Attributes
    ----------
    x : (R, n, c) node voltages (V) per unit constraint current (A).
    s : (R, c, c) constraint-space response, volts per ampere.
    g : (R, E, c) edge drops (V) per unit constraint current (A).
    """

    x: np.ndarray
    s: np.ndarray
    g: np.ndarray


@attrs.frozen(eq=False)
class State:
    """A network state for ``m`` examples in each of ``R`` realizations.

    Attributes
    ----------
    currents : (R, c', m) currents injected at the constrained sources/targets, amperes.
    drops : (R, E, m) edge voltage drops, volts.
    outputs : (R, m, t) values at the targets (node voltages or edge drops), volts.
    """

    currents: np.ndarray
    drops: np.ndarray
    outputs: np.ndarray


def _constraint_rows(task: Task, free_index: np.ndarray, n: int) -> np.ndarray:
    net = task.network
    rows = []
    for kind, idx in ((task.source_kind, task.sources), (task.target_kind, task.targets)):
        for i in idx:
            row = np.zeros(n + 1)  # last slot collects grounded nodes and is dropped
            if kind == "nodes":
                row[free_index[i]] = 1.0
            else:
                u, v = net.edges[i]
                row[free_index[u]] += 1.0
                row[free_index[v]] -= 1.0
            rows.append(row[:n])
    c = np.array(rows)
    if np.linalg.matrix_rank(c) < c.shape[0]:
        raise SolverError(
            "sources/targets: the boundary conditions are not independent "
            "(e.g. source edges closing a loop through ground)"
        )
    return c


@attrs.frozen(eq=False)
class CircuitBatch:
    """The conductance-independent structure of ``R`` tasks, padded to common sizes.

    Build with :meth:`from_tasks`. All tasks need the same numbers of sources, targets and
    training examples (true for realizations of one task kind).
    """

    n_sources: int
    n_targets: int
    n_free: int  # padded reduced node count n
    ends: np.ndarray  # (R, E, 2) reduced node indices; n marks ground/inert
    edge_mask: np.ndarray  # (R, E) True for real edges
    constraints: np.ndarray  # (R, c, n)
    free_index: np.ndarray  # (R, N_max) reduced index per node, n for ground/padding
    n_nodes: np.ndarray  # (R,) real node counts
    pad_nodes: np.ndarray  # (R, n) True where a reduced row is padding
    #: :meth:`laplacian`'s scatter of the conductances, made at its first call (structure only)
    _scatter: tuple[np.ndarray, tuple[np.ndarray, ...]] | None = attrs.field(
        init=False, default=None, repr=False
    )

    @classmethod
    def from_tasks(cls, tasks: Sequence[Task]) -> CircuitBatch:
        if not tasks:
            raise TaskError("realizations: need at least one task")
        s, t = tasks[0].n_sources, tasks[0].n_targets
        for r, task in enumerate(tasks):
            if (task.n_sources, task.n_targets) != (s, t):
                raise TaskError(f"realization {r}: all tasks need {s} sources and {t} targets")
        n_red = [task.network.n_nodes - task.ground.size for task in tasks]
        n = max(n_red)
        e = max(task.network.n_edges for task in tasks)
        nmax = max(task.network.n_nodes for task in tasks)
        rr = len(tasks)
        ends = np.full((rr, e, 2), n, dtype=np.int64)
        mask = np.zeros((rr, e), dtype=bool)
        cons = np.zeros((rr, s + t, n))
        fidx = np.full((rr, nmax), n, dtype=np.int64)
        pad = np.ones((rr, n), dtype=bool)
        for r, task in enumerate(tasks):
            net = task.network
            free = np.ones(net.n_nodes, dtype=bool)
            free[task.ground] = False
            fi = np.full(net.n_nodes, n, dtype=np.int64)
            fi[free] = np.arange(n_red[r])
            fidx[r, : net.n_nodes] = fi
            ends[r, : net.n_edges] = fi[net.edges]
            mask[r, : net.n_edges] = True
            pad[r, : n_red[r]] = False
            cons[r, :, : n_red[r]] = _constraint_rows(task, fi, n)[:, : n_red[r]]
        return cls(
            n_sources=s,
            n_targets=t,
            n_free=n,
            ends=ends,
            edge_mask=mask,
            constraints=cons,
            free_index=fidx,
            n_nodes=np.array([task.network.n_nodes for task in tasks]),
            pad_nodes=pad,
        )

    @property
    def realizations(self) -> int:
        return int(self.ends.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.ends.shape[1])

    # ------------------------------------------------------------------ Laplacian

    def laplacian(self, k: np.ndarray) -> np.ndarray:
        """Dense reduced Laplacians ``(R, n, n)`` for conductances ``k`` ``(R, E)`` (siemens)."""
        rr, n = self.realizations, self.n_free
        trash = rr * n * n
        idx, rows = self._laplacian_scatter()
        w = np.stack([k, k, -k, -k], axis=-1)
        flat = np.bincount(idx, weights=w.ravel(), minlength=trash + 1)[:trash]
        lap = flat.reshape(rr, n, n)
        lap[rows[0], rows[1], rows[1]] = 1.0
        return lap

    def _laplacian_scatter(self) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Where each edge's ``k, k, -k, -k`` go in the flattened Laplacians (``R n^2`` for
        ground or inert ends) and the padding rows: the structure alone, so made once."""
        if self._scatter is None:
            rr, n = self.realizations, self.n_free
            u, v = self.ends[..., 0], self.ends[..., 1]
            base = (np.arange(rr) * n * n)[:, None]
            trash = rr * n * n
            ok_u, ok_v = u < n, v < n
            both = ok_u & ok_v
            idx = np.stack(
                [
                    np.where(ok_u, base + u * n + u, trash),
                    np.where(ok_v, base + v * n + v, trash),
                    np.where(both, base + u * n + v, trash),
                    np.where(both, base + v * n + u, trash),
                ],
                axis=-1,
            )
            object.__setattr__(self, "_scatter", (idx.ravel(), np.nonzero(self.pad_nodes)))
        assert self._scatter is not None
        return self._scatter

    def sparse_laplacian(self, k_r: np.ndarray, r: int) -> sp.csc_matrix:
        """Sparse reduced Laplacian of realization ``r`` (padding rows are identity)."""
        import scipy.sparse as sp  # local: only large networks need scipy

        n = self.n_free
        u, v = self.ends[r, :, 0], self.ends[r, :, 1]
        ok = self.edge_mask[r]
        rows = np.concatenate([u, v, u, v])
        cols = np.concatenate([u, v, v, u])
        vals = np.concatenate([k_r, k_r, -k_r, -k_r])
        keep = np.concatenate([ok, ok, ok, ok]) & (rows < n) & (cols < n)
        pad = np.flatnonzero(self.pad_nodes[r])
        rows = np.concatenate([rows[keep], pad])
        cols = np.concatenate([cols[keep], pad])
        vals = np.concatenate([vals[keep], np.ones(pad.size)])
        return sp.csc_matrix((vals, (rows, cols)), shape=(n, n))

    # ------------------------------------------------------------------ basis

    def basis(self, k: np.ndarray) -> Basis:
        """Basis solutions for conductances ``k`` of shape ``(R, E)`` (siemens)."""
        k = np.asarray(k, dtype=float)
        if k.shape != (self.realizations, self.n_edges):
            raise TaskError(
                f"conductance: expected shape {(self.realizations, self.n_edges)}, got {k.shape}"
            )
        ct = np.swapaxes(self.constraints, 1, 2)  # (R, n, c)
        if self.n_free <= DENSE_MAX_NODES:
            try:
                x = np.linalg.solve(self.laplacian(k), ct)
            except np.linalg.LinAlgError:
                raise SolverError(
                    "conductance: the Laplacian is singular (zero or negative conductances?)"
                ) from None
        else:
            x = np.stack([self._sparse_solve(k[r], r, ct[r]) for r in range(self.realizations)])
        return self._basis_from_x(x)

    def _sparse_solve(self, k_r: np.ndarray, r: int, rhs: np.ndarray) -> np.ndarray:
        import scipy.sparse.linalg as spla

        try:
            lu = spla.splu(self.sparse_laplacian(k_r, r), permc_spec="MMD_AT_PLUS_A")
        except RuntimeError as exc:
            raise SolverError(f"conductance: the Laplacian is singular ({exc})") from None
        return np.asarray(lu.solve(rhs))

    def _basis_from_x(self, x: np.ndarray) -> Basis:
        s = self.constraints @ x
        xp = np.concatenate([x, np.zeros((x.shape[0], 1, x.shape[2]))], axis=1)
        ridx = np.arange(x.shape[0])[:, None]
        g = xp[ridx, self.ends[..., 0]] - xp[ridx, self.ends[..., 1]]
        return Basis(x=x, s=s, g=g)

    def node_voltages(self, basis: Basis, currents: np.ndarray) -> np.ndarray:
        """Full node voltages ``(R, N_max, m)`` (volts) for constraint currents ``(R, c', m)``.

        Grounded and padding nodes read 0 V.
        """
        c = currents.shape[1]
        v = basis.x[:, :, :c] @ currents
        vp = np.concatenate([v, np.zeros((v.shape[0], 1, v.shape[2]))], axis=1)
        ridx = np.arange(v.shape[0])[:, None]
        return vp[ridx, self.free_index]


def free_state(batch: CircuitBatch, basis: Basis, inputs: np.ndarray) -> State:
    """Free state for ``inputs`` ``(R, m, s)`` (volts at source nodes or across source edges)."""
    s = batch.n_sources
    b = np.swapaxes(inputs, 1, 2)
    mu = np.linalg.solve(basis.s[:, :s, :s], b)
    outputs = np.swapaxes(basis.s[:, s:, :s] @ mu, 1, 2)
    drops = basis.g[:, :, :s] @ mu
    return State(currents=mu, drops=drops, outputs=outputs)


def clamped_state(
    batch: CircuitBatch, basis: Basis, inputs: np.ndarray, clamp: np.ndarray
) -> State:
    """Clamped state: ``inputs`` ``(R, m, s)`` at sources, ``clamp`` ``(R, m, t)`` at targets."""
    b = np.concatenate([np.swapaxes(inputs, 1, 2), np.swapaxes(clamp, 1, 2)], axis=1)
    mu = np.linalg.solve(basis.s, b)
    drops = basis.g @ mu
    return State(currents=mu, drops=drops, outputs=np.asarray(clamp))


def nudged_targets(free_outputs: np.ndarray, desired: np.ndarray, eta: float) -> np.ndarray:
    """Clamped target values ``V_F + eta * (V~ - V_F)`` (PHYSICS.md section 2)."""
    return free_outputs + eta * (desired - free_outputs)
