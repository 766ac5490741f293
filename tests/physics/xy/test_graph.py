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
