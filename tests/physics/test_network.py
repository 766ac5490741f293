"""Networks: the lattice generator, validation, incidence and connectivity."""

from __future__ import annotations

import numpy as np
import pytest

from twin.errors import NetworkError
from twin.physics.network import Network, lattice, n_components
from twin.physics.network_io import network_from_spec


def test_board_lattice_is_a_4x4_torus() -> None:
    net = network_from_spec("lattice:4x4:periodic")
    assert (net.n_nodes, net.n_edges) == (16, 32)
    assert np.all(net.degree() == 4)
    # no duplicate undirected edges
    assert len({tuple(sorted(e)) for e in net.edges.tolist()}) == 32


def test_open_lattice_counts() -> None:
    net = network_from_spec("lattice:8x8")
    assert (net.n_nodes, net.n_edges) == (64, 2 * 8 * 7)
    assert net.degree().min() == 2


def test_incidence_matches_orientation() -> None:
    net = lattice(3, 3)
    d = net.incidence().toarray()
    v = np.arange(net.n_nodes, dtype=float) ** 2
    np.testing.assert_allclose(d @ v, v[net.edges[:, 0]] - v[net.edges[:, 1]])
    np.testing.assert_allclose(d.sum(axis=1), 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_nodes": 4, "edges": [[0, 1], [2, 3]]}, "disconnected"),
        ({"n_nodes": 3, "edges": [[0, 1], [1, 1]]}, "self-loop"),
        ({"n_nodes": 3, "edges": [[0, 1], [1, 5]]}, "indices"),
        ({"n_nodes": 3, "edges": [[0, 1, 2]]}, "shape"),
        ({"n_nodes": 2, "edges": [[0, 1]], "conductance": [-1.0]}, "conductance"),
        ({"n_nodes": 2, "edges": [[0, 1]], "conductance": [1.0, 2.0]}, "conductance"),
        ({"n_nodes": 2, "edges": [[0, 1]], "k_min": 2.0, "k_max": 1.0}, "k_min"),
    ],
)
def test_bad_networks_are_rejected_with_the_field_named(kwargs: dict, match: str) -> None:
    with pytest.raises(NetworkError, match=match):
        Network(**kwargs)


@pytest.mark.parametrize("seed", range(20))
def test_component_count_agrees_with_scipy(seed: int) -> None:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    e = int(rng.integers(0, 2 * n))
    edges = rng.integers(0, n, size=(e, 2))
    adj = coo_matrix((np.ones(e), (edges[:, 0], edges[:, 1])), shape=(n, n))
    assert n_components(n, edges) == connected_components(adj, directed=False)[0]


def test_component_count_of_a_long_path_and_two_rings() -> None:
    path = np.array([[i, i + 1] for i in range(999)])
    assert n_components(1000, path[::-1]) == 1
    rings = np.array(
        [[i, (i + 1) % 50] for i in range(50)] + [[50 + i, 50 + (i + 1) % 7] for i in range(7)]
    )
    assert n_components(57, rings) == 2
