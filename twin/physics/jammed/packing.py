"""Disk packings: state, disk sizes, neighbour pairs, forces, energy and virial pressure.

Units and the pair potential are those of :mod:`twin.physics.jammed`.
"""

from __future__ import annotations

import attrs
import numpy as np
from scipy.spatial import cKDTree

from .config import JammingConfig

__all__: list[str] = []

#: Packings of at most this many disks use all-pairs neighbour lists; larger ones use a k-d tree.
_ALL_PAIRS_MAX = 512
#: Verlet-list skin, in mean diameters.
_SKIN = 0.3


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


def _random_packing(
    n: int, config: JammingConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """Random initial state: ``(positions, radii, phi)`` at ``initial_packing_fraction``."""
    radii = _draw_radii(n, config, rng)
    phi = config.initial_packing_fraction
    pos = rng.uniform(0.0, _box_for(radii, phi), size=(n, 2))
    return pos, radii, phi


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
