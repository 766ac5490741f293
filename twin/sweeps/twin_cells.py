"""Twin sweep cells: one event-driven twin run per realization, reduced to scalar metrics.

A *twin cell* is a flat mapping of parameters (one point of a sweep; the vocabulary is
``$defs/twin`` of ``schemas/sweep.schema.json``: ``twin simulate``'s long options with
underscores, plus the ones below); :func:`evaluate_twin` runs the event-driven twin
(:mod:`twin.simulation`) once per seed and returns one dict of float metrics per realization.
What a cell adds to ``twin simulate``:

Clock kinds on one update-probability axis
    :func:`clock_spec` writes the clock of a kind at mean update probability ``p`` per global
    tick of ``rate_hz`` (the board's 10 kHz learning step), so that every kind has the same mean
    updates per edge per second, ``rate_hz * p``: ``bernoulli`` (global ticks, each edge with
    probability ``p``; Wycoff et al. 2022), ``poisson`` and ``periodic`` (independent per-edge
    clocks of rate ``rate_hz * p``; periodic with relative cycle jitter and frequency spread),
    ``sync`` (``p = 1``). :func:`clock_kind_and_p` reads them back.
Duration in board time, or in updates per edge
    ``duration`` (board seconds), or ``updates_per_edge`` (the board time is then
    ``updates_per_edge`` over the clock's mean rate per edge): the "equal board time" and "equal
    numbers of updates per edge" comparisons of desynchronous learning.
The board's noise model (reused, not re-implemented)
    ``noise``: learning-rule white noise delta on the contrast, V^2 per 0.1 ms (seed Fig. 3d:
    1e-3; :class:`twin.simulation.NoiseConfig`); ``offsets``: the twin's fixed per-edge
    comparator offsets on the contrast (V^2); ``meas_noise``: noise on each drop read (V);
    ``variation = "typical"``: the emulated board's hidden component variation
    (:class:`twin.board.variation.HiddenVariation`: gains of the free and clamped channels,
    thresholds, capacitors, leaks, comparator offsets on the drive), transistor model only;
    ``adc_bits``/``adc_noise``: the board's node ADC (:class:`twin.board.variation.Adc`, full
    scale 0.4532 V) through which the final target voltages are read for ``error_measured``.

Metrics per realization (floats; NaN where undefined)
    ``error_initial``, ``error_final`` (V^2, at the end), ``error_ratio``, ``error_tail`` (time
    average of the sampled error over the last ``tail_fraction`` of the run: the noise floor),
    ``error_measured`` (final targets read through the ADC), ``free_power_initial_w``,
    ``free_power_final_w``, ``power_ratio``, ``free_power_tail_w``, ``clamped_power_final_w``;
    energies kept apart: ``training_energy_j`` (free network), ``clamped_energy_j`` (clamped
    network), ``gate_charging_energy_j`` (i^2 R of the gate-charging resistors) and their sum
    ``total_energy_j``; ``time_to_tol_s`` and ``energy_to_tol_j`` (first sampled crossing of
    ``tol``, log-interpolated between samples; free-network energy up to then);
    ``mean_updates_per_edge`` (edge events per edge), ``events``, ``sim_time_s``, ``cpu_s``.

Seeds: realization ``s`` uses the task of ``build_tasks(task, network, seed=s,
realizations=1)`` (the same task as ``twin simulate --seed s``), the twin's randomness from
``default_rng([s, 1])`` (as ``twin simulate``), the board variation from ``default_rng([s, 2])``
and the ADC noise from ``default_rng([s, 3])``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import simpy

from twin.board.variation import NODE_FULL_SCALE_V, Adc, HiddenVariation, draw_hidden_edges

from ..errors import ConfigError
from ..physics.task import Task
from ..physics.task_spec import build_tasks
from ..simulation.clocks import Clock, parse_clock
from ..simulation.edge import EdgeParams, board_edge_params
from ..simulation.errors import ModelError
from ..simulation.options import twin_config_from_options
from ..simulation.schedule import Schedule, load_schedule
from ..simulation.scheduled import ScheduledTwin
from ..simulation.twin import Twin, TwinConfig, TwinResult
from .metrics import TWIN_METRICS

__all__ = [
    "CLOCK_KINDS",
    "METRICS",
    "TwinCell",
    "TwinCellError",
    "cell_from_params",
    "check_params",
    "clock_kind_and_p",
    "clock_spec",
    "evaluate_twin",
    "metrics_of",
    "run_cell",
    "time_to_tolerance",
]

CLOCK_KINDS = ("sync", "bernoulli", "poisson", "periodic")
VARIATIONS = ("none", "typical")
#: Parameters of a sweep cell that describe the cell, not the twin (ignored here).
META_KEYS = frozenset({"kind", "seed", "seeds", "realizations"})
#: Metric names of one realization, in order (:data:`twin.sweeps.metrics.TWIN_METRICS`).
METRICS = TWIN_METRICS


class TwinCellError(ConfigError):
    """A twin cell's parameters are malformed (names the field and the expected form)."""


