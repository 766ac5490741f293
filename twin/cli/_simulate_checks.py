"""``twin simulate``'s checks before a run: work and memory limits, and the ``--schedule`` file."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from ..physics.estimate import MAX_EDGE_EVENTS
from ._common import FiniteRange, check_request, check_work

if TYPE_CHECKING:
    from ..physics.estimate import Estimate, NetworkSize
    from ..simulation.schedule import Schedule

__all__ = [
    "MAX_CLOCK_HZ",
    "MAX_EVENTS",
    "MAX_SAMPLES",
    "NOISE_RANGE",
    "both",
    "check_memory",
    "check_run_size",
    "schedule_or_none",
]

#: Work limit of one run, edge events (edges x clock rate x duration, and batched wake-ups);
#: --force lifts it.
MAX_EVENTS = MAX_EDGE_EVENTS
#: Largest number of probe samples (duration / --sample-s) a run keeps in memory.
MAX_SAMPLES = 1e7
#: Fastest learning clock, Hz (the board's is 10 kHz).
MAX_CLOCK_HZ = 1e9
#: Voltages and noise powers of the board are below a volt: ranges of the noise options.
NOISE_RANGE = FiniteRange(0, 1)


def check_run_size(
    clock: object,
    n_edges: int,
    duration: float,
    sample_s: float,
    batch_s: float,
    force: bool,
    limit: float = MAX_EVENTS,
) -> None:
    """Refuse (before the run) a clock, duration or interval that the machine cannot finish
    (``limit``: most edge events without ``force``)."""
    rate_hz = float(getattr(clock, "rate_hz", 0.0))
    if rate_hz > MAX_CLOCK_HZ:
        raise click.BadParameter(
            f"clock rate {rate_hz:g} Hz; expected at most {MAX_CLOCK_HZ:g} Hz", param_hint="--clock"
        )
    formula = "edge events (edges x clock rate x duration)"
    check_work("simulate", n_edges * rate_hz * duration, limit, formula, force)
    if batch_s > 0:
        check_work("simulate", duration / batch_s, MAX_EVENTS, "wake-ups (duration / batch-s)",
                   force)  # fmt: skip
    if duration / sample_s > MAX_SAMPLES:
        raise click.BadParameter(
            f"{duration / sample_s:.3g} probe samples (duration / sample-s); "
            f"at most {MAX_SAMPLES:g}",
            param_hint="--sample-s",
        )


def check_memory(
    size: NetworkSize, clock: object, duration: float, sample_s: float, force: bool
) -> Estimate:
    """Refuse a simulation from its estimated memory (its time is limited by the edge-events
    limit, :func:`check_run_size`; a real-time run lasts its duration); the estimate."""
    from ..physics.estimate import simulate_estimate

    rate_hz = float(getattr(clock, "rate_hz", 0.0))
    events = size.edges * rate_hz * duration
    estimate = simulate_estimate(size, events=events, samples=duration / sample_s)
    check_request("simulate", estimate, force, quiet=True, max_time_s=None)
    return estimate


#: Options a schedule replaces (refused beside ``--schedule``).
_SCHEDULED = ("network", "task", "eta", "duration")


def schedule_or_none(path: str | None, engine: str) -> Schedule | None:
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


def both(*updates: Callable[[float, float], None]) -> Callable[[float, float], None]:
    """One progress callback ``update(done_s, total_s)`` calling each of ``updates``."""

    def update(done_s: float, total_s: float) -> None:
        for each in updates:
            each(done_s, total_s)

    return update
