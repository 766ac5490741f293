"""The rattler-free contact network of a jammed packing, and :func:`jammed_network`."""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ...errors import ConfigError, NetworkError
from ..network import Network
from .compress import _jam
from .config import JammingConfig
from .packing import _candidate_pairs, _overlaps, _Packing, _random_packing

__all__ = ["jammed_network"]

_log = logging.getLogger("twin.jammed")


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