def clock_spec(kind: str, p: float = 1.0, *, rate_hz: float = 1e4, jitter: float = 0.05) -> str:
    """The clock spec string of ``kind`` at mean update probability ``p`` per global tick.

    Every kind gets the same mean rate of updates per edge, ``rate_hz * p``: ``sync`` (needs
    ``p = 1``), ``bernoulli`` (global ticks at ``rate_hz``, each edge with probability ``p``),
    ``poisson`` and ``periodic`` (independent per-edge clocks of rate ``rate_hz * p``; periodic
    with relative cycle jitter and frequency spread ``jitter``).
    """
    if kind not in CLOCK_KINDS:
        raise TwinCellError(f"clock kind: expected one of {', '.join(CLOCK_KINDS)}, got {kind!r}")
    if not 0 < p <= 1:
        raise TwinCellError(f"p: expected an update probability in (0, 1], got {p!r}")
    if kind == "sync":
        if p != 1:
            raise TwinCellError(f"p: a sync clock updates every edge at every tick, got p = {p}")
        return f"sync:{rate_hz:g}"
    if kind == "bernoulli":
        return f"bernoulli:{rate_hz:g}:{p:g}"
    if kind == "poisson":
        return f"poisson:{rate_hz * p:g}"
    return f"periodic:{rate_hz * p:g}:{jitter:g}"


