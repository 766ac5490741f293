"""Allostery-strain tasks on spring networks (seed App. D).

Strains are relative: bond ``i`` at length ``r`` has strain ``(r - l0_i) / l0_i`` with ``l0`` the
rest length. Sources are held near their strain by stiff pinning springs of rest length
``l0 (1 + eps)`` and stiffness ``pin_stiffness`` (N/m) in both the free and the clamped state;
targets are read out, and in the clamped state pinned at ``eps_C = eps_F + eta (eps_T - eps_F)``.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from ...errors import TaskError
from ..task import Examples
from .network import SpringNetwork

__all__ = [
    "DEFAULT_PIN_STIFFNESS",
    "SOURCE_STRAIN",
    "TARGET_STRAINS",
    "SpringTask",
    "allostery_strain_task",
]

#: Pinning-spring stiffness, N/m (1000x the largest bond stiffness by default).
DEFAULT_PIN_STIFFNESS = 1e4
#: Source strain magnitude of the seed's allostery task.
SOURCE_STRAIN = 0.2
#: Target strain magnitudes of the seed's task (one drawn per target).
TARGET_STRAINS = (0.05, 0.03)


def _indices(value: Any, field: str) -> np.ndarray:
    arr = np.array(value, dtype=np.int64).ravel()
    arr.setflags(write=False)
    return arr


def _strain_matrix(value: Any, field: str, width: int) -> np.ndarray:
    arr = np.array(value, dtype=float)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] == 0:
        raise TaskError(f"{field}: expected (examples, {width}) strains, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(np.abs(arr) >= 1.0):
        raise TaskError(f"{field}: strains must be finite with |strain| < 1, got {arr.tolist()}")
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class SpringTask:
    """Strains imposed at ``sources`` and desired at ``targets`` (bond indices).

    ``source_strains`` ``(m, s)`` and ``target_strains`` ``(m, t)`` are the ``m`` training
    examples (the seed's allostery task has one).
    """

    network: SpringNetwork
    sources: np.ndarray = attrs.field(converter=lambda v: _indices(v, "sources"))
    targets: np.ndarray = attrs.field(converter=lambda v: _indices(v, "targets"))
    source_strains: np.ndarray
    target_strains: np.ndarray
    pin_stiffness: float = DEFAULT_PIN_STIFFNESS
    kind: str = "allostery-strain"
    description: str = ""

    def __attrs_post_init__(self) -> None:
        e = self.network.n_edges
        for field, idx in (("sources", self.sources), ("targets", self.targets)):
            if idx.size == 0 or idx.min() < 0 or idx.max() >= e:
                raise TaskError(f"{field}: expected bond indices in 0..{e - 1}, got {idx.tolist()}")
        both = np.concatenate([self.sources, self.targets])
        if np.unique(both).size != both.size:
            raise TaskError("sources/targets: bonds must be distinct")
        object.__setattr__(
            self,
            "source_strains",
            _strain_matrix(self.source_strains, "source_strains", self.n_sources),
        )
        object.__setattr__(
            self,
            "target_strains",
            _strain_matrix(self.target_strains, "target_strains", self.n_targets),
        )
        if self.source_strains.shape[0] != self.target_strains.shape[0]:
            raise TaskError("source_strains/target_strains: need the same number of examples")
        if not (np.isfinite(self.pin_stiffness) and self.pin_stiffness > 0):
            raise TaskError(f"pin_stiffness: expected a positive N/m, got {self.pin_stiffness!r}")

    @property
    def n_sources(self) -> int:
        return int(self.sources.size)

    @property
    def n_targets(self) -> int:
        return int(self.targets.size)

    @property
    def train(self) -> Examples:
        return Examples(inputs=self.source_strains, outputs=self.target_strains)

    def sets(self) -> dict[str, Examples]:
        """The example sets by name (only ``train``: the task is one strain pattern)."""
        return {"train": self.train}

    def evolve(self, **changes: Any) -> SpringTask:
        return attrs.evolve(self, **changes)


def allostery_strain_task(
    net: SpringNetwork,
    *,
    rng: np.random.Generator,
    n_sources: int = 2,
    n_targets: int = 2,
    source_strain: float = SOURCE_STRAIN,
    target_strains: tuple[float, ...] = TARGET_STRAINS,
    pin_stiffness: float = DEFAULT_PIN_STIFFNESS,
) -> SpringTask:
    """The seed's allostery task: strain ``source_strain`` (sign at random) at ``n_sources``
    random bonds, desired strains drawn from ``target_strains`` (sign at random) at ``n_targets``
    other random bonds. Bonds are drawn node-disjoint where the network allows it."""
    if n_sources + n_targets > net.n_edges:
        raise TaskError(f"network: {net.n_edges} bonds, need {n_sources + n_targets}")
    order = rng.permutation(net.n_edges)
    chosen: list[int] = []
    used: set[int] = set()
    for i in order:  # node-disjoint first
        ends = set(net.edges[i].tolist())
        if not ends & used:
            chosen.append(int(i))
            used |= ends
        if len(chosen) == n_sources + n_targets:
            break
    for i in order:  # then any distinct bonds
        if len(chosen) == n_sources + n_targets:
            break
        if int(i) not in chosen:
            chosen.append(int(i))
    src = np.array(chosen[:n_sources])
    tgt = np.array(chosen[n_sources:])
    src_strain = source_strain * rng.choice([-1.0, 1.0], size=n_sources)
    tgt_strain = rng.choice(np.asarray(target_strains, float), size=n_targets)
    tgt_strain = tgt_strain * rng.choice([-1.0, 1.0], size=n_targets)
    return SpringTask(
        network=net,
        sources=src,
        targets=tgt,
        source_strains=src_strain[None],
        target_strains=tgt_strain[None],
        pin_stiffness=pin_stiffness,
        description=f"allostery-strain on {net.name or 'spring network'}",
    )
