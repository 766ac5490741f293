"""Names of the metrics each kind of cell reports (one value per realization; unit as suffix).

Kept apart from the evaluators so that reading results never imports the trainer or the twin.
"""

from __future__ import annotations

__all__ = ["METRICS", "TRAINER_METRICS", "TWIN_METRICS"]

#: Trainer cells; classification tasks add ``accuracy_train`` and ``accuracy_test``.
TRAINER_METRICS = (
    "error_initial",  # V^2, training error before learning
    "error_final",  # V^2
    "error_ratio",  # error_final / error_initial
    "free_power_initial_w",
    "free_power_final_w",
    "power_ratio",  # free_power_final_w / free_power_initial_w
    "training_energy_j",  # integral of the free power over learning
    "clamped_energy_j",
    "lam_final",
    "steps_done",
    "time_to_tol_s",  # NaN when the tolerance was never reached (or none was set)
    "test_error",  # V^2 on the test examples; NaN when the task has none
)
#: Twin cells (``twin simulate --json``'s quantities plus the two ratios).
TWIN_METRICS = (
    "error_initial",
    "error_final",
    "error_ratio",
    "free_power_initial_w",
    "free_power_final_w",
    "power_ratio",
    "clamped_power_final_w",
    "training_energy_j",
    "clamped_energy_j",
    "gate_charging_energy_j",
    "events",
    "sim_time_s",
)
#: Metrics of each kind, in the order :func:`twin.sweeps.results_frame` shows them.
METRICS: dict[str, tuple[str, ...]] = {"trainer": TRAINER_METRICS, "twin": TWIN_METRICS}
