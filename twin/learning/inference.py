"""Inference on a trained network: the energy of applying each input for a hold time.

Each input of an example set is applied to the free network for ``hold_s`` seconds; its energy is
``P_F * hold_s`` with ``P_F = sum_i k_i dV_i^2`` the free-state power (PHYSICS.md section 5). The
run emits a ``start`` (kind ``infer``), per input a ``sample`` (``free_power_w``, ``error``) and an
``energy`` entry (phase ``inference``, component ``free_network``, method ``integral``, entry
``i`` covering ``[i * hold_s, (i + 1) * hold_s]``), then a ``stop`` with the summary.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from ..documents import Run, Subscriber
from ..errors import ConfigError, NetworkError
from ..physics.solver import CircuitBatch, free_state
from ..physics.task import Task

__all__ = ["InferenceResult", "free_power", "infer", "trained_conductance"]


def free_power(task: Task, k: np.ndarray, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Free-state power (W) and outputs (V) for each input row, conductances ``k`` (siemens).

    Returns
    -------
    power_w : (m,) ``sum_i k_i dV_i^2`` per input.
    outputs : (m, t) target values per input.
    """
    batch = CircuitBatch.from_tasks([task])
    basis = batch.basis(k[None])
    state = free_state(batch, basis, inputs[None])
    power = np.sum(k[:, None] * state.drops[0] ** 2, axis=0)
    return power, state.outputs[0]


def trained_conductance(task: Task, where: str = "") -> np.ndarray:
    """The conductances (siemens) saved with the task's network; :class:`NetworkError` if none.

    ``where`` names the network's file in the message (default: the network's name).
    """
    k = task.network.conductance
    if k is None:
        raise NetworkError(
            f"network: {where or task.network.name or 'the network'} has no trained conductances "
            "(save one with twin train --save)"
        )
    return np.asarray(k, dtype=float)


@attrs.frozen(eq=False)
class InferenceResult:
    """Outcome of :func:`infer`, one entry per applied input.

    Attributes
    ----------
    power_w : (m,) free power while the input is held, W.
    energy_j : (m,) energy of each inference, J.
    error : (m,) summed squared target error, V^2.
    hold_s : hold time of each input, s.
    example_set : name of the example set applied.
    run_uid : uid of the run's start document.
    """

    power_w: np.ndarray
    energy_j: np.ndarray
    error: np.ndarray
    hold_s: float
    example_set: str
    run_uid: str = ""

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (the ``stop`` document's and the CLI's ``--json`` object)."""
        return {
            "inputs": int(self.energy_j.size),
            "hold_s": self.hold_s,
            "set": self.example_set,
            "energy_j_total": float(self.energy_j.sum()),
            "energy_j_mean": float(self.energy_j.mean()),
            "energy_j": [float(x) for x in self.energy_j],
            "power_w": [float(x) for x in self.power_w],
            "error": [float(x) for x in self.error],
        }


def infer(
    task: Task,
    k: np.ndarray,
    *,
    example_set: str = "train",
    hold_s: float = 1e-4,
    emit: Subscriber | None = None,
    params: dict[str, Any] | None = None,
) -> InferenceResult:
    """Apply every input of ``example_set`` to the network with conductances ``k`` (siemens).

    Parameters
    ----------
    task
        The task whose example set is applied.
    k
        Conductances ``(E,)``, siemens (e.g. :func:`trained_conductance`).
    example_set
        ``train``, ``test`` or one of the task's extra sets.
    hold_s
        Time each input is held, s (> 0; default one board learning step).
    emit
        Subscriber receiving the run's documents.
    params
        Provenance recorded in the start document.

    Raises
    ------
    ConfigError
        Unknown example set or a hold time that is not > 0.
    """
    sets = task.sets()
    if example_set not in sets:
        raise ConfigError(f"set: no example set {example_set!r}; this task has {', '.join(sets)}")
    if not (np.isfinite(hold_s) and hold_s > 0):
        raise ConfigError(f"hold_s: must be a finite number > 0 s, got {hold_s!r}")
    examples = sets[example_set]
    with Run(emit, source="twin", kind="infer", params=params or {}) as run:
        power, outputs = free_power(task, k, examples.inputs)
        error = np.sum((outputs - examples.outputs) ** 2, axis=-1)
        result = InferenceResult(
            power_w=power, energy_j=power * hold_s, error=error, hold_s=hold_s,
            example_set=example_set, run_uid=run.uid,
        )  # fmt: skip
        if run.recording:
            for i, (p_w, err) in enumerate(zip(power, error, strict=True)):
                t0 = i * hold_s
                run.sample(t0, {"free_power_w": [p_w], "error": [err]})
                run.energy(t0, t0 + hold_s, p_w * hold_s, component="free_network",
                           phase="inference")  # fmt: skip
        run.summary = result.summary()
    return result
