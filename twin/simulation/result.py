"""The outcome of a twin run: :class:`TwinResult` (final state, sampled history, statistics)."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

__all__ = ["TwinResult"]


@attrs.frozen(eq=False)
class TwinResult:
    """Outcome of a twin run (single realization).

    Attributes
    ----------
    k : (E,) final conductances of the free network (example 0), siemens (the contract twin,
        :mod:`.physics_twin`: its agents' learning DOF, N/m for springs).
    gate_v : (E,) final gate voltages, V (empty for the contract twin: it has no gates).
    history : sampled series: ``t_s``, ``error``, ``free_power_w``, ``clamped_power_w``,
        ``energy_j``, ``events``, ``gate_v`` ``(n_samples, E)``.
    stats : scalar outcomes (see :meth:`summary`).
    """

    k: np.ndarray
    gate_v: np.ndarray
    history: dict[str, np.ndarray]
    stats: dict[str, float]
    run_uid: str = ""

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (the CLI's ``--json`` object)."""
        return dict(self.stats)
