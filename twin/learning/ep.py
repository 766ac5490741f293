"""Equilibrium propagation (EP) on XY oscillator networks: free and nudged phases, the local rule.

For a batch of examples (inputs clamped, hidden and output nodes started at random phases, one row
per example and start), the free phase relaxes ``E``; the nudged phase relaxes ``E + beta C`` from
the free equilibrium. The EP estimate of the gradient of the mean cost ``C`` at the free
equilibrium is ``(<dE/dtheta>_nudged - <dE/dtheta>_free) / beta`` (one-sided, bias O(beta)) or,
with symmetric nudging, ``(<dE/dtheta>_{+beta} - <dE/dtheta>_{-beta}) / (2 beta)`` (bias
O(beta^2)). For a coupling the term is local: ``dE/dw_ab = -cos(phi_a - phi_b)``.
"""

from __future__ import annotations

import attrs
import numpy as np

from ..errors import ConfigError
from ..physics.xy.energy import XYParams, energy, energy_grads, loss, predict
from ..physics.xy.graph import XYGraph
from ..physics.xy.relax import RelaxConfig, Relaxed, relax

__all__ = ["EPBatch", "EPConfig", "EPStep", "ep_step", "free_phase", "random_starts"]


def _beta(_: object, attribute: attrs.Attribute, value: float) -> None:
    if not (0 < value < 10):
        raise ConfigError(f"{attribute.name}: expected a number in (0, 10), got {value}")


@attrs.frozen(kw_only=True)
class EPConfig:
    """EP settings: nudging strength ``beta`` (dimensionless), ``symmetric`` nudging (+beta and
    -beta), ``starts`` random starts per example and the :class:`RelaxConfig` of both phases."""

    beta: float = attrs.field(default=0.1, validator=_beta)
    symmetric: bool = False
    starts: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    relax: RelaxConfig = attrs.field(factory=RelaxConfig)


@attrs.frozen(kw_only=True, eq=False)
class EPStep:
    """One EP gradient estimate and what the phases measured (model units).

    ``grad`` estimates d<C>/dtheta; ``free`` and ``nudged`` are the relaxed states
    (``nudged_minus`` too with symmetric nudging); ``loss`` and ``accuracy`` are the batch means
    at the free equilibrium; ``energy_free`` the mean free energy.
    """

    grad: XYParams
    free: Relaxed
    nudged: Relaxed
    nudged_minus: Relaxed | None
    loss: float
    accuracy: float
    energy_free: float


@attrs.frozen(kw_only=True, eq=False)
class EPBatch:
    """Initial states ``phi0`` ``(B, N)`` (inputs clamped), output ``targets`` ``(B, K)`` and
    ``labels`` ``(B,)``: one row per example and random start."""

    phi0: np.ndarray
    targets: np.ndarray
    labels: np.ndarray


def random_starts(
    graph: XYGraph,
    x: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    starts: int,
    rng: np.random.Generator,
) -> EPBatch:
    """``starts`` random starts of every example: inputs clamped to ``x`` (``(n, n_in)`` phases),
    every other node uniform in [-pi, pi); targets ``y`` (``(n, n_out)``), classes ``labels``.
    Rows are start-major (start 0's examples first)."""
    x = np.asarray(x, dtype=float)
    phi = rng.uniform(-np.pi, np.pi, (starts * len(x), graph.n_nodes))
    phi[:, graph.inputs] = np.tile(x, (starts, 1))
    return EPBatch(
        phi0=phi,
        targets=np.tile(np.asarray(y, dtype=float), (starts, 1)),
        labels=np.tile(np.asarray(labels), starts),
    )


def free_phase(graph: XYGraph, p: XYParams, phi0: np.ndarray, config: EPConfig) -> Relaxed:
    """Relax ``phi0`` without nudging."""
    return relax(graph, p, phi0, config=config.relax)


def ep_step(graph: XYGraph, p: XYParams, batch: EPBatch, config: EPConfig) -> EPStep:
    """One EP gradient estimate over a batch (free phase, then nudged from its equilibrium)."""
    targets = batch.targets
    free = free_phase(graph, p, batch.phi0, config)
    beta = config.beta
    plus = relax(graph, p, free.phi, targets=targets, beta=beta, config=config.relax)
    g_plus = energy_grads(graph, p, plus.phi).flat()
    minus = None
    if config.symmetric:
        minus = relax(graph, p, free.phi, targets=targets, beta=-beta, config=config.relax)
        g_base, scale = energy_grads(graph, p, minus.phi).flat(), 2 * beta
    else:
        g_base, scale = energy_grads(graph, p, free.phi).flat(), beta
    out = free.phi[:, graph.outputs]
    return EPStep(
        grad=p.unflat((g_plus - g_base) / scale),
        free=free,
        nudged=plus,
        nudged_minus=minus,
        loss=float(loss(out, targets).mean()),
        accuracy=float((predict(out) == batch.labels).mean()),
        energy_free=float(energy(graph, p, free.phi).mean()),
    )
