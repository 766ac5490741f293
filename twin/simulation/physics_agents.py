"""The agents of the contract twin: one learning degree of freedom per edge, events in time order.

The numpy per-event path of :mod:`.physics_twin` (the compiled event kernels of
:mod:`twin.kernels.events` hold resistor circuits: Laplacians under rank-1 updates; a spring's
rigidity row has four entries on two nodes' coordinates). It reads the network only through the
:class:`~twin.physics.contract.Physics` contract (:meth:`~twin.physics.contract.Physics.
rule_terms`: the free and clamped states and the local rule's two terms per edge, one
factorisation), so it serves any substrate; spring networks are the reason it exists.

An event of edge ``i`` at ``t`` has the resistor twin's three phases: (1) *stage*: ``k_i`` moves
to ``t`` under its held drive (closed form, then clipped to the bounds; with rule noise the exact
Gaussian increment since the agent's previous draw); (2) *commit*: the states are solved for the
new ``k``; (3) *measure*: the agent reads its two terms and holds ``u_i`` until its next event.
Edges firing at one tick all stage before the commit and all measure after it.

Clocks are the resistor twin's, draw for draw: the same counter-based streams
(:mod:`twin.kernels.events.clocks`), so a run key gives the same event times on either twin.

Energy: with a per-update cost (springs: the elastic energy the actuated network stores,
:class:`~twin.physics.contract.Cost`) each event group applies updates measured on the current
actuated state and books that state's free and clamped energies once, as the trainer books one
update; with a power cost the books hold the integral of the (piecewise constant) power.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels.events import clocks as KC
from ..kernels.events.rng import S_NOISE, normal, stream_id
from ..physics.contract import Physics
from .clocks import PeriodicClock
from .errors import ModelError
from .noise import comparator_offsets, run_keys
from .physics_config import PhysicsTwinConfig
from .spring_terms import terms_for

__all__ = ["ContractAgents"]


class ContractAgents:
    """The agents' state (learning DOF, held drives, clocks, noise, energy books) and their loop.

    Parameters
    ----------
    physics
        One realization (``physics.shape[0] == 1``) of a substrate.
    config
        Clock, rule, bounds and noise.
    rng
        Source of the run's keys (noise, clock), offsets and periodic clock spreads, drawn in
        the resistor twin's order.
    """

    def __init__(
        self, physics: Physics, config: PhysicsTwinConfig, rng: np.random.Generator
    ) -> None:
        rr, e = physics.shape
        if rr != 1:
            raise ModelError(f"physics: the twin runs one realization, got {rr}")
        self.physics = physics
        self.config = config
        self.solve = terms_for(physics, config.eta, config.lam, config.backend)
        lo = config.k_min if config.k_min is not None else float(physics.k_min[0])
        hi = config.k_max if config.k_max is not None else float(physics.k_max[0])
        if lo >= hi:
            raise ModelError(f"k_min/k_max: need k_min < k_max, got {lo:g} and {hi:g}")
        self.k_min, self.k_max = float(lo), float(hi)
        self.rate = config.rate_per_s
        self.k = np.full(e, float(np.clip(config.kappa, lo, hi)))
        self.drive = np.zeros(e)  # held drive u (the rule's terms' units: m^2 for springs)
        self.t_k = np.zeros(e)  # time each k was last advanced, s
        self.edge_events = np.zeros(e, dtype=np.int64)
        noise_key, clock_key = run_keys(rng)
        self.noise_key, self.clock_key = np.uint64(noise_key), np.uint64(clock_key)
        self.offsets = comparator_offsets(config.noise, e, rng)
        self.sig = float(config.noise.signal_sigma)
        self.t_noise = np.zeros(e)
        self.noise_draws = np.zeros(e, dtype=np.int64)
        clock = config.clock
        self.kind = int(clock.kind)
        self.rate_hz = float(getattr(clock, "rate_hz", 0.0))
        self.p = float(getattr(clock, "p", 1.0))
        self.jitter = float(getattr(clock, "jitter", 0.0))
        if isinstance(clock, PeriodicClock):
            self.periods = clock.periods_s(e, rng)
        else:
            self.periods = np.full(e, 1.0 / self.rate_hz)
        self.clock_draws = np.zeros(e, dtype=np.int64)
        self.next_t = np.full(e, np.inf)
        self.tick = 1
        self.events = 0
        self.groups = 0
        self.free_j = 0.0
        self.clamped_j = 0.0
        self.t_book = 0.0
        self._solve()
        every = np.arange(e)
        self._measure(every)
        if self.kind in (KC.POISSON, KC.PERIODIC):
            for i in every:
                self.next_t[i] = self._own_time(int(i), None)

    # ------------------------------------------------------------------ state

    def _solve(self) -> None:
        """Phase 2: free and clamped states and the rule's terms for the current ``k``."""
        self.error, self.free_cost, self.clamped_cost, self.u = self.solve(self.k)

    def _measure(self, idx: np.ndarray) -> None:
        """Phase 3: agents ``idx`` hold ``u = -(contrast + lam free) + offset``."""
        self.drive[idx] = self.u[idx] + self.offsets[idx]

    def _stage(self, idx: np.ndarray, t: float) -> None:
        """Phase 1: agents ``idx``' ``k`` move to ``t`` under their held drives (bounds, noise)."""
        v = self.k[idx] + self.rate * self.drive[idx] * np.maximum(t - self.t_k[idx], 0.0)
        if self.sig > 0.0:
            for j, i in enumerate(idx.tolist()):
                gap = t - self.t_noise[i]
                if gap > 0.0:
                    z = normal(self.noise_key, stream_id(S_NOISE, i), int(self.noise_draws[i]))
                    v[j] += self.rate * self.sig * math.sqrt(gap) * z
                    self.noise_draws[i] += 1
                self.t_noise[i] = t
        self.k[idx] = np.clip(v, self.k_min, self.k_max)
        self.t_k[idx] = t
        self.edge_events[idx] += 1
        self.events += int(idx.size)

    def _book(self, t: float) -> None:
        """Energy up to ``t`` (per-update cost: one update of the current state)."""
        if self.physics.cost.per_update:
            self.free_j += self.free_cost
            self.clamped_j += self.clamped_cost
        else:
            self.free_j += self.free_cost * (t - self.t_book)
            self.clamped_j += self.clamped_cost * (t - self.t_book)
        self.t_book = t

    def _group(self, t: float, idx: np.ndarray) -> None:
        """One event group at ``t``: book, stage all, one solve, measure all."""
        self._book(t)
        self._stage(idx, t)
        self._solve()
        self._measure(idx)
        self.groups += 1

    # ------------------------------------------------------------------ clocks

    def _own_time(self, i: int, t: float | None) -> float:
        """Edge ``i``'s first (``t`` None) or next event of its own clock (one clock draw)."""
        cnt = int(self.clock_draws[i])
        self.clock_draws[i] += 1
        key = self.clock_key
        if self.kind == KC.POISSON:
            return float(KC.poisson_next(key, i, cnt, 0.0 if t is None else t, self.rate_hz))
        if t is None:
            return float(KC.periodic_first(key, i, cnt, float(self.periods[i])))
        return float(KC.periodic_next(key, i, cnt, t, float(self.periods[i]), self.jitter))

    def _tick_edges(self, n: int) -> np.ndarray:
        every = np.arange(self.k.size)
        if self.kind == KC.SYNC:
            return every
        fires = [bool(KC.bernoulli_fires(self.clock_key, int(i), n, self.p)) for i in every]
        return every[np.array(fires, dtype=bool)]

    def next_event_s(self) -> float:
        """Time of the next event of any agent, s (``inf`` if none)."""
        if self.kind in (KC.SYNC, KC.BERNOULLI):
            return self.tick / self.rate_hz
        return float(np.min(self.next_t))

    def run_until(self, t_end: float) -> int:
        """Process every event at time <= ``t_end`` in time order; returns the groups done."""
        done = 0
        if self.kind in (KC.SYNC, KC.BERNOULLI):
            while (t := self.tick / self.rate_hz) <= t_end:
                idx = self._tick_edges(self.tick)
                if idx.size:
                    self._group(t, idx)
                self.tick += 1
                done += 1
            return done
        while True:
            i = int(np.argmin(self.next_t))
            t = float(self.next_t[i])
            if not t <= t_end:
                return done
            self._group(t, np.array([i]))
            self.next_t[i] = self._own_time(i, t)
            done += 1

    # ------------------------------------------------------------------ reading

    def k_at(self, t: float) -> np.ndarray:
        """Deterministic ``k`` at ``t`` (read-only; noise since the last draw excluded)."""
        dt = np.maximum(t - self.t_k, 0.0)
        return np.clip(self.k + self.rate * self.drive * dt, self.k_min, self.k_max)

    def pending_j(self, t: float) -> tuple[float, float]:
        """Free and clamped energy (J) owed since the last booking, up to ``t`` (read-only)."""
        if self.physics.cost.per_update:
            return 0.0, 0.0
        dt = max(t - self.t_book, 0.0)
        return self.free_cost * dt, self.clamped_cost * dt