def clock_kind_and_p(spec: str, *, rate_hz: float = 1e4) -> tuple[str, float]:
    """Inverse of :func:`clock_spec`: the kind and ``p`` (edge rate / ``rate_hz``) of a spec."""
    clock = parse_clock(spec)
    kind = spec.strip().split(":")[0].lower()
    return kind, float(clock.edge_rate_hz()) / rate_hz


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise TwinCellError(message)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@attrs.frozen(kw_only=True)
class TwinCell:
    """Parameters of one twin sweep cell.

    The names are ``twin simulate``'s long options with underscores (``duration`` s, ``noise``
    delta V^2 per 0.1 ms, ``meas_noise`` V, ``offsets`` V^2, ``leak`` s, ``tau_feedback`` s),
    plus ``updates_per_edge`` (when set, the duration is ``updates_per_edge`` over the clock's
    mean rate per edge and ``duration`` is not used), ``variation`` (``none`` or ``typical``:
    the emulated board's hidden component variation), ``adc_bits`` and ``adc_noise`` (V: the
    node ADC of ``error_measured``), ``tol`` (V^2: tolerance of ``time_to_tol_s``) and
    ``tail_fraction``.
    """

    network: str | None = None
    task: str = "allostery"
    model: str = "transistor"
    clock: str = "sync:10000"
    duration: float = attrs.field(default=20.0, converter=float)
    updates_per_edge: float | None = attrs.field(default=None, converter=_opt_float)
    lam: float = attrs.field(default=0.0, converter=float)
    eta: float = attrs.field(default=0.22, converter=float)
    tau_feedback: float = attrs.field(default=0.0, converter=float)
    noise: float = attrs.field(default=0.0, converter=float)
    meas_noise: float = attrs.field(default=0.0, converter=float)
    offsets: float = attrs.field(default=0.0, converter=float)
    leak: float | None = attrs.field(default=None, converter=_opt_float)
    variation: str = "none"
    adc_bits: int = attrs.field(default=0, converter=int)
    adc_noise: float = attrs.field(default=0.0, converter=float)
    tol: float = attrs.field(default=1e-5, converter=float)
    tail_fraction: float = attrs.field(default=0.25, converter=float)
    sample_s: float | None = attrs.field(default=None, converter=_opt_float)
    batch_s: float = attrs.field(default=0.01, converter=float)
    window_s: float = attrs.field(default=0.0, converter=float)
    engine: str = "batched"
    schedule: str | None = None

    def __attrs_post_init__(self) -> None:
        checks = (
            (self.model in ("linear", "transistor"),
             f"model: expected linear or transistor, got {self.model!r}"),
            (self.variation in VARIATIONS,
             f"variation: expected none or typical, got {self.variation!r}"),
            (self.variation == "none" or self.model == "transistor",
             "variation: the board's component variation needs model = transistor"),
            (self.adc_bits in (0, 8, 10, 12, 14, 16),
             f"adc_bits: expected 0, 8, 10, 12, 14 or 16, got {self.adc_bits}"),
            (0 < self.tail_fraction <= 1,
             f"tail_fraction: expected a number in (0, 1], got {self.tail_fraction!r}"),
            (math.isfinite(self.tol) and self.tol > 0,
             f"tol: expected a finite number > 0 (V^2), got {self.tol!r}"),
        )  # fmt: skip
        for ok, message in checks:
            _check(ok, message)
        self.make_clock()  # a bad clock spec fails here, naming the clock
        if self.schedule is not None:
            given = [n for n in _SCHEDULED if getattr(self, n) != _DEFAULTS[n]]
            _check(not given, f"schedule: it sets {', '.join(given)}; leave them at their defaults")
            _check(self.engine == "batched", "schedule: a schedule runs on the batched engine")
            return
        if self.updates_per_edge is None:
            _check(
                math.isfinite(self.duration) and self.duration > 0,
                f"duration: expected a finite number > 0 (s), got {self.duration!r}",
            )
            return  # fmt: skip
        _check(
            math.isfinite(self.updates_per_edge) and self.updates_per_edge > 0,
            f"updates_per_edge: expected a number > 0, got {self.updates_per_edge!r}",
        )
        _check(self.edge_rate_hz() is not None,
               "updates_per_edge: a continuous clock has no fixed rate; use duration")  # fmt: skip

    def make_clock(self) -> Clock:
        """The twin clock of this cell."""
        try:
            return parse_clock(self.clock)
        except ValueError as exc:
            raise TwinCellError(f"clock: {exc}".replace("clock: clock: ", "clock: ")) from None

    def edge_rate_hz(self) -> float | None:
        """Mean updates per second of one edge (``None`` for the continuous clock)."""
        rate = float(self.make_clock().edge_rate_hz())
        return rate if math.isfinite(rate) else None

    def load_schedule(self) -> Schedule | None:
        """The cell's schedule, read and checked (``None`` without one)."""
        if self.schedule is None:
            return None
        try:
            return load_schedule(self.schedule)
        except ModelError as exc:
            raise TwinCellError(f"schedule: {exc}") from None

    def board_time_s(self) -> float:
        """Duration of a run in board seconds (a schedule's own duration)."""
        schedule = self.load_schedule()
        if schedule is not None:
            return schedule.duration_s
        if self.updates_per_edge is None:
            return self.duration
        rate = self.edge_rate_hz()
        assert rate is not None
        return self.updates_per_edge / rate

    def edges(self, n_edges: int, seed: int) -> EdgeParams:
        """The edge circuits of realization ``seed`` (the board's variation, if any)."""
        if self.variation == "typical":
            edges, _hidden = draw_hidden_edges(
                n_edges, np.random.default_rng([seed, 2]), HiddenVariation.typical()
            )
        else:
            edges = board_edge_params(self.model)
        if self.leak is not None:
            edges = edges.evolve(tau_leak_s=self.leak)
        return edges

    def adc(self) -> Adc | None:
        """The node ADC of ``error_measured`` (``None``: not measured)."""
        if self.adc_bits == 0 and self.adc_noise == 0:
            return None
        return Adc(bits=self.adc_bits, full_scale_v=NODE_FULL_SCALE_V, sigma_v=self.adc_noise)

    def twin_config(self, n_edges: int, seed: int) -> TwinConfig:
        """The twin's settings for realization ``seed`` (``twin simulate``'s, plus variation)."""
        duration = self.board_time_s()
        config = twin_config_from_options(
            model=self.model,
            clock=self.clock,
            lam=self.lam,
            eta=self.eta,
            tau_feedback=self.tau_feedback,
            noise=self.noise,
            meas_noise=self.meas_noise,
            offsets=self.offsets,
            leak=self.leak,
            sample_s=self.sample_s if self.sample_s is not None else duration / 200,
            batch_s=min(self.batch_s, duration),
            engine=self.engine,
            window_s=self.window_s,
        )
        if self.variation != "none":
            config = config.evolve(edges=self.edges(n_edges, seed))
        return config

    def make_task(self, seed: int) -> Task:
        """The task of realization ``seed`` (as ``twin simulate --seed``)."""
        return build_tasks(self.task, self.network, seed=int(seed), realizations=1)[0]


