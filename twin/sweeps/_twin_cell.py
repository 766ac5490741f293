"""What a twin sweep cell is: :class:`TwinCell`, its parameters checked, and its clock kinds.

The vocabulary and its meaning are described in :mod:`twin.sweeps.twin_cells`, which runs the
cells; :func:`clock_spec` and :func:`clock_kind_and_p` write and read the clocks of a kind at a
mean update probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from twin.board.variation import NODE_FULL_SCALE_V, Adc, HiddenVariation, draw_hidden_edges

from ..errors import ConfigError
from ..physics.springs.task_spec import SPRING_TASKS
from ..physics.task import Task
from ..physics.task_spec import build_tasks
from ..simulation.clocks import Clock, parse_clock
from ..simulation.edge import EdgeParams, board_edge_params
from ..simulation.errors import ModelError
from ..simulation.noise import NoiseConfig
from ..simulation.options import twin_config_from_options
from ..simulation.physics_config import PhysicsTwinConfig
from ..simulation.schedule import Schedule, load_schedule
from ..simulation.twin import TwinConfig

__all__ = [
    "CLOCK_KINDS",
    "META_KEYS",
    "PHYSICS",
    "VARIATIONS",
    "TwinCell",
    "TwinCellError",
    "cell_from_params",
    "check_params",
    "clock_kind_and_p",
    "clock_spec",
]

CLOCK_KINDS = ("sync", "bernoulli", "poisson", "periodic")
VARIATIONS = ("none", "typical", "lab")
#: Substrates of a twin cell: the board's circuit, or asynchronous spring agents.
PHYSICS = ("resistors", "springs")
#: Parameters of the board's circuit only (refused off their defaults beside springs).
_RESISTOR_ONLY = ("model", "tau_feedback", "meas_noise", "leak", "variation", "adc_bits",
                  "adc_noise", "window_s", "schedule", "engine")  # fmt: skip
#: Parameters of spring agents only (refused off their defaults without springs).
_SPRING_ONLY = ("alpha", "kappa", "spring_solver")
#: Parameters of a sweep cell that describe the cell, not the twin (ignored here).
META_KEYS = frozenset({"kind", "seed", "seeds", "realizations"})


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
    mean rate per edge and ``duration`` is not used), ``variation`` (``none``, ``typical`` or
    ``lab``: the emulated board's hidden component variation, :meth:`HiddenVariation.named`),
    ``adc_bits`` and ``adc_noise`` (V: the node ADC of ``error_measured``), ``tol`` (V^2:
    tolerance of ``time_to_tol_s``) and ``tail_fraction``.

    ``physics = "springs"`` runs ``twin simulate --physics springs`` instead: spring agents
    (stiffness N/m) with ``alpha`` (learning rate per 0.1 ms step; null: 10), ``kappa`` (initial
    stiffness, N/m; null: 1) and ``spring_solver``; the task is ``allostery-strain``, ``eta`` the
    strain nudge, ``noise``/``offsets`` in strain^2 and ``tol`` in strain^2. The board's
    parameters (:data:`_RESISTOR_ONLY`) must stay at their defaults.
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
    physics: str = "resistors"
    alpha: float | None = attrs.field(default=None, converter=_opt_float)
    kappa: float | None = attrs.field(default=None, converter=_opt_float)
    spring_solver: str = "linear"

    @property
    def springs(self) -> bool:
        """Whether the cell runs spring agents (``physics = "springs"``)."""
        return self.physics == "springs"

    def _check_physics(self) -> None:
        _check(self.physics in PHYSICS,
               f"physics: expected resistors or springs, got {self.physics!r}")  # fmt: skip
        solver = self.spring_solver
        _check(solver in ("linear", "nonlinear"),
               f"spring_solver: expected linear or nonlinear, got {solver!r}")  # fmt: skip
        names = _RESISTOR_ONLY if self.springs else _SPRING_ONLY
        given = [n for n in names if getattr(self, n) != _DEFAULTS[n]]
        why = "not available with physics = springs" if self.springs else "needs physics = springs"
        _check(not given, f"{given[0] if given else ''}: {why}")
        if self.springs:
            _check(self.task in SPRING_TASKS,
                   f"task: springs have the task allostery-strain, got {self.task!r}")  # fmt: skip
        else:
            _check(self.task not in SPRING_TASKS,
                   f"task: {self.task} needs physics = springs")  # fmt: skip

    def __attrs_post_init__(self) -> None:
        self._check_physics()
        checks = (
            (self.model in ("linear", "transistor"),
             f"model: expected linear or transistor, got {self.model!r}"),
            (self.variation in VARIATIONS,
             f"variation: expected one of {', '.join(VARIATIONS)}, got {self.variation!r}"),
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
        if self.variation != "none":
            edges, _hidden = draw_hidden_edges(
                n_edges, np.random.default_rng([seed, 2]), HiddenVariation.named(self.variation)
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

    def spring_config(self) -> PhysicsTwinConfig:
        """The spring agents' settings (``twin simulate --physics springs``'s)."""
        duration = self.board_time_s()
        try:
            return PhysicsTwinConfig(
                clock=self.clock, alpha=10.0 if self.alpha is None else self.alpha, lam=self.lam,
                eta=self.eta, kappa=1.0 if self.kappa is None else self.kappa,
                noise=NoiseConfig(delta_v2=self.noise, offset_sigma_v2=self.offsets),
                batch_s=min(self.batch_s, duration),
                sample_interval_s=self.sample_s if self.sample_s is not None
                else max(duration / 200, 1e-6),
            )  # fmt: skip
        except ModelError as exc:
            raise TwinCellError(str(exc)) from None


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
    if cell.springs:
        cell.spring_config()  # the network's rigidity: twin_cells.check_params
        return
    if cell.task == "iris":
        raise TwinCellError("task: the twin runs allostery, regression or file:PATH, not iris")
    cell.twin_config(1, 0)  # the clock, model and noise exactly as a run builds them
