"""``twin simulate --physics springs``: desynchronous learning of spring networks.

The spring agents of :class:`twin.simulation.physics_twin.PhysicsTwin` on the resistor twin's
clocks, probe, documents and ledger. Options of the resistor twin's board circuit (``--model``,
``--leak``, ``--tau-feedback``, ``--meas-noise``, ``--bias-v-per-s``, ``--window-s``,
``--schedule``, ``--view``, ``--save``) and the agents engine are refused with springs, the
spring options (``--alpha``, ``--kappa``, ``--spring-solver``) without them: one line, exit 2.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from ..physics.estimate import MAX_SPRING_EVENTS
from ._common import (
    announce_estimate,
    emit_json,
    print_summary,
    progress_bar,
    request_size,
    spring_tasks_from_options,
)
from ._ledger import check_finite, recorded_dispatch
from ._simulate_checks import check_memory, check_run_size

__all__ = [
    "MAX_SPRING_EVENTS",
    "RESISTOR_ONLY",
    "SPRING_ONLY",
    "check_physics_options",
    "run_springs",
]

#: Parameters of the resistor twin only (refused beside ``--physics springs`` when given).
RESISTOR_ONLY = ("model", "tau_feedback", "meas_noise", "leak", "bias_v_per_s", "schedule_path",
                 "window_s", "view", "port", "save")  # fmt: skip
#: Parameters of spring agents only (refused without ``--physics springs``).
SPRING_ONLY = ("alpha", "kappa", "spring_solver")


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)


def _hint(ctx: click.Context, name: str) -> str:
    for param in ctx.command.params:
        if param.name == name and param.opts:
            return param.opts[0]
    return f"--{name}"


def check_physics_options(ctx: click.Context, physics: str, engine: str) -> None:
    """Refuse the options that belong to the other substrate (one line, the option named)."""
    springs = physics == "springs"
    for name in RESISTOR_ONLY if springs else SPRING_ONLY:
        if _given(ctx, name):
            why = "not available with --physics springs" if springs else "needs --physics springs"
            raise click.BadParameter(why, param_hint=_hint(ctx, name))
    if springs and engine != "batched":
        raise click.BadParameter("spring agents run on the batched engine", param_hint="--engine")


def run_springs(
    *,
    network: str | None,
    task: str | None,
    clock: str,
    duration: float,
    lam: float,
    eta: float | None,
    noise: float,
    offsets: float,
    alpha: float | None,
    kappa: float | None,
    spring_solver: str,
    seed: int,
    sample_s: float | None,
    batch_s: float,
    realtime: bool,
    force: bool,
    out: Path | None,
    plot: Path | None,
    as_json: bool,
    db: str | None,
    no_db: bool,
) -> None:
    """Run the spring twin from ``twin simulate``'s options; print or emit its summary."""
    task = "allostery-strain" if task is None else task
    if task != "allostery-strain":
        raise click.BadParameter(f"springs have the task allostery-strain, got {task!r}",
                                 param_hint="--task")  # fmt: skip
    import numpy as np
    import simpy

    from ..simulation.noise import NoiseConfig
    from ..simulation.physics_config import PhysicsTwinConfig

    config = PhysicsTwinConfig(
        clock=clock, alpha=10.0 if alpha is None else alpha, lam=lam,
        eta=1e-3 if eta is None else eta, kappa=1.0 if kappa is None else kappa,
        noise=NoiseConfig(delta_v2=noise, offset_sigma_v2=offsets), batch_s=batch_s,
        sample_interval_s=sample_s if sample_s is not None else max(duration / 200, 1e-6),
    )  # fmt: skip
    sample = config.sample_interval_s
    size = request_size(task, network or "jammed:27")
    if size is not None:  # refuse before generating anything
        check_run_size(config.clock, size.edges, duration, sample, batch_s, force,
                       MAX_SPRING_EVENTS)  # fmt: skip
        announce_estimate("simulate", check_memory(size, config.clock, duration, sample, force))
    tasks = spring_tasks_from_options(task, network, seed=seed, realizations=1, prune=None)
    check_run_size(config.clock, tasks[0].network.n_edges, duration, sample, batch_s, force,
                   MAX_SPRING_EVENTS)  # fmt: skip
    from ..physics.springs.physics import SpringPhysics
    from ..simulation.physics_twin import PhysicsTwin
    from ..simulation.realtime import realtime_environment

    physics = SpringPhysics(tasks, spring_solver)
    params: dict[str, Any] = {
        "physics": "springs", "network": network or tasks[0].network.name, "task": task,
        "spring_solver": spring_solver, "clock": config.clock.spec, "duration_s": duration,
        "lam": lam, "eta": config.eta, "alpha": config.alpha, "kappa": config.kappa,
        "noise_delta_m2": noise, "offsets_m2": offsets, "seed": seed, "engine": "batched",
        "realtime": realtime,
    }  # fmt: skip
    with recorded_dispatch(out, db, no_db, params=params) as dispatch:
        env: simpy.Environment = realtime_environment() if realtime else simpy.Environment()
        t0 = time.perf_counter()
        twin = PhysicsTwin(env, physics, config, np.random.default_rng([seed, 1]),
                           emit=dispatch if dispatch else None, params=params)  # fmt: skip
        if realtime:
            env.sync()  # type: ignore[attr-defined]  # start the wall clock now
        with progress_bar("simulating", duration, enabled=not as_json) as bar:
            result = twin.run(duration, progress=bar)
    summary = result.summary() | {"wall_total_s": time.perf_counter() - t0, "run": result.run_uid}
    check_finite(summary, "summary", params)
    if plot is not None:
        from ..plots import plot_history

        plot_history(result.history, plot, title=f"twin simulate --physics springs --clock "
                                                  f"{config.clock.spec}")  # fmt: skip
    if as_json:
        emit_json(summary)
    else:
        print_summary("twin simulate", summary)
