"""Network spec strings and file formats (JSON document, the authors' text format)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twin.errors import NetworkError
from twin.physics.network import lattice
from twin.physics.network_io import (
    load_network,
    network_from_dict,
    network_from_spec,
    network_to_dict,
    read_authors_txt,
    save_network,
    write_authors_txt,
)


@pytest.mark.parametrize("spec", ["lattice:4x", "grid:4x4", "jammed:x", "lattice:2x2:periodic"])
def test_bad_specs(spec: str) -> None:
    with pytest.raises(NetworkError):
        network_from_spec(spec)


def test_json_round_trip_keeps_everything(tmp_path) -> None:
    net = lattice(4, 4, periodic=True).with_conductance(np.linspace(0.1, 3.2, 32))
    path = tmp_path / "net.json"
    save_network(net, path)
    back = load_network(path)
    np.testing.assert_array_equal(back.edges, net.edges)
    np.testing.assert_array_equal(back.conductance, net.conductance)
    np.testing.assert_array_equal(back.positions, net.positions)
    assert back.n_nodes == 16
    assert network_to_dict(network_from_dict(json.loads(path.read_text()))) == json.loads(
        path.read_text()
    )


def test_authors_format_round_trip(tmp_path) -> None:
    net = lattice(5, 5, periodic=True)
    path = tmp_path / "net.txt"
    write_authors_txt(net, path)
    back = read_authors_txt(path)
    np.testing.assert_array_equal(back.edges, net.edges)
    np.testing.assert_allclose(back.positions, net.positions)


def test_reads_reference_networks(reference_dir) -> None:
    net = load_network(reference_dir / "jammed" / "data_N00064_Lp0.0100_r1.txt")
    assert net.n_nodes == 64
    assert 136 <= net.n_edges <= 146
    assert net.degree().min() >= 3


def test_load_network_errors_name_the_file(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(NetworkError, match="invalid JSON"):
        load_network(bad)
    with pytest.raises(NetworkError, match="no such file"):
        load_network(tmp_path / "missing.json")
    with pytest.raises(NetworkError, match="'nodes'"):
        network_from_dict({"edges": [[0, 1]]})
