"""Jammed-packing contact networks (PHYSICS.md section 7).

A jammed network is the contact network of a 2-D packing of soft frictionless disks in a periodic
square box, compressed until it is mechanically stable at a small, fixed pressure, with the
rattlers removed.

Model and units
---------------
* Length unit: the mean disk diameter ``d`` (so the mean diameter is 1). Energy unit: the
  contact stiffness ``eps``. Masses are 1 (they do not affect the minima).
* Pair potential (harmonic repulsion, O'Hern et al. 2003): for disks ``i, j`` with contact
  distance ``s_ij = r_i + r_j`` at minimum-image distance ``r < s_ij``,
  ``V = (eps / 2) * (1 - r / s_ij)**2``; zero otherwise.
* Pressure: the 2-D virial ``P = (1 / (2 A)) * sum_contacts f_ij * r_ij`` with
  ``f_ij = -dV/dr = (eps / s_ij) * (1 - r / s_ij)`` and ``A = L**2``, in units of ``eps / d**2``.

Protocol (:func:`_jam`)
-----------------------
1. Draw the diameters (bidisperse by default: 50/50 mix of diameter ratio 1.4) and place the
   disks uniformly at random in a box whose side gives ``initial_packing_fraction``.
2. Minimise the energy with FIRE (Bitzek et al. 2006, with the FIRE 2.0 velocity correction of
   Guénolé et al. 2020) until the largest net force on any disk is below ``force_tolerance``.
3. Measure the pressure. Rescale the box affinely (radii fixed) to change the packing fraction
   and minimise again, by secant steps on ``P(phi)`` safeguarded by bisection, until
   ``|P - target_pressure| <= pressure_rtol * target_pressure``.

**Jamming criterion:** the packing is "jammed" when it is in force balance (step 2) at the
target pressure (step 3). The default ``target_pressure = 0.01`` is read off the ``Lp0.0100``
in the authors' reference file names (their pressure units are not stated); with our units it
reproduces their mean coordination (z = 4.43-4.52 for N = 64-256).

Network (:func:`jammed_network`)
--------------------------------
Contacts are the pairs that overlap (minimum-image distance strictly below ``r_i + r_j``).
Rattlers are removed iteratively (nodes with fewer than 3 contacts, degrees recomputed, until none
remain): what is left is the 3-core of the contact graph, which does not depend on the removal
order. Survivors are relabelled ``0..N-1`` in their original order.

The requested ``n_nodes`` is the node count *after* rattler removal. Each attempt jams a fresh
random packing of ``n_nodes + R`` disks, where ``R`` is the most likely rattler count: the mode
(floor of the mean) of a Poisson law whose mean is estimated from ``rattler_guess * n_nodes``
(weight of two observations) and the rattler counts of the previous attempts. An attempt whose
rattler-free network does not have exactly ``n_nodes`` nodes (or is disconnected) is discarded;
after ``max_attempts`` attempts :class:`~twin.errors.NetworkError` is raised. Attempts start
from fresh random states (no reuse of rejected packings), so this is plain rejection sampling
conditioned on the rattler-free node count.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import attrs
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..errors import ConfigError, NetworkError
from .network import Network

__all__ = ["JammingConfig", "jammed_network"]

_log = logging.getLogger("twin.jammed")

#: Packings of at most this many disks use all-pairs neighbour lists; larger ones use a k-d tree.
_ALL_PAIRS_MAX = 512
#: Verlet-list skin, in mean diameters.
_SKIN = 0.3
#: FIRE parameters (Bitzek et al. 2006; times in units of sqrt(m d**2 / eps)).
_FIRE_DT0 = 0.05
_FIRE_DT_MAX = 0.5
_FIRE_N_MIN = 5
_FIRE_F_INC = 1.1
_FIRE_F_DEC = 0.5
_FIRE_ALPHA0 = 0.1
_FIRE_F_ALPHA = 0.99
#: Initial guess of dP/dphi above jamming (eps / d**2), refined by secant steps.
_SLOPE_GUESS = 0.5


# --------------------------------------------------------------------------- configuration


def _number(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Any:
    """An attrs validator: a finite real number in ``[lo, hi]`` (open ends as requested)."""

    def check(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        name = attribute.name
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        v = float(value)
        too_low = v <= lo if lo_open else v < lo
        too_high = v >= hi if hi_open else v > hi
        if not math.isfinite(v) or too_low or too_high:
            lb = "(" if lo_open else "["
            rb = ")" if hi_open else "]"
            raise ConfigError(f"{name}: expected a value in {lb}{lo:g}, {hi:g}{rb}, got {value!r}")

    return check


def _count(lo: int) -> Any:
    """An attrs validator: an integer ``>= lo``."""

    def check(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
            raise ConfigError(f"{attribute.name}: expected an integer >= {lo}, got {value!r}")

    return check


def _distribution(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in ("bidisperse", "uniform"):
        raise ConfigError(f"{attribute.name}: expected 'bidisperse' or 'uniform', got {value!r}")


@attrs.frozen(kw_only=True)
class JammingConfig:
    """Parameters of the jammed-packing generator (units: see the module docstring).

    Parameters
    ----------
    size_distribution
        ``"bidisperse"`` (default; a ``large_fraction`` of the disks is ``diameter_ratio`` times
        larger than the rest) or ``"uniform"`` (diameters uniform between ``d_min`` and
        ``diameter_ratio * d_min``).
    diameter_ratio
        Largest over smallest diameter, in ``[1, 10]``; default 1.4.
    large_fraction
        Bidisperse only: fraction of large disks, in ``[0, 1]``; default 0.5. The count of large
        disks is the nearest integer.
    target_pressure
        Pressure at which the packing is considered jammed, in ``eps / d**2``, in ``(0, 1]``;
        default 0.01 (the authors' ``Lp0.0100``).
    pressure_rtol
        Relative tolerance on the pressure, in ``(0, 0.5]``; default 0.02.
    initial_packing_fraction
        Packing fraction of the random initial state, in ``(0, 0.95]``; default 0.86 (just above
        jamming, so the first minimisation already yields a jammed state).
    force_tolerance
        FIRE stops when the largest net force on any disk is below this, in ``eps / d``, in
        ``(0, 1e-3]``; default 1e-11 (contact forces at the default pressure are ~1e-2).
    max_fire_steps
        Cap on FIRE steps per minimisation (>= 1); default 50000 (typically 300-3000 are used).
    max_pressure_steps
        Cap on box rescalings per packing (>= 1); default 60.
    max_attempts
        Cap on packings tried to hit the exact node count (>= 1); default 60. About one
        attempt in four succeeds for N = 256 (fewer for larger N, more for smaller N).
    rattler_guess
        Prior expected fraction of rattlers, used to size the packings, in ``[0, 0.5]``;
        default 0.01 (what the default pressure gives).
    """

    size_distribution: Literal["bidisperse", "uniform"] = attrs.field(
        default="bidisperse", validator=_distribution
    )
    diameter_ratio: float = attrs.field(default=1.4, validator=_number(1.0, 10.0))
    large_fraction: float = attrs.field(default=0.5, validator=_number(0.0, 1.0))
    target_pressure: float = attrs.field(default=0.01, validator=_number(0.0, 1.0, lo_open=True))
    pressure_rtol: float = attrs.field(default=0.02, validator=_number(0.0, 0.5, lo_open=True))
    initial_packing_fraction: float = attrs.field(
        default=0.86, validator=_number(0.0, 0.95, lo_open=True)
    )
    force_tolerance: float = attrs.field(default=1e-11, validator=_number(0.0, 1e-3, lo_open=True))
    max_fire_steps: int = attrs.field(default=50_000, validator=_count(1))
    max_pressure_steps: int = attrs.field(default=60, validator=_count(1))
    max_attempts: int = attrs.field(default=60, validator=_count(1))
    rattler_guess: float = attrs.field(default=0.01, validator=_number(0.0, 0.5))


# --------------------------------------------------------------------------- packing state


@attrs.frozen(kw_only=True, eq=False)
class _Packing:
    """A disk packing: positions in ``[0, box)**2``, radii and box side (units of ``d``).

    ``pressure`` (``eps / d**2``) and ``energy`` (``eps``) are those of the stored positions.
    """

    positions: np.ndarray
    radii: np.ndarray
    box: float
    pressure: float
    energy: float

    @property
    def packing_fraction(self) -> float:
        """Area fraction covered by the disks (overlaps counted twice)."""
        return _packing_fraction(self.radii, self.box)


def _packing_fraction(radii: np.ndarray, box: float) -> float:
    return float(np.pi * np.sum(radii**2) / box**2)


def _box_for(radii: np.ndarray, phi: float) -> float:
    """Side of the square box in which disks of ``radii`` cover a fraction ``phi``."""
    return float(np.sqrt(np.pi * np.sum(radii**2) / phi))


def _draw_radii(n: int, config: JammingConfig, rng: np.random.Generator) -> np.ndarray:
    """Radii of ``n`` disks, scaled so the distribution's mean diameter is 1, shuffled."""
    ratio = config.diameter_ratio
    if config.size_distribution == "uniform":
        d_small = 2.0 / (1.0 + ratio)
        diam = d_small * rng.uniform(1.0, ratio, size=n)
    else:
        n_large = round(config.large_fraction * n)
        frac = n_large / n
        d_small = 1.0 / (1.0 - frac + frac * ratio)
        diam = np.full(n, d_small)
        diam[:n_large] *= ratio
        rng.shuffle(diam)
    return 0.5 * diam


def _wrap(pos: np.ndarray, box: float) -> np.ndarray:
    """Positions folded into ``[0, box)`` (guarding against ``x % box == box`` round-off)."""
    out = np.mod(pos, box)
    out[out >= box] = 0.0
    return out


# --------------------------------------------------------------------------- forces


def _candidate_pairs(pos: np.ndarray, radii: np.ndarray, box: float, skin: float) -> np.ndarray:
    """Pairs ``(i < j)`` whose minimum-image distance is below ``r_i + r_j + skin``.

    All pairs are checked (vectorised) for up to ``_ALL_PAIRS_MAX`` disks; larger packings use
    a periodic :class:`scipy.spatial.cKDTree`.
    """
    n = pos.shape[0]
    if n <= _ALL_PAIRS_MAX:
        i, j = np.triu_indices(n, k=1)
    else:
        tree = cKDTree(_wrap(pos, box), boxsize=box)
        pairs = tree.query_pairs(r=2.0 * float(radii.max()) + skin, output_type="ndarray")
        i, j = pairs[:, 0], pairs[:, 1]
    d = pos[i] - pos[j]
    d -= box * np.round(d / box)
    keep = np.einsum("ij,ij->i", d, d) < (radii[i] + radii[j] + skin) ** 2
    return np.column_stack([i[keep], j[keep]]).astype(np.int64)


def _overlaps(
    pos: np.ndarray, radii: np.ndarray, box: float, pairs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overlapping pairs among ``pairs``: their indices, separation vectors and contact distances.

    Returns ``(pairs_in_contact (C, 2), d (C, 2) = x_i - x_j minimum image, s (C,) = r_i + r_j)``.
    """
    i, j = pairs[:, 0], pairs[:, 1]
    d = pos[i] - pos[j]
    d -= box * np.round(d / box)
    s = radii[i] + radii[j]
    m = np.einsum("ij,ij->i", d, d) < s * s
    return pairs[m], d[m], s[m]


def _forces(
    pos: np.ndarray, radii: np.ndarray, box: float, pairs: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """Net forces ``(n, 2)`` (``eps / d``), energy (``eps``), virial pressure (``eps / d**2``)."""
    n = pos.shape[0]
    c, d, s = _overlaps(pos, radii, box, pairs)
    r = np.sqrt(np.einsum("ij,ij->i", d, d))
    strain = 1.0 - r / s
    fmag = strain / s
    fvec = d * (fmag / np.maximum(r, 1e-300))[:, None]
    forces = np.empty((n, 2))
    for k in range(2):
        forces[:, k] = np.bincount(c[:, 0], fvec[:, k], n) - np.bincount(c[:, 1], fvec[:, k], n)
    energy = 0.5 * float(np.sum(strain * strain))
    pressure = float(np.sum(fmag * r)) / (2.0 * box * box)
    return forces, energy, pressure


# --------------------------------------------------------------------------- FIRE


def _fire_minimise(
    pos: np.ndarray, radii: np.ndarray, box: float, config: JammingConfig
) -> tuple[np.ndarray, float, float, int]:
    """Minimise the energy from ``pos`` with FIRE.

    Returns
    -------
    positions, energy, pressure, steps
        Wrapped positions at the minimum, its energy (``eps``) and pressure (``eps / d**2``),
        and the number of FIRE steps taken.

    Raises
    ------
    NetworkError
        If the largest net force is still above ``config.force_tolerance`` after
        ``config.max_fire_steps`` steps.
    """
    x = _wrap(pos, box)
    pairs = _candidate_pairs(x, radii, box, _SKIN)
    moved = 0.0
    v = np.zeros_like(x)
    dt, alpha, n_pos = _FIRE_DT0, _FIRE_ALPHA0, 0
    f, energy, pressure = _forces(x, radii, box, pairs)
    tol2 = config.force_tolerance**2
    for step in range(config.max_fire_steps):
        if float(np.max(np.einsum("ij,ij->i", f, f))) < tol2:
            return _wrap(x, box), energy, pressure, step
        if float(np.vdot(f, v)) > 0.0:
            n_pos += 1
            if n_pos > _FIRE_N_MIN:
                dt = min(dt * _FIRE_F_INC, _FIRE_DT_MAX)
                alpha *= _FIRE_F_ALPHA
        else:
            n_pos = 0
            dt *= _FIRE_F_DEC
            alpha = _FIRE_ALPHA0
            x -= 0.5 * dt * v
            v[:] = 0.0
        v += dt * f
        f_norm = float(np.sqrt(np.vdot(f, f)))
        if f_norm > 0.0:
            v = (1.0 - alpha) * v + (alpha * float(np.sqrt(np.vdot(v, v))) / f_norm) * f
        dx = dt * v
        x += dx
        moved += 2.0 * float(np.sqrt(np.max(np.einsum("ij,ij->i", dx, dx))))
        if moved > _SKIN:
            x = _wrap(x, box)
            pairs = _candidate_pairs(x, radii, box, _SKIN)
            moved = 0.0
        f, energy, pressure = _forces(x, radii, box, pairs)
    raise NetworkError(
        f"jammed: FIRE did not converge in max_fire_steps={config.max_fire_steps} steps "
        f"(largest force {math.sqrt(float(np.max(np.einsum('ij,ij->i', f, f)))):.3g} "
        f"> force_tolerance={config.force_tolerance:g})"
    )


# --------------------------------------------------------------------------- compression


def _next_phi(
    phi: float,
    pressure: float,
    lo: tuple[float, float] | None,
    hi: tuple[float, float] | None,
    jammed: list[tuple[float, float]],
    target: float,
) -> float:
    """Next packing fraction: secant on the last two jammed states, kept inside the bracket."""
    if len(jammed) >= 2 and jammed[-1][0] != jammed[-2][0]:
        (p1, q1), (p2, q2) = jammed[-2], jammed[-1]
        slope = (q2 - q1) / (p2 - p1)
        guess = p2 + (target - q2) / slope if slope > 0 else math.nan
    elif pressure > 0.0:
        guess = phi + (target - pressure) / _SLOPE_GUESS
    else:
        guess = phi + 0.01
    if lo is not None and hi is not None:
        width = hi[0] - lo[0]
        if not (lo[0] + 0.01 * width < guess < hi[0] - 0.01 * width):
            guess = 0.5 * (lo[0] + hi[0])
    elif not math.isfinite(guess):
        guess = phi + (0.01 if pressure < target else -0.01)
    return min(max(guess, 0.05), 0.99)


def _jam(positions: np.ndarray, radii: np.ndarray, phi: float, config: JammingConfig) -> _Packing:
    """Jam disks of ``radii`` to ``config.target_pressure``, starting from ``positions``.

    Parameters
    ----------
    positions
        ``(n, 2)`` initial positions, in a box of the side giving packing fraction ``phi``.
    radii
        ``(n,)`` radii, units of the mean diameter ``d``.
    phi
        Initial packing fraction.
    config
        Generator parameters (pressure target and tolerances, FIRE caps).

    Returns
    -------
    _Packing
        The force-balanced packing whose pressure is within ``pressure_rtol`` of the target.

    Raises
    ------
    NetworkError
        If the target pressure is not reached in ``config.max_pressure_steps`` rescalings.
    """
    target = config.target_pressure
    box = _box_for(radii, phi)
    pos = np.asarray(positions, dtype=float)
    lo: tuple[float, float] | None = None
    hi: tuple[float, float] | None = None
    jammed: list[tuple[float, float]] = []
    for _ in range(config.max_pressure_steps):
        if box <= 4.0 * float(radii.max()):
            raise NetworkError(
                f"n_nodes: {radii.size} disks are too few: the box side {box:.3g} is not above "
                "twice the largest contact distance, so the minimum-image convention fails"
            )
        pos, energy, pressure, steps = _fire_minimise(pos, radii, box, config)
        _log.debug("phi=%.6f P=%.4g E=%.3g (%d FIRE steps)", phi, pressure, energy, steps)
        if abs(pressure - target) <= config.pressure_rtol * target:
            return _Packing(positions=pos, radii=radii, box=box, pressure=pressure, energy=energy)
        if pressure > target:
            hi = (phi, pressure) if hi is None or phi < hi[0] else hi
        else:
            lo = (phi, pressure) if lo is None or phi > lo[0] else lo
        if pressure > 1e-3 * target:
            jammed.append((phi, pressure))
        new_phi = _next_phi(phi, pressure, lo, hi, jammed, target)
        new_box = _box_for(radii, new_phi)
        pos = pos * (new_box / box)
        phi, box = new_phi, new_box
    raise NetworkError(
        f"jammed: pressure did not reach target_pressure={target:g} within "
        f"max_pressure_steps={config.max_pressure_steps} rescalings"
    )


def _random_packing(
    n: int, config: JammingConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """Random initial state: ``(positions, radii, phi)`` at ``initial_packing_fraction``."""
    radii = _draw_radii(n, config, rng)
    phi = config.initial_packing_fraction
    pos = rng.uniform(0.0, _box_for(radii, phi), size=(n, 2))
    return pos, radii, phi


# --------------------------------------------------------------------------- contact network


def _contact_edges(packing: _Packing) -> np.ndarray:
    """Overlapping pairs ``(i < j)`` of a packing (minimum image), shape ``(C, 2)``."""
    pairs = _candidate_pairs(packing.positions, packing.radii, packing.box, 0.0)
    contacts, _, _ = _overlaps(packing.positions, packing.radii, packing.box, pairs)
    return contacts


def _three_core(n: int, edges: np.ndarray) -> np.ndarray:
    """Boolean mask of the nodes left after iteratively removing nodes of degree < 3."""
    keep = np.ones(n, dtype=bool)
    while True:
        live = edges[keep[edges[:, 0]] & keep[edges[:, 1]]]
        deg = np.bincount(live.reshape(-1), minlength=n)
        drop = keep & (deg < 3)
        if not drop.any():
            return keep
        keep &= ~drop


def _is_connected(n: int, edges: np.ndarray) -> bool:
    adj = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return int(connected_components(adj, directed=False)[0]) == 1


def _backbone(packing: _Packing) -> tuple[np.ndarray, np.ndarray]:
    """Rattler-free contact network: ``(kept-node mask, relabelled edges (E, 2))``."""
    n = packing.radii.size
    contacts = _contact_edges(packing)
    keep = _three_core(n, contacts)
    new_label = np.cumsum(keep) - 1
    live = contacts[keep[contacts[:, 0]] & keep[contacts[:, 1]]]
    return keep, new_label[live]


def _min_disks(config: JammingConfig) -> int:
    """Fewest disks whose box (at packing fraction 0.9) exceeds twice the largest diameter.

    Below this the minimum-image convention misses contacts with a second periodic image.
    """
    ratio = config.diameter_ratio
    if config.size_distribution == "uniform":
        d_small = 2.0 / (1.0 + ratio)
        mean_d2 = d_small**2 * (1.0 + ratio + ratio**2) / 3.0
    else:
        f = config.large_fraction
        d_small = 1.0 / (1.0 - f + f * ratio)
        mean_d2 = d_small**2 * (1.0 - f + f * ratio**2)
    d_max = d_small * ratio
    return max(4, math.floor((2.0 * d_max) ** 2 * 0.9 / (0.25 * np.pi * mean_d2)) + 1)


def _likely_rattlers(n_target: int, seen: list[int], config: JammingConfig) -> int:
    """Most likely rattler count: floor of the mean (the mode of a Poisson law).

    The mean blends the prior ``rattler_guess * n_target`` (weight 2) with the counts ``seen``.
    """
    mean = (2.0 * config.rattler_guess * n_target + sum(seen)) / (2.0 + len(seen))
    return math.floor(mean)


# --------------------------------------------------------------------------- public API


def jammed_network(
    n_nodes: int, *, rng: np.random.Generator, config: JammingConfig | None = None
) -> Network:
    """Contact network of a jammed bidisperse soft-disk packing, rattlers removed.

    Parameters
    ----------
    n_nodes
        Number of nodes of the returned network, i.e. of non-rattler disks (>= 4).
    rng
        Source of all randomness (disk sizes and initial positions).
    config
        Generator parameters; defaults to :class:`JammingConfig` ``()``.

    Returns
    -------
    Network
        ``n_nodes`` nodes, one edge ``(u < v)`` per contact, disk centres as ``positions``
        (units of the mean diameter, in ``[0, box)**2``) and the periodic box side as ``box``;
        named ``"jammed:{n_nodes}"``.

    Raises
    ------
    NetworkError
        If ``n_nodes`` is not an integer >= 4, is too small for the box to exceed twice the
        largest diameter (7 with the default sizes), or no connected rattler-free packing with
        exactly ``n_nodes`` disks is found within ``config.max_attempts`` packings.
    ConfigError
        If ``rng`` is not a :class:`numpy.random.Generator` or ``config`` is not a
        :class:`JammingConfig`.
    """
    network, _, _ = _jammed_packing(n_nodes, rng, config)
    return network


def _jammed_packing(
    n_nodes: int, rng: np.random.Generator, config: JammingConfig | None
) -> tuple[Network, _Packing, np.ndarray]:
    """:func:`jammed_network`, also returning the packing and the mask of its non-rattlers.

    The network's node ``k`` is disk ``np.flatnonzero(keep)[k]`` of the packing (for tests).
    """
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer) or n_nodes < 4:
        raise NetworkError(f"n_nodes: expected an integer >= 4, got {n_nodes!r}")
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    if config is None:
        config = JammingConfig()
    elif not isinstance(config, JammingConfig):
        raise ConfigError(f"config: expected a JammingConfig, got {type(config).__name__}")
    n_target = int(n_nodes)
    if n_target < _min_disks(config):
        raise NetworkError(
            f"n_nodes: need at least {_min_disks(config)} disks for these disk sizes in a "
            f"periodic box (minimum image), got {n_target}"
        )
    rattlers: list[int] = []
    reason = "none tried"
    for attempt in range(1, config.max_attempts + 1):
        n_sim = n_target + _likely_rattlers(n_target, rattlers, config)
        pos, radii, phi = _random_packing(n_sim, config, rng)
        try:
            packing = _jam(pos, radii, phi, config)
        except NetworkError as exc:
            reason = str(exc)
            _log.debug("attempt %d: %s", attempt, reason)
            continue
        keep, edges = _backbone(packing)
        n_kept = int(keep.sum())
        rattlers.append(n_sim - n_kept)
        _log.debug(
            "attempt %d: %d disks, %d rattlers, %d contacts, P=%.4g, phi=%.4f",
            attempt, n_sim, n_sim - n_kept, len(edges), packing.pressure,
            packing.packing_fraction,
        )  # fmt: skip
        if n_kept != n_target:
            reason = f"last packing kept {n_kept} of {n_sim} disks"
            continue
        if not _is_connected(n_kept, edges):
            reason = "last contact network was disconnected"
            continue
        network = Network(
            n_nodes=n_kept,
            edges=edges,
            positions=packing.positions[keep],
            box=packing.box,
            name=f"jammed:{n_target}",
        )
        return network, packing, keep
    raise NetworkError(
        f"n_nodes: no connected rattler-free packing of exactly {n_target} disks in "
        f"max_attempts={config.max_attempts} attempts ({reason})"
    )
