"""``twin simulate``: the event-driven twin of a self-learning board (:mod:`twin.simulation`)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from . import cli
from ._common import (
    SEED,
    FiniteRange,
    announce_compilation,
    announce_estimate,
    artifact_options,
    emit_json,
    print_summary,
    progress_bar,
    request_size,
    tasks_from_options,
)
from ._ledger import check_finite, ledger_options, recorded_dispatch
from ._simulate_checks import (
    MAX_CLOCK_HZ,
    MAX_EVENTS,
    MAX_SAMPLES,
    NOISE_RANGE,
    both,
    check_memory,
    check_run_size,
    schedule_or_none,
)
from ._view import check_view, maybe_live_view, view_options

__all__ = ["MAX_CLOCK_HZ", "MAX_EVENTS", "MAX_SAMPLES", "simulate_cmd"]


@cli.command("simulate")
@click.option(
    "--network",
    default=None,
    help="lattice:WxH[:periodic], jammed:N[:seed=S] or file:PATH (default: the 4x4 board).",
)
@click.option(
    "--task",
    default=None,
    help="allostery, regression or file:PATH (default allostery); allostery-strain with "
    "--physics springs (its default).",
)
@click.option(
    "--physics",
    type=click.Choice(["resistors", "springs"]),
    default="resistors",
    show_default=True,
    help="Substrate: the board's resistor (transistor) network, or a harmonic spring network "
    "(seed App. D; network default jammed:27) whose stiffnesses (N/m) are the agents.",
)
@click.option(
    "--model",
    default="transistor",
    show_default=True,
    help="Conductance curve: linear (ideal) or transistor (board).",
)
@click.option(
    "--clock",
    default="sync:10000",
    show_default=True,
    help="sync:HZ, bernoulli:HZ:P, poisson:HZ, periodic:HZ:JITTER[:SPREAD] or continuous:DQ_V "
    "(resistors).",
)
@click.option(
    "--duration",
    type=FiniteRange(0, 1e6),
    default=None,
    help="Simulated time, s (default 20; 0.5 for springs). Edges x clock rate x duration at most "
    "1e9 events without --force (1e7 for springs).",
)
@click.option(
    "--lam",
    type=FiniteRange(0, 1),
    default=0.0,
    show_default=True,
    help="Power-minimisation weight lambda.",
)
@click.option(
    "--eta",
    type=FiniteRange(0, 1, min_open=True),
    default=None,
    help="Nudge eta (default 0.22, the board's; 1e-3 for springs, the trainer's).",
)
@click.option(
    "--alpha",
    type=FiniteRange(0, 1e3, min_open=True),
    default=None,
    help="Springs: learning rate per 0.1 ms, as twin train's (default 10): dk/dt = alpha / "
    "(eta 0.1 ms) x the held contrast.",
)
@click.option(
    "--kappa",
    type=FiniteRange(0, 1e6, min_open=True),
    default=None,
    help="Springs: initial stiffness, N/m (default 1; bounds 1e-3..10 N/m).",
)
@click.option(
    "--spring-solver",
    type=click.Choice(["linear", "nonlinear"]),
    default="linear",
    show_default=True,
    help="Springs: linear response (fast) or the exact nonlinear equilibrium per event.",
)
@click.option(
    "--tau-feedback",
    type=FiniteRange(0, 1e3),
    default=0.0,
    show_default=True,
    help="Time constant of the clamp feedback loop, s (0: instant).",
)
@click.option(
    "--noise",
    type=NOISE_RANGE,
    default=0.0,
    show_default=True,
    help="Learning-rule white noise delta, V^2 per 0.1 ms (m^2 for springs).",
)
@click.option(
    "--meas-noise",
    type=NOISE_RANGE,
    default=0.0,
    show_default=True,
    help="Measurement noise on each drop read, V.",
)
@click.option(
    "--offsets",
    type=NOISE_RANGE,
    default=0.0,
    show_default=True,
    help="Spread of fixed comparator offsets, V^2 (m^2 on the contrast for springs).",
)
@click.option(
    "--leak",
    type=FiniteRange(1e-9, 1e9),
    default=None,
    help="Gate leak time constant, s (default: no leak).",
)
@click.option(
    "--bias-v-per-s",
    "bias_v_per_s",
    type=FiniteRange(-1e3, 1e3),
    default=0.0,
    show_default=True,
    help="Learning bias of every edge, V/s of gate while learning (arXiv 2505.22887 measured "
    "2-5.5 V/s on its two-edge network; 0: none).",
)
@click.option(
    "--schedule",
    "schedule_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Train on this twin.schedule/1 file (tasks in turn, eta ramp, stop rule): its tasks, "
    "eta and duration replace --task, --network, --eta and --duration (batched engine only).",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of task and noise.")
@click.option(
    "--sample-s",
    type=FiniteRange(0, 1e6, min_open=True),
    default=None,
    help="Probe interval, s (default: duration / 200; at most 1e7 samples).",
)
@click.option(
    "--batch-s",
    type=FiniteRange(0, 1e3),
    default=1e-2,
    show_default=True,
    help="Batched engine wake-up interval, s (0: every event instant).",
)
@click.option(
    "--engine",
    type=click.Choice(["batched", "agents"]),
    default="batched",
    show_default=True,
    help="batched (fast) or agents (one SimPy process per edge, reference).",
)
@click.option(
    "--window-s",
    type=FiniteRange(0, 1e3),
    default=0.0,
    show_default=True,
    help="Poisson/periodic clocks: commit the events within this window together, s "
    "(one factorisation per window; an approximation of order window-s). 0: exact.",
)
@click.option("--realtime", is_flag=True, help="Pace the run by the wall clock (live use).")
@click.option(
    "--force",
    is_flag=True,
    help="Run even when the estimated memory or work exceeds its limit.",
)
@artifact_options("Save the network with its trained conductances (S) as JSON.")
@view_options
@ledger_options
def simulate_cmd(
    network: str | None,
    task: str | None,
    physics: str,
    model: str,
    clock: str,
    duration: float | None,
    lam: float,
    eta: float | None,
    alpha: float | None,
    kappa: float | None,
    spring_solver: str,
    tau_feedback: float,
    noise: float,
    meas_noise: float,
    offsets: float,
    leak: float | None,
    bias_v_per_s: float,
    schedule_path: str | None,
    seed: int,
    sample_s: float | None,
    batch_s: float,
    engine: str,
    window_s: float,
    realtime: bool,
    force: bool,
    out: Path | None,
    plot: Path | None,
    save: Path | None,
    as_json: bool,
    view: bool,
    port: int,
    db: str | None,
    no_db: bool,
) -> None:
    """Run the event-driven twin: asynchronous edge agents in continuous simulated time
    (--physics springs: spring agents learning their stiffnesses)."""
    from ._simulate_springs import check_physics_options, run_springs

    check_physics_options(click.get_current_context(), physics, engine)
    check_view(view, port)  # before any work (a compile notice, a run) starts
    if physics == "springs":
        run_springs(network=network, task=task, clock=clock,
                    duration=0.5 if duration is None else duration, lam=lam, eta=eta,
                    noise=noise, offsets=offsets, alpha=alpha, kappa=kappa,
                    spring_solver=spring_solver, seed=seed, sample_s=sample_s, batch_s=batch_s,
                    realtime=realtime, force=force, out=out, plot=plot, as_json=as_json, db=db,
                    no_db=no_db)  # fmt: skip
        return
    task = "allostery" if task is None else task  # "" is a bad spec, not the default
    eta = 0.22 if eta is None else eta
    duration = 20.0 if duration is None else duration
    if task == "allostery-strain":
        raise click.BadParameter("allostery-strain needs --physics springs", param_hint="--task")
    import numpy as np
    import simpy

    from ..physics.network_io import save_network
    from ..simulation.realtime import realtime_environment
    from ..simulation.scheduled import ScheduledTwin
    from ..simulation.twin import Twin

    if task == "iris":
        raise click.BadParameter("use allostery, regression or file:PATH", param_hint="--task")
    from ..simulation.options import MODELS, twin_config_from_options

    schedule = schedule_or_none(schedule_path, engine)
    if schedule is not None:
        duration = schedule.duration_s

    if model not in MODELS:
        raise click.BadParameter(
            f"unknown model {model!r}; expected linear or transistor", param_hint="--model"
        )
    config = twin_config_from_options(
        model=model, clock=clock, lam=lam, eta=eta, tau_feedback=tau_feedback, noise=noise,
        meas_noise=meas_noise, offsets=offsets, leak=leak, batch_s=batch_s, engine=engine,
        window_s=window_s, sample_s=sample_s if sample_s is not None else max(duration / 200, 1e-6),
        bias_v_per_s=bias_v_per_s,
    )  # fmt: skip
    clock_cfg = config.clock
    size = request_size(task, network) if schedule is None else None
    if size is not None:  # refuse before generating anything
        check_run_size(clock_cfg, size.edges, duration, config.sample_interval_s, batch_s, force)
        estimate = check_memory(size, clock_cfg, duration, config.sample_interval_s, force)
        announce_estimate("simulate", estimate)
    build_s = estimate.seconds("network") if size is not None else 0.0
    if schedule is not None:
        the_task = schedule.tasks[0]
    else:
        the_task = tasks_from_options(
            task, network, seed=seed, realizations=1, progress=not as_json, estimate_s=build_s
        )[0]
    if size is None:  # a task file: its network is known now
        from ..physics.estimate import NetworkSize

        net = the_task.network
        estimate = check_memory(NetworkSize(nodes=net.n_nodes, edges=net.n_edges), clock_cfg,
                                 duration, config.sample_interval_s, force)  # fmt: skip
    check_run_size(
        clock_cfg, the_task.network.n_edges, duration, config.sample_interval_s, batch_s, force
    )
    if size is None:
        announce_estimate("simulate", estimate)
    params = {
        "network": network or the_task.network.name,
        "task": task,
        "model": model,
        "clock": clock_cfg.spec,
        "duration_s": duration,
        "lam": lam,
        "eta": eta,
        "tau_feedback_s": tau_feedback,
        "noise_delta_v2": noise,
        "meas_noise_v": meas_noise,
        "offsets_v2": offsets,
        "tau_leak_s": leak,
        **({"bias_v_per_s": bias_v_per_s} if bias_v_per_s else {}),
        **({"schedule": schedule_path} if schedule_path is not None else {}),
        "seed": seed,
        "engine": engine,
        "window_s": window_s,
        "realtime": realtime,
    }
    if schedule is not None and schedule_path is not None:  # what it set, and which file it was
        import hashlib

        digest = hashlib.sha256(Path(schedule_path).read_bytes()).hexdigest()
        params |= {"task": "schedule", "eta": schedule.eta.start, "schedule_sha256": digest}
    with (
        maybe_live_view(view, port, mode="simulate") as live,
        recorded_dispatch(out, db, no_db, params=params) as dispatch,
    ):
        feed = None
        if live is not None:
            from ..view import SimulationFeed

            dispatch.subscribe(live.state)
            feed = SimulationFeed(live.state, the_task.network, edges=config.edges)
        announce_compilation("simulate")  # once the ledger and the page accepted: a refusal
        env: simpy.Environment = realtime_environment() if realtime else simpy.Environment()
        t0 = time.perf_counter()  # before this is one line
        twin: Twin | ScheduledTwin
        if schedule is None:
            twin = Twin(
                env,
                the_task,
                config,
                np.random.default_rng([seed, 1]),
                emit=dispatch if dispatch else None,
                params=params,
            )
        else:
            twin = ScheduledTwin(
                env,
                schedule,
                config,
                np.random.default_rng([seed, 1]),
                emit=dispatch if dispatch else None,
                params=params,
            )
        if realtime:
            env.sync()  # type: ignore[attr-defined]  # start the wall clock now
        with progress_bar("simulating", duration, enabled=not as_json) as bar:
            update = bar if feed is None else both(bar, feed)
            if isinstance(twin, ScheduledTwin):
                result = twin.run(progress=update)
            else:
                result = twin.run(duration, progress=update)
    summary = result.summary() | {"wall_total_s": time.perf_counter() - t0, "run": result.run_uid}
    check_finite(summary, "summary", params)
    if save is not None:
        save_network(the_task.network.with_conductance(result.k), save)
    if plot is not None:
        from ..plots import plot_history

        plot_history(result.history, plot, title=f"twin simulate --clock {clock_cfg.spec}")
    if as_json:
        emit_json(summary)
    else:
        print_summary("twin simulate", summary)
