"""``twin simulate``: the event-driven twin of a self-learning board (:mod:`twin.simulation`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..physics.estimate import MAX_EDGE_EVENTS
from . import cli
from ._common import (
    SEED,
    FiniteRange,
    announce_compilation,
    announce_estimate,
    artifact_options,
    check_request,
    check_work,
    emit_json,
    print_summary,
    progress_bar,
    request_size,
    tasks_from_options,
)
from ._ledger import check_finite, ledger_options, recorded_dispatch
from ._view import maybe_live_view, view_options

if TYPE_CHECKING:
    from ..physics.estimate import Estimate, NetworkSize
    from ..simulation.schedule import Schedule

__all__ = ["MAX_CLOCK_HZ", "MAX_EVENTS", "MAX_SAMPLES", "simulate_cmd"]

#: Work limit of one run, edge events (edges x clock rate x duration, and batched wake-ups);
#: --force lifts it.
MAX_EVENTS = MAX_EDGE_EVENTS
#: Largest number of probe samples (duration / --sample-s) a run keeps in memory.
MAX_SAMPLES = 1e7
#: Fastest learning clock, Hz (the board's is 10 kHz).
MAX_CLOCK_HZ = 1e9
#: Voltages and noise powers of the board are below a volt: ranges of the noise options.
_NOISE = FiniteRange(0, 1)


def _check_run_size(
    clock: object, n_edges: int, duration: float, sample_s: float, batch_s: float, force: bool
) -> None:
    """Refuse (before the run) a clock, duration or interval that the machine cannot finish."""
    rate_hz = float(getattr(clock, "rate_hz", 0.0))
    if rate_hz > MAX_CLOCK_HZ:
        raise click.BadParameter(
            f"clock rate {rate_hz:g} Hz; expected at most {MAX_CLOCK_HZ:g} Hz", param_hint="--clock"
        )
    formula = "edge events (edges x clock rate x duration)"
    check_work("simulate", n_edges * rate_hz * duration, MAX_EVENTS, formula, force)
    if batch_s > 0:
        check_work("simulate", duration / batch_s, MAX_EVENTS, "wake-ups (duration / batch-s)",
                   force)  # fmt: skip
    if duration / sample_s > MAX_SAMPLES:
        raise click.BadParameter(
            f"{duration / sample_s:.3g} probe samples (duration / sample-s); "
            f"at most {MAX_SAMPLES:g}",
            param_hint="--sample-s",
        )


def _check_memory(
    size: NetworkSize, clock: object, duration: float, sample_s: float, force: bool
) -> Estimate:
    """Refuse a simulation from its estimated memory (its time is limited by the edge-events
    limit, :func:`_check_run_size`; a real-time run lasts its duration); the estimate."""
    from ..physics.estimate import simulate_estimate

    rate_hz = float(getattr(clock, "rate_hz", 0.0))
    events = size.edges * rate_hz * duration
    estimate = simulate_estimate(size, events=events, samples=duration / sample_s)
    check_request("simulate", estimate, force, quiet=True, max_time_s=None)
    return estimate


#: Options a schedule replaces (refused beside ``--schedule``).
_SCHEDULED = ("network", "task", "eta", "duration")


def _schedule_or_none(path: str | None, engine: str) -> Schedule | None:
    """The ``--schedule`` file, read and checked; options it replaces must be left out."""
    if path is None:
        return None
    from ..simulation.schedule import load_schedule

    ctx = click.get_current_context()
    for name in _SCHEDULED:
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
            raise click.BadParameter(
                f"the schedule sets it; leave out --{name} with --schedule", param_hint=f"--{name}"
            )
    if engine != "batched":
        raise click.BadParameter("a schedule runs on the batched engine", param_hint="--engine")
    return load_schedule(path)


def _both(*updates: Callable[[float, float], None]) -> Callable[[float, float], None]:
    """One progress callback ``update(done_s, total_s)`` calling each of ``updates``."""

    def update(done_s: float, total_s: float) -> None:
        for each in updates:
            each(done_s, total_s)

    return update


@cli.command("simulate")
@click.option(
    "--network",
    default=None,
    help="lattice:WxH[:periodic], jammed:N[:seed=S] or file:PATH (default: the 4x4 board).",
)
@click.option(
    "--task", default="allostery", show_default=True, help="allostery, regression or file:PATH."
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
    help="sync:HZ, bernoulli:HZ:P, poisson:HZ, periodic:HZ:JITTER[:SPREAD] or continuous:DQ_V.",
)
@click.option(
    "--duration",
    type=FiniteRange(0, 1e6),
    default=20.0,
    show_default=True,
    help="Simulated time, s (edges x clock rate x duration at most 1e9 events without --force).",
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
    default=0.22,
    show_default=True,
    help="Nudge eta (the board's: 0.22).",
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
    type=_NOISE,
    default=0.0,
    show_default=True,
    help="Learning-rule white noise delta, V^2 per 0.1 ms.",
)
@click.option(
    "--meas-noise",
    type=_NOISE,
    default=0.0,
    show_default=True,
    help="Measurement noise on each drop read, V.",
)
@click.option(
    "--offsets",
    type=_NOISE,
    default=0.0,
    show_default=True,
    help="Spread of fixed comparator offsets, V^2.",
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
    task: str,
    model: str,
    clock: str,
    duration: float,
    lam: float,
    eta: float,
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
    """Run the event-driven twin: asynchronous edge agents in continuous simulated time."""
    import numpy as np
    import simpy

    from ..physics.network_io import save_network
    from ..simulation.realtime import realtime_environment
    from ..simulation.scheduled import ScheduledTwin
    from ..simulation.twin import Twin

    if task == "iris":
        raise click.BadParameter("use allostery, regression or file:PATH", param_hint="--task")
    from ..simulation.options import MODELS, twin_config_from_options

    schedule = _schedule_or_none(schedule_path, engine)
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
        _check_run_size(clock_cfg, size.edges, duration, config.sample_interval_s, batch_s, force)
        estimate = _check_memory(size, clock_cfg, duration, config.sample_interval_s, force)
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
        estimate = _check_memory(NetworkSize(nodes=net.n_nodes, edges=net.n_edges), clock_cfg,
                                 duration, config.sample_interval_s, force)  # fmt: skip
    _check_run_size(
        clock_cfg, the_task.network.n_edges, duration, config.sample_interval_s, batch_s, force
    )
    if size is None:
        announce_estimate("simulate", estimate)
    announce_compilation("simulate")
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
        env: simpy.Environment = realtime_environment() if realtime else simpy.Environment()
        t0 = time.perf_counter()
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
            update = bar if feed is None else _both(bar, feed)
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
