"""XY architectures and their spec strings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twin.errors import NetworkError
from twin.physics.xy.spec import graph_from_spec


def test_coupling_counts_of_each_architecture():
    assert graph_from_spec("all:6", 2, 1).n_edges == 15
    assert graph_from_spec("layered:2,4,1", 2, 1).n_edges == 2 * 4 + 4 * 1
    # 5 x 5 square: 2 * 5 * 4 = 40 nearest-neighbour couplings
    assert graph_from_spec("lattice:5x5", 2, 1).n_edges == 40
    # triangular adds one diagonal per plaquette: 16
    assert graph_from_spec("lattice:5x5:tri", 2, 1).n_edges == 56
    # skips of length 2 along rows and columns: 2 * 5 * 3 = 30
    assert graph_from_spec("lattice:5x5:skip=2", 2, 1).n_edges == 70
    assert graph_from_spec("lattice:5x5:skip=4", 2, 1).n_edges == 50


def test_lattice_couples_only_local_neighbours():
    g = graph_from_spec("lattice:4x6:tri:skip=3", 2, 1)
    r, c = np.divmod(g.edges, 6)
    dr, dc = r[:, 1] - r[:, 0], c[:, 1] - c[:, 0]
    steps = set(zip(dr.tolist(), dc.tolist(), strict=True))
    assert steps == {(0, 1), (1, 0), (1, 1), (0, 3), (3, 0)}
    assert g.degree().max() == 6 + 1  # inner rows: six triangular neighbours and one row skip


def test_stacked_lattice_counts_and_locality():
    # 3 layers of 3 x 3: 12 couplings in each layer, 9 straight up between each pair of layers
    assert graph_from_spec("stack:3x3x3", 2, 1).n_edges == 3 * 12 + 2 * 9
    # reach 1: a node links to the 3 x 3 patch above it (4 corners x 4, 4 sides x 6, centre 9)
    g = graph_from_spec("stack:3x3x3:reach=1", 2, 1)
    assert g.n_edges == 3 * 12 + 2 * (4 * 4 + 4 * 6 + 9)
    layer, rc = np.divmod(g.edges, 9)
    r, c = np.divmod(rc, 3)
    dl = layer[:, 1] - layer[:, 0]
    assert set(dl.tolist()) == {0, 1}
    cheb = np.maximum(abs(r[:, 1] - r[:, 0]), abs(c[:, 1] - c[:, 0]))
    assert cheb[dl == 0].tolist() == [1] * int(np.sum(dl == 0))  # in plane: nearest neighbours
    assert cheb[dl == 1].max() == 1
    assert not np.any((dl == 0) & (r[:, 1] != r[:, 0]) & (c[:, 1] != c[:, 0]))  # no diagonals


def test_stacked_lattice_io_crosses_every_layer():
    g = graph_from_spec("stack:4x3x3", 2, 1)
    assert g.inputs.tolist() == [2, 6]  # spread over the first layer: (0, 2) and (2, 0)
    assert g.outputs.tolist() == [3 * 9 + 4]  # the centre of the last layer
    # graph distance from the inputs to the output: at least the 3 layer crossings
    adj = [set() for _ in range(g.n_nodes)]
    for a, b in g.edges.tolist():
        adj[a].add(b)
        adj[b].add(a)
    dist = {int(i): 0 for i in g.inputs}
    frontier = list(dist)
    while frontier:
        nxt = []
        for a in frontier:
            for b in adj[a] - dist.keys():
                dist[b] = dist[a] + 1
                nxt.append(b)
        frontier = nxt
    assert len(dist) == g.n_nodes  # connected
    assert dist[int(g.outputs[0])] == 3 + 2  # 3 layer crossings, 2 in-plane hops to the centre


def test_initial_coupling_spread():
    g = graph_from_spec("lattice:3x3:w0=0.25", 2, 1)
    np.testing.assert_array_equal(g.weight_std, 0.25)


def test_io_placements():
    corner = graph_from_spec("lattice:5x5", 2, 1)
    assert corner.inputs.tolist() == [0, 1]
    assert corner.outputs.tolist() == [24]
    sides = graph_from_spec("lattice:5x5:io=sides", 2, 1)
    assert sides.inputs.tolist() == [5, 15]  # rows 1 and 3 of the left column
    assert sides.outputs.tolist() == [14]  # row 2 of the right column
    assert set(sides.free.tolist()) == set(range(25)) - {5, 15}


def test_graph_from_file(tmp_path):
    path = tmp_path / "ring.json"
    doc = {"n_nodes": 4, "edges": [[0, 1], [2, 1], [2, 3], [3, 0]], "inputs": [0],
           "outputs": [2], "weight_std": 0.5}  # fmt: skip
    path.write_text(json.dumps(doc))
    g = graph_from_spec(f"file:{path}", 1, 1)
    assert g.edges.tolist() == [[0, 1], [1, 2], [2, 3], [0, 3]]
    np.testing.assert_array_equal(g.weight_std, 0.5)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("lattice:5", "expected lattice:RxC"),
        ("lattice:5x5:skip=1", "skip"),
        ("lattice:5x5:io=middle", "io: expected one of"),
        ("lattice:5x5:holes", "unknown lattice option"),
        ("lattice:5x5:w0=x", "w0: expected a number"),
        ("lattice:5x5:w0=-1", "w0: expected a number in"),
        ("layered:3,4,1", "needs 2 inputs"),
        ("all:2", "cannot hold"),
        ("all:99999", "at most"),
        ("ring:5", "expected all:N"),
        ("stack:3x3", "expected stack:LxRxC"),
        ("stack:1x3x3", "expected >= 2 layers"),
        ("stack:2x1x1", "cannot hold"),
        ("stack:2x3x3:reach=9", "reach: at most"),
        ("stack:2x3x3:tri", "unknown stack option"),
        ("stack:1000x1000x1000", "at most 100000 nodes"),
        ("file:/nonexistent.json", "no such file"),
    ],
)
def test_bad_specs_name_the_field(spec, match):
    with pytest.raises(NetworkError, match=match):
        graph_from_spec(spec, 2, 1)


def test_bad_file_names_the_field(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"n_nodes": 3, "edges": [[0, 0]], "inputs": [0], "outputs": [2]}))
    with pytest.raises(NetworkError, match=r"g\.json: edges: expected pairs"):
        graph_from_spec(f"file:{path}", 1, 1)
    path.write_text(json.dumps({"n_nodes": 3, "edges": [[0, 1]], "inputs": [0]}))
    with pytest.raises(NetworkError, match="outputs: missing"):
        graph_from_spec(f"file:{path}", 1, 1)
