"""Noise: white noise on the charging signal, measurement noise, comparator offsets.

Learning-rule noise (``delta_v2``)
    White noise on the contrast signal ``(1 - lam) dV_F^2 - dV_C^2``, of scale ``delta_v2``
    (V^2) per reference learning step ``tau_ref_s`` (0.1 ms): averaged over one reference step its
    standard deviation is ``delta_v2``, so a synchronous run at the reference rate reproduces the
    seed's discrete rule ``dk ~ -(contrast + delta xi)`` (Fig. 3d uses ``delta = 1e-3 V^2``).
    As continuous white noise its intensity is ``delta_v2^2 tau_ref_s`` (V^4 s), amplified by the
    mean gain and integrated by the capacitor: over an interval ``dt`` the gate receives an
    independent Gaussian increment of standard deviation

        sigma_G sqrt(dt)                               (no leak)
        sigma_G sqrt(tau / 2 (1 - exp(-2 dt / tau)))   (leak: Ornstein-Uhlenbeck)

    with ``sigma_G = gain * delta_v2 * sqrt(tau_ref_s) / (R C)`` (V/sqrt(s)). Increments scale with
    the interval, so results do not depend on how often events happen. Each edge draws its
    increment lazily at its own events for the whole time since its previous draw (exact in
    distribution for a linear capacitor; rail clipping is applied to the end value, neglecting
    excursions into a rail within one interval).
Measurement noise (``meas_sigma_v``)
    Gaussian noise (V) on every drop an edge reads at a clocked measurement (a sampled reading:
    this one does depend on how often edges measure). The continuous clock's analog measurement
    is folded into ``delta_v2``.
Comparator offsets (``offset_sigma_v2``)
    A fixed per-edge offset on the contrast (V^2), drawn once per run: ``N(0, offset_sigma_v2^2)``.

Reproducibility: the run's keys come from the ``numpy.random.Generator`` passed in; draws are
counter-based per edge (:mod:`twin.kernels.events.rng`), so the same seed gives the same run bit for
bit, whatever the batching.
"""

from __future__ import annotations

import attrs
import numpy as np

from .._validators import non_negative, positive
from ..kernels.events import gate as KG
from ..kernels.events.state import NoiseGroup
from .errors import ModelError

__all__ = ["NoiseConfig", "comparator_offsets", "gate_noise_std", "noise_group", "run_keys"]

#: The board's learning step, the reference interval of ``delta_v2``, seconds.
REFERENCE_STEP_S = 1e-4


@attrs.frozen(kw_only=True)
class NoiseConfig:
    """Noise sources of the twin (all zero: the ideal, deterministic twin).

    Parameters
    ----------
    delta_v2
        Learning-rule white noise on the contrast, V^2 per reference step.
    tau_ref_s
        Reference step of ``delta_v2``, seconds.
    meas_sigma_v
        Measurement noise on each drop an edge reads, V.
    offset_sigma_v2
        Spread of the fixed per-edge comparator offsets, V^2.
    """

    delta_v2: float = attrs.field(default=0.0, converter=float, validator=non_negative(ModelError))
    tau_ref_s: float = attrs.field(
        default=REFERENCE_STEP_S, converter=float, validator=positive(ModelError)
    )
    meas_sigma_v: float = attrs.field(
        default=0.0, converter=float, validator=non_negative(ModelError)
    )
    offset_sigma_v2: float = attrs.field(
        default=0.0, converter=float, validator=non_negative(ModelError)
    )

    @property
    def signal_sigma(self) -> float:
        """White-noise amplitude of the contrast signal, V^2 sqrt(s)."""
        return self.delta_v2 * float(np.sqrt(self.tau_ref_s))

    @property
    def enabled(self) -> bool:
        return bool(self.delta_v2 or self.meas_sigma_v or self.offset_sigma_v2)


def comparator_offsets(noise: NoiseConfig, n_edges: int, rng: np.random.Generator) -> np.ndarray:
    """Fixed per-edge contrast offsets (V^2); zeros without drawing when the spread is 0."""
    if noise.offset_sigma_v2 == 0:
        return np.zeros(n_edges)
    return noise.offset_sigma_v2 * rng.standard_normal(n_edges)


def run_keys(rng: np.random.Generator) -> tuple[int, int]:
    """The run's noise and clock keys (64-bit), drawn from ``rng``."""
    keys = rng.integers(0, 2**63 - 1, size=2, dtype=np.int64)
    return int(keys[0]), int(keys[1])


def gate_noise_std(dt_s: float, sigma_v_per_sqrt_s: float, tau_s: float = np.inf) -> float:
    """Standard deviation (V) of the gate's noise increment over ``dt_s`` seconds."""
    return float(KG.gate_noise_std(float(dt_s), float(sigma_v_per_sqrt_s), float(tau_s)))


def noise_group(noise: NoiseConfig, n_edges: int, key: int, rng: np.random.Generator) -> NoiseGroup:
    """The noise sources' kernel group; draws the comparator offsets from ``rng``."""
    return NoiseGroup(
        key=np.uint64(key),
        sig_gate=float(noise.signal_sigma),
        sig_meas_v=float(noise.meas_sigma_v),
        offset_v2=comparator_offsets(noise, n_edges, rng),
        t_noise=np.zeros(n_edges),
        draws=np.zeros(n_edges, dtype=np.int64),
    )