#: What a schedule sets, and the defaults those parameters must keep beside one.
_SCHEDULED = ("network", "task", "eta", "duration", "updates_per_edge")
_DEFAULTS = {f.name: f.default for f in attrs.fields(TwinCell)}


def cell_from_params(params: Mapping[str, Any]) -> TwinCell:
    """A :class:`TwinCell` from a flat mapping; unknown names raise :class:`TwinCellError`.

    Names in :data:`META_KEYS` (the sweep's own bookkeeping) are ignored.
    """
    known = {f.name for f in attrs.fields(TwinCell)}
    values = {k: v for k, v in params.items() if k not in META_KEYS}
    unknown = sorted(set(values) - known)
    if unknown:
        raise TwinCellError(
            f"{unknown[0]}: not a twin cell parameter; expected one of {', '.join(sorted(known))}"
        )
    try:
        return TwinCell(**values)
    except TwinCellError:
        raise
    except (TypeError, ValueError) as exc:
        raise TwinCellError(f"twin cell: {exc}") from None


def check_params(params: Mapping[str, Any]) -> None:
    """Raise a one-line error if the parameters cannot make a twin (without running it)."""
    cell = cell_from_params(params)
    if cell.task == "iris":
        raise TwinCellError("task: the twin runs allostery, regression or file:PATH, not iris")
    cell.twin_config(1, 0)  # the clock, model and noise exactly as a run builds them


def time_to_tolerance(
    t_s: np.ndarray, error: np.ndarray, energy_j: np.ndarray, tol: float
) -> tuple[float, float]:
    """First time (s) the sampled error reaches ``tol`` and the energy (J) spent until then.

    Between the last sample above and the first at or below ``tol`` the time is interpolated
    in log error, the energy linearly in time. ``(nan, nan)`` if the error never reaches ``tol``.
    """
    below = np.flatnonzero(error <= tol)
    if below.size == 0:
        return math.nan, math.nan
    j = int(below[0])
    if j == 0:
        return float(t_s[0]), float(energy_j[0])
    e0, e1 = max(float(error[j - 1]), 1e-300), max(float(error[j]), 1e-300)
    frac = 1.0 if e0 <= e1 else (math.log(e0) - math.log(tol)) / (math.log(e0) - math.log(e1))
    frac = min(max(frac, 0.0), 1.0)
    t = float(t_s[j - 1] + frac * (t_s[j] - t_s[j - 1]))
    energy = float(energy_j[j - 1] + frac * (energy_j[j] - energy_j[j - 1]))
    return t, energy


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def _tail_mean(t_s: np.ndarray, values: np.ndarray, fraction: float) -> float:
    """Mean of the samples in the last ``fraction`` of the run (at least one sample)."""
    start = t_s[-1] - fraction * (t_s[-1] - t_s[0])
    sel = t_s >= start
    return float(np.mean(values[sel])) if np.any(sel) else float(values[-1])


