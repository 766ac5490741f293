"""The rigidity check: the sparse count agrees with the dense SVD and is kept with the network."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import triangular_springs
from twin.errors import NetworkError
from twin.physics.network_io import network_from_spec
from twin.physics.springs.network import (
    DENSE_RIGIDITY_MAX,
    SpringNetwork,
    _dense_zero_modes,
    _sparse_zero_modes,
    check_rigid,
    floppy_modes,
    prune_to_coordination,
    rigidity_matrix,
    sparse_rigidity_matrix,
)


def _triangular(rows: int, cols: int, *, drop: int | None = None) -> SpringNetwork:
    """A triangular lattice in the open plane (rigid), less bond ``drop`` if given."""
    net = triangular_springs(rows, cols)
    if drop is None:
        return net
    keep = np.delete(np.arange(len(net.edges)), drop)
    return SpringNetwork(
        positions=net.positions, edges=net.edges[keep], rest_lengths=net.rest_lengths[keep]
    )


def _networks(jammed27: SpringNetwork) -> list[SpringNetwork]:
    z = jammed27.coordination
    return [
        jammed27,
        prune_to_coordination(jammed27, z - 0.3, np.random.default_rng(1)),
        jammed27.evolve(edges=jammed27.edges[1:], rest_lengths=jammed27.rest_lengths[1:]),
        SpringNetwork.from_network(network_from_spec("lattice:4x4")),  # square: floppy
        SpringNetwork.from_network(network_from_spec("lattice:5x5:periodic")),
        _triangular(6, 6),
        _triangular(6, 6, drop=0),  # a corner bond removed: one floppy mode
    ]


def test_sparse_rigidity_matrix_is_the_dense_one(jammed27: SpringNetwork) -> None:
    assert np.array_equal(sparse_rigidity_matrix(jammed27).toarray(), rigidity_matrix(jammed27))


def test_sparse_and_dense_zero_mode_counts_agree(jammed27: SpringNetwork) -> None:
    counts = []
    for net in _networks(jammed27):
        dense = _dense_zero_modes(net)
        assert _sparse_zero_modes(net) == dense, net.name
        counts.append(dense)
    assert counts[:2] == [2, 2]  # rigid (periodic), pruned and still rigid
    assert counts[5:] == [3, 4]  # open plane: rigid; one floppy mode


def test_large_networks_take_the_sparse_path_with_the_same_answer() -> None:
    rigid, floppy = _triangular(20, 20), _triangular(20, 20, drop=0)
    assert 2 * rigid.n_nodes > DENSE_RIGIDITY_MAX
    assert floppy_modes(rigid) == 0
    assert floppy_modes(floppy) == 1  # corner node 0 hangs on one bond: it swings freely
    with pytest.raises(NetworkError, match="1 floppy mode"):
        check_rigid(floppy)


def test_the_count_is_kept_with_the_network_and_dropped_by_evolve(jammed27: SpringNetwork) -> None:
    net = jammed27.evolve()
    assert net.floppy_count is None
    assert floppy_modes(net) == 0
    assert net.floppy_count == 0
    cut = net.evolve(edges=net.edges[:10], rest_lengths=net.rest_lengths[:10])
    assert cut.floppy_count is None
    assert floppy_modes(cut) > 0
