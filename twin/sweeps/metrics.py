"""Names of the metrics each kind of cell reports (one value per realization; unit as suffix).

Kept apart from the evaluators so that reading results never imports the trainer or the twin.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "METRICS",
    "REPORTED",
    "SPRING_METRICS",
    "SPRING_TWIN_METRICS",
    "TRAINER_METRICS",
    "TWIN_METRICS",
    "XY_METRICS",
    "metric_order",
]

#: Trainer cells; classification tasks add ``accuracy_train`` and ``accuracy_test``.
TRAINER_METRICS = (
    "error_initial",  # V^2, training error before learning
    "error_final",  # V^2
    "error_ratio",  # error_final / error_initial
    "free_power_initial_w",
    "free_power_final_w",
    "power_ratio",  # free_power_final_w / free_power_initial_w
    "training_energy_j",  # integral of the free power over learning
    "energy_floor_j",  # Landauer floor of writing the updates (twin.physics.energy_floor)
    "clamped_energy_j",
    "lam_final",
    "steps_done",
    "time_to_tol_s",  # NaN when the tolerance was never reached (or none was set)
    "energy_to_tol_j",  # training energy until then (stop_tol or mark_tol); NaN likewise
    "test_error",  # V^2 on the test examples; NaN when the task has none
)
#: Twin cells (:mod:`twin.sweeps.twin_cells`; ``twin simulate --json``'s quantities, the two
#: ratios, noise-floor averages, the ADC-read error, the energy total and time to tolerance).
TWIN_METRICS = (
    "error_initial",  # V^2
    "error_final",  # V^2, at the end of the run
    "error_ratio",  # error_final / error_initial
    "error_tail",  # V^2, time average over the last tail_fraction of the run (noise floor)
    "error_measured",  # V^2, final targets read through the node ADC; NaN without one
    "free_power_initial_w",
    "free_power_final_w",
    "power_ratio",  # free_power_final_w / free_power_initial_w
    "free_power_tail_w",  # time average over the last tail_fraction of the run
    "clamped_power_final_w",
    "training_energy_j",  # free network
    "clamped_energy_j",  # clamped network
    "gate_charging_energy_j",  # i^2 R of the gate-charging resistors
    "total_energy_j",  # sum of the three components
    "time_to_tol_s",  # first sampled crossing of tol; NaN if never
    "energy_to_tol_j",  # free-network energy until then
    "mean_updates_per_edge",  # edge events per edge
    "events",
    "sim_time_s",  # board time of the run
    "cpu_s",
)
#: XY cells (:mod:`twin.sweeps._xy_cell`): dimensionless, the model has no joules.
XY_METRICS = (
    "accuracy_test",  # fraction of held-out examples and random starts classified right
    "loss_test",  # mean (1 - cos) / 2 of the outputs at the free equilibrium
    "accuracy_train",
    "loss_train",
    "converged_fraction",  # held-out free states relaxed below the force tolerance
    "couplings",  # trainable couplings W_ij of the network
    "cpu_ms_per_epoch",  # CPU time of training / epochs (evaluation excluded)
)
#: Springs cells (:mod:`twin.sweeps._spring_cell`): errors are squared strains; the free state's
#: cost is its elastic energy (J), so its two readings and their ratio replace the powers.
SPRING_METRICS = (
    "error_initial",  # strain^2, squared target-strain error before learning
    "error_final",  # strain^2
    "error_ratio",  # error_final / error_initial
    "free_energy_initial_j",  # elastic energy of the free state (pins included), J
    "free_energy_final_j",
    "free_energy_ratio",  # free_energy_final_j / free_energy_initial_j
    "training_energy_j",  # the free states' energies summed over the updates (one per actuation)
    "energy_floor_j",  # Landauer floor of writing the updates
    "clamped_energy_j",  # the clamped states' energies summed likewise
    "lam_final",
    "steps_done",
    "time_to_tol_s",  # NaN when the tolerance was never reached (or none was set)
    "energy_to_tol_j",  # training energy until stop_tol was reached; NaN likewise
)
#: Twin cells of spring networks (``physics = "springs"``, :mod:`twin.sweeps._spring_twin_cell`):
#: errors are squared strains, the free and clamped states' costs elastic energies (J).
SPRING_TWIN_METRICS = (
    "error_initial",  # strain^2, squared target-strain error before learning
    "error_final",  # strain^2, at the end of the run
    "error_ratio",  # error_final / error_initial
    "error_tail",  # strain^2, time average over the last tail_fraction of the run
    "free_energy_initial_j",  # elastic energy of the free state (pins included), J
    "free_energy_final_j",
    "free_energy_ratio",  # free_energy_final_j / free_energy_initial_j
    "free_energy_tail_j",  # time average over the last tail_fraction of the run
    "clamped_energy_final_j",  # elastic energy of the clamped state at the end, J
    "training_energy_j",  # free states' energies summed over the event groups (one per actuation)
    "clamped_energy_j",  # clamped states' energies summed likewise
    "total_energy_j",  # sum of the two
    "time_to_tol_s",  # first sampled crossing of tol (strain^2); NaN if never
    "energy_to_tol_j",  # free-state energy until then
    "mean_updates_per_edge",  # agent events per spring
    "events",
    "sim_time_s",  # twin time of the run, s
    "cpu_s",
)
#: Metrics of each kind, in the order :func:`twin.sweeps.results_frame` shows them.
METRICS: dict[str, tuple[str, ...]] = {
    "trainer": TRAINER_METRICS,
    "twin": TWIN_METRICS,
    "xy": XY_METRICS,
    "springs": SPRING_METRICS,
}
#: Metrics the cells of each kind may report (a twin cell of springs reports
#: :data:`SPRING_TWIN_METRICS`), in the order results show them.
REPORTED: dict[str, tuple[str, ...]] = METRICS | {
    "twin": tuple(dict.fromkeys((*TWIN_METRICS, *SPRING_TWIN_METRICS))),
}


def metric_order(kind: str, columns: Iterable[str]) -> list[str]:
    """The metrics among ``columns`` in the order results show them: the metric set of the
    kind's substrate that ``columns`` hold most of (springs' or circuits' for twin cells) first,
    then any other the kind may report."""
    present = set(columns)
    sets = (SPRING_TWIN_METRICS, TWIN_METRICS) if kind == "twin" else (METRICS[kind],)
    first = max(sets, key=lambda names: len(present.intersection(names)))
    return [m for m in dict.fromkeys((*first, *REPORTED[kind])) if m in present]
