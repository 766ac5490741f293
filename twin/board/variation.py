"""Hidden component variation of an emulated board, and the ADC that measures it.

A real board's edges differ from the nominal model: amplifier gains of the free and clamped
channels, transistor thresholds, gate capacitors, leakage and comparator offsets all spread.
:func:`draw_hidden_edges` draws one board's per-edge values from a ``numpy.random.Generator``;
the emulator uses them, the shadow never sees them (it has to infer them: calibration).

A comparator offset ``o`` (V, added to the charging drive ``u``) on an edge with a leak of time
constant ``tau`` is folded exactly into the leak's rest voltage: ``u/RC + o/RC - (V - v_r)/tau``
equals ``u/RC - (V - (v_r + tau o / RC))/tau``. Offsets therefore need a leak; the emulator
always has one (a board without a drain resistor still leaks through the capacitor's
dielectric).

A learning bias ``B`` (V/s per edge: the gate drifts at ``B`` while the edge learns, whatever its
drops; arXiv 2505.22887) is drawn as ``N(bias_mean_v_per_s, bias_sigma_v_per_s^2)`` per edge
from a child stream of the board's generator (``Generator.spawn``), so a board without a bias
draws exactly what it drew before the bias existed. :meth:`HiddenVariation.lab` is a board as
imperfect as the lab's 4 x 4 board: its measured cycle spans and error floors.

:class:`Adc` quantises readings to ``bits`` over ``[0, full_scale_v]`` after Gaussian noise.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np

from twin._validators import finite, non_negative, positive
from twin.board.commands import VARIATION_NAMES
from twin.board.errors import BridgeConfigError
from twin.simulation.devices import TransistorDevice
from twin.simulation.edge import EdgeParams, board_edge_params

__all__ = [
    "NODE_FULL_SCALE_V",
    "Adc",
    "HiddenVariation",
    "draw_hidden_edges",
    "read_interleaved",
]

#: Full scale of the board's node-voltage ADC, volts (PHYSICS.md section 8).
NODE_FULL_SCALE_V = 0.4532
#: Full scale of the gate-voltage ADC, volts (the gate rail).
GATE_FULL_SCALE_V = 5.5


@attrs.frozen(kw_only=True)
class HiddenVariation:
    """Spread of one board's components (all zero: the nominal board).

    Parameters
    ----------
    gain_rel
        Relative spread of each amplifier gain (free and clamped channels drawn separately).
    gain_scale
        Mean of both channels' amplifier gains relative to the nominal ``x10``: the rate at which
        the gates learn (a board whose charging path delivers less current learns slower).
    threshold_v
        Spread of the transistor thresholds, V.
    capacitance_rel
        Relative spread of the gate capacitors.
    leak_tau_s
        Range ``(low, high)`` of the leak time constants, s (log-uniform); ``None``: no leak.
    offset_v
        Spread of the comparator offsets on the charging drive, V (needs a leak).
    bias_mean_v_per_s, bias_sigma_v_per_s
        Mean and spread of the per-edge learning bias, V/s of gate voltage while learning.
    soft_wall_v
        Width of a soft wall at each gate rail, V (0: hard rails, every preset): charging toward
        a rail slows linearly to 0 over its last ``soft_wall_v`` volts
        (:attr:`twin.simulation.edge.EdgeParams.soft_wall_v`). Draws nothing.
    """

    gain_rel: float = attrs.field(default=0.0, validator=non_negative(BridgeConfigError))
    gain_scale: float = attrs.field(default=1.0, validator=positive(BridgeConfigError))
    threshold_v: float = attrs.field(default=0.0, validator=non_negative(BridgeConfigError))
    capacitance_rel: float = attrs.field(default=0.0, validator=non_negative(BridgeConfigError))
    leak_tau_s: tuple[float, float] | None = None
    offset_v: float = attrs.field(default=0.0, validator=non_negative(BridgeConfigError))
    bias_mean_v_per_s: float = attrs.field(default=0.0, validator=finite(BridgeConfigError))
    bias_sigma_v_per_s: float = attrs.field(default=0.0, validator=non_negative(BridgeConfigError))
    soft_wall_v: float = attrs.field(default=0.0, validator=non_negative(BridgeConfigError))

    def __attrs_post_init__(self) -> None:
        if self.leak_tau_s is not None:
            lo, hi = self.leak_tau_s
            if not 0 < lo <= hi < np.inf:
                raise BridgeConfigError(f"leak_tau_s: need 0 < low <= high, got {self.leak_tau_s}")
        if self.offset_v > 0 and self.leak_tau_s is None:
            raise BridgeConfigError("offset_v: comparator offsets need a leak (leak_tau_s)")

    @classmethod
    def typical(cls) -> HiddenVariation:
        """A plausible board: 5 % gains, 20 mV thresholds, 10 % capacitors, 20-200 s leaks."""
        return cls(
            gain_rel=0.05,
            threshold_v=0.02,
            capacitance_rel=0.1,
            leak_tau_s=(20.0, 200.0),
            offset_v=2e-4,
        )

    @classmethod
    def lab(cls) -> HiddenVariation:
        """A board as imperfect as the lab's 4 x 4 board (arXiv 2505.22887; issue 23).

        :meth:`typical` (thresholds, capacitors, leaks, offsets) with three changes, set from the
        lab's measured regression cycle (its run files, ``twin/data/clln``: two training points
        alternating every tau/2 at eta 128/129, :func:`twin.board.hinge.regression_cycle_tasks`):
        a learning bias of 1.5 +- 1.5 V/s per edge, free and clamped gains matched exactly
        (``gain_rel`` 0; :meth:`typical` 5 %) and amplifier gains at half the nominal x10
        (``gain_scale`` 0.5).

        What it reproduces (``nice -n 10 python benchmarks/validate_imperfection.py --board --jobs
        1 --seeds 0 1 2 3 4 5 6 7 --periods 0.02 0.2 1.262 2``, then ``--periods 5.0238``;
        2026-12-07): per period, the cycle span D (norm over the 32 edges) and the error floor,
        median [min, max] over the 8 boards, the median of the lab's replicates, the ratio:

        ======= ==================== ===== ===== ======================== ======= =====
        period  D, V                 lab   ratio floor, V^2               lab     ratio
        ======= ==================== ===== ===== ======================== ======= =====
        20 ms   0.064 [0.019, 0.112] 0.075 0.85x 3.1e-5 [3.6e-6, 2.2e-4]  1.27e-5 2.44x
        0.2 s   0.56 [0.20, 0.80]    0.57  0.98x 1.5e-4 [2.4e-5, 5.6e-4]  6.5e-5  2.28x
        1.262 s 2.7 [1.4, 4.0]       3.0   0.91x 1.05e-3 [5.2e-4, 4.5e-3] 7.0e-4  1.51x
        2 s     3.7 [2.2, 4.5]       4.6   0.80x 1.75e-3 [7.4e-4, 5.0e-3] 1.6e-3  1.07x
        5.02 s  6.5 [4.8, 7.6]       7.9   0.82x 4.0e-3 [1.1e-3, 6.7e-3]  5.6e-3  0.71x
        ======= ==================== ===== ===== ======================== ======= =====

        Every lab floor lies inside the boards' range (its own 20 ms replicates: 1.26e-5, 4.15e-5,
        1.27e-5 V^2). The lab's classification cycle (``--task classification --periods 0.02 0.12``,
        the same 8 boards): D (norm) 0.121 V [0.078, 0.151] and 0.69 V [0.45, 0.81], 1.24x / 1.17x
        of 4.9 V/s x tau, hinge floor 1.17e-3 [7.1e-4, 3.5e-3] and 1.25e-3 [8.0e-4, 4.2e-3] V^2,
        1.02x / 1.09x of 1.15e-3, at 20 ms / 0.12 s. The lab's circle
        (``benchmarks/overclamp_table.py --decide step --task lab --modes standard overclamp``, 8
        boards; ``docs/imperfection-measurements.md``): mean training error at 417 / 167 / 83 mV
        overclamping 0 / 1.6 / 20 % (lab 0 / 0 / 25 %), standard clamping 19 / 42 / 48 % (lab 12.5 /
        12.5 / 50 %: not matched at 167 mV, where no board ends at the lab's 12.5 %; with a third of
        the bias it ends at 10.9 %, without bias at 0 %: that result asks for a smaller bias than
        the span does).

        Why: in the linearised model ``dG/dt = -M_i (G - G_i*) + B`` the span grows as ``|B| tau``
        at short periods and the floor is the static offset ``~ B^2 / (c^2 lambda)`` (``c`` the
        learning rate); a free/clamped gain mismatch is a second, state-dependent bias ``(a_F -
        a_C) dV^2 / RC`` along the stiff directions that lifts the floor without the span: with
        the former 1 % spread and 0.5 +- 0.5 V/s (6 boards, seeds 0-5, same cycle) D was 0.52x /
        0.57x / 0.65x / 0.56x / 0.44x and the floor 2.4x / 2.4x / 3.0x / 1.6x / 0.53x at 20 ms /
        0.2 s / 1.262 s / 2 s / 5 s, and without the gain spread at that bias both fell to
        0.1-0.35x; the larger bias without mismatch lifts D to the lab's with the floor no
        higher. ADC noise cannot make the floor (10-bit: 1.6e-8 V^2).

        Not reproduced: the lab's board holds ~30 of its 32 gates near the ends of its range
        (bands 1.0-1.4 V and 4.7-5.2 V) and they keep moving with the cycle, where the emulator's
        hard 1.0 / 5.5 V rails freeze gates that reach them: on these boards 18-23 of 32 sit
        motionless at 5.5 V and 7-11 carry the span (``docs/imperfection-measurements.md``).
        A soft wall (:attr:`soft_wall_v`, off here) frees most of them but does not close the
        gap: at this bias the span is unchanged, at a third of it the span reaches 0.4-0.46x
        of the lab's while standard clamping at 167 mV rises to 25-34 % (same record).
        The lab's two-transistor network measured biases of (2.87, 4.72) V/s (exp1) and (-0.29,
        2.00) V/s (exp2) (:mod:`twin.board.clln` configures the emulator as that network).
        :meth:`typical` stays the shadow's calibration board.
        """
        return attrs.evolve(
            cls.typical(),
            gain_rel=0.0,
            gain_scale=0.5,
            bias_mean_v_per_s=1.5,
            bias_sigma_v_per_s=1.5,
        )

    @classmethod
    def named(cls, name: str) -> HiddenVariation:
        """The preset called ``name`` (:data:`twin.board.commands.VARIATION_NAMES`): ``none``
        (the nominal board), ``typical`` or ``lab``; an error naming the presets otherwise."""
        presets: dict[str, Callable[[], HiddenVariation]] = {
            "none": cls,
            "typical": cls.typical,
            "lab": cls.lab,
        }
        assert tuple(presets) == VARIATION_NAMES
        if name not in presets:
            raise BridgeConfigError(
                f"variation: expected one of {', '.join(VARIATION_NAMES)}, got {name!r}"
            )
        return presets[name]()

    @property
    def has_bias(self) -> bool:
        return bool(self.bias_mean_v_per_s or self.bias_sigma_v_per_s)


def _spread(rng: np.random.Generator, n: int, rel: float) -> np.ndarray:
    return np.maximum(1.0 + rel * rng.standard_normal(n), 0.2)


def draw_hidden_edges(
    n_edges: int, rng: np.random.Generator, variation: HiddenVariation
) -> tuple[EdgeParams, dict[str, np.ndarray]]:
    """One board's edge circuits and the per-edge values drawn (for tests and calibration).

    Returns the :class:`EdgeParams` the emulator runs and a dict of the hidden per-edge values:
    ``a_free_per_v``, ``a_clamp_per_v``, ``v_t_v``, ``c_gate_f``, ``tau_leak_s``, ``offset_v``,
    ``bias_v_per_s``. Draws happen in a fixed order whatever the spreads, so a seed names one
    board; the bias comes from a child stream spawned only when the variation has one.
    """
    base = board_edge_params("transistor")
    cols = base.columns(n_edges)
    dev = base.device
    assert isinstance(dev, TransistorDevice)
    a_f = cols["a_free_per_v"] * variation.gain_scale * _spread(rng, n_edges, variation.gain_rel)
    a_c = cols["a_clamp_per_v"] * variation.gain_scale * _spread(rng, n_edges, variation.gain_rel)
    v_t = np.broadcast_to(dev.v_t_v, (n_edges,)) + variation.threshold_v * rng.standard_normal(
        n_edges
    )
    c_gate = cols["c_gate_f"] * _spread(rng, n_edges, variation.capacitance_rel)
    u = rng.uniform(size=n_edges)
    offset = variation.offset_v * rng.standard_normal(n_edges)
    bias = np.zeros(n_edges)
    if variation.has_bias:
        child = rng.spawn(1)[0]
        bias = variation.bias_mean_v_per_s + variation.bias_sigma_v_per_s * child.standard_normal(
            n_edges
        )
    if variation.leak_tau_s is None:
        tau = np.full(n_edges, np.inf)
        v_rest = cols["v_rest_v"]
    else:
        lo, hi = variation.leak_tau_s
        tau = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        v_rest = cols["v_rest_v"] + tau * offset / (cols["r_charge_ohm"] * c_gate)
    edges = base.evolve(
        device=TransistorDevice(v_t_v=v_t),
        a_free_per_v=a_f,
        a_clamp_per_v=a_c,
        c_gate_f=c_gate,
        tau_leak_s=tau,
        v_rest_v=v_rest,
        bias_v_per_s=bias,
        soft_wall_v=variation.soft_wall_v,
    )
    hidden = {
        "a_free_per_v": a_f,
        "a_clamp_per_v": a_c,
        "v_t_v": v_t,
        "c_gate_f": c_gate,
        "tau_leak_s": tau,
        "offset_v": offset,
        "bias_v_per_s": bias,
    }
    return edges, hidden


@attrs.frozen(kw_only=True)
class Adc:
    """An ADC: Gaussian noise ``sigma_v``, then ``bits``-bit quantisation of ``[0, full_scale_v]``.

    ``bits = 0`` disables quantisation.
    """

    bits: int = attrs.field(default=10)
    full_scale_v: float = attrs.field(
        default=NODE_FULL_SCALE_V, validator=positive(BridgeConfigError)
    )
    sigma_v: float = attrs.field(default=0.0, validator=non_negative(BridgeConfigError))

    @bits.validator
    def _check_bits(self, _attr: object, value: int) -> None:
        if value not in (0, 8, 10, 12, 14, 16):
            raise BridgeConfigError(f"adc bits: expected 0, 8, 10, 12, 14 or 16, got {value}")

    @property
    def lsb_v(self) -> float:
        """One least-significant bit, volts (0 without quantisation)."""
        return self.full_scale_v / (2**self.bits - 1) if self.bits else 0.0

    @property
    def error_sigma_v(self) -> float:
        """Standard deviation of a reading's error (noise and quantisation), volts."""
        return float(np.sqrt(self.sigma_v**2 + self.lsb_v**2 / 12.0))

    def read(self, values_v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Measured values (V) of true ``values_v``."""
        out = np.array(values_v, dtype=float)
        if self.sigma_v > 0:
            out += self.sigma_v * rng.standard_normal(out.shape)
        return self._quantise(out)

    def _quantise(self, out: np.ndarray) -> np.ndarray:
        """``out`` (noisy values, V) quantised in place; returns it."""
        if self.bits:
            lsb = self.lsb_v
            np.rint(out * (1.0 / lsb), out=out)
            np.minimum(np.maximum(out, 0.0, out=out), 2**self.bits - 1, out=out)
            out *= lsb
        return out


def read_interleaved(
    blocks: list[tuple[Adc, np.ndarray]], rng: np.random.Generator
) -> list[np.ndarray]:
    """Each ``(adc, values_v)`` block (``(K, w)``, one row per frame) read by its ADC: for every
    row ``k`` in turn, row ``k`` of each block in turn, exactly what ``adc.read(values_v[k],
    rng)`` gives called in that order (the noise of all of them in one draw: a Generator's
    normals are the same drawn at once or one call after another)."""
    widths = [values.shape[1] for adc, values in blocks if adc.sigma_v > 0]
    noise = rng.standard_normal((blocks[0][1].shape[0], sum(widths))) if widths else None
    outs, col = [], 0
    for adc, values in blocks:
        out = np.array(values, dtype=float)
        if adc.sigma_v > 0:
            assert noise is not None
            w = values.shape[1]
            out += adc.sigma_v * noise[:, col : col + w]
            col += w
        outs.append(adc._quantise(out))
    return outs