def _measured_error(twin: Twin, task: Task, adc: Adc | None, seed: int) -> float:
    """Training error of the final state with the target voltages read through ``adc``."""
    if adc is None:
        return float("nan")
    rng = np.random.default_rng([seed, 3])
    desired = np.asarray(task.train.outputs, dtype=float)
    total = 0.0
    for e in range(desired.shape[0]):
        v_free, _ = twin.node_voltages(e)
        if task.target_kind == "edges":
            raise TwinCellError("adc_bits: ADC readout of edge targets is not modelled")
        read = adc.read(v_free[task.targets], rng)
        total += float(np.sum((read - desired[e]) ** 2))
    return total / desired.shape[0]


def metrics_of(
    result: TwinResult, cell: TwinCell, n_edges: int, error_measured: float, cpu_s: float
) -> dict[str, float]:
    """The metrics of one realization from a twin result (see the module docstring)."""
    st, h = result.stats, result.history
    t, err, power = h["t_s"], h["error"], h["free_power_w"]
    t_tol, e_tol = time_to_tolerance(t, err, h["energy_j"], cell.tol)
    free, clamped, gate = (
        float(st["training_energy_j"]),
        float(st["clamped_energy_j"]),
        float(st["gate_charging_energy_j"]),
    )
    out = {
        "error_initial": float(st["error_initial"]),
        "error_final": float(st["error_final"]),
        "error_ratio": _ratio(float(st["error_final"]), float(st["error_initial"])),
        "error_tail": _tail_mean(t, err, cell.tail_fraction),
        "error_measured": error_measured,
        "free_power_initial_w": float(st["free_power_initial_w"]),
        "free_power_final_w": float(st["free_power_final_w"]),
        "power_ratio": _ratio(float(st["free_power_final_w"]), float(st["free_power_initial_w"])),
        "free_power_tail_w": _tail_mean(t, power, cell.tail_fraction),
        "clamped_power_final_w": float(st["clamped_power_final_w"]),
        "training_energy_j": free,
        "clamped_energy_j": clamped,
        "gate_charging_energy_j": gate,
        "total_energy_j": free + clamped + gate,
        "time_to_tol_s": t_tol,
        "energy_to_tol_j": e_tol,
        "mean_updates_per_edge": float(st["events"]) / n_edges,
        "events": float(st["events"]),
        "sim_time_s": float(st["sim_time_s"]),
        "cpu_s": cpu_s,
    }
    return {key: out[key] for key in METRICS}


def run_cell(cell: TwinCell, seed: int) -> tuple[dict[str, float], TwinResult]:
    """Run one realization of ``cell``; returns its metrics and the raw twin result."""
    cpu0 = time.process_time()
    schedule = cell.load_schedule()
    task = cell.make_task(seed) if schedule is None else schedule.tasks[0]
    n_edges = task.network.n_edges
    config = cell.twin_config(n_edges, seed)
    rng = np.random.default_rng([seed, 1])
    if schedule is None:
        twin = Twin(simpy.Environment(), task, config, rng)
        result = twin.run(cell.board_time_s())
    else:
        scheduled = ScheduledTwin(simpy.Environment(), schedule, config, rng)
        result = scheduled.run()
        twin, task = scheduled.twin, scheduled.twin.task  # the segment trained last
    measured = _measured_error(twin, task, cell.adc(), seed)
    metrics = metrics_of(result, cell, n_edges, measured, time.process_time() - cpu0)
    return metrics, result


def evaluate_twin(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    """Metrics of one twin cell, one dict per seed (realization), in the order of ``seeds``."""
    cell = cell_from_params(params)
    return [run_cell(cell, int(seed))[0] for seed in seeds]
