"""Network spec strings and file formats: ``lattice:4x4``, ``jammed:64:seed=3``, ``file:PATH``.

Spec strings name a generated network (:func:`twin.physics.network.lattice`, the jammed-packing
generator :mod:`twin.physics.jammed`) or a file. Files are the project's JSON network document
(``schemas/network.schema.json``), a task file's network, or the paper authors' text format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NetworkError
from .network import DEFAULT_K_MAX, DEFAULT_K_MIN, Network, lattice

__all__ = [
    "NETWORK_SCHEMA_ID",
    "load_network",
    "network_from_dict",
    "network_from_spec",
    "network_to_dict",
    "read_authors_txt",
    "save_network",
    "write_authors_txt",
]

NETWORK_SCHEMA_ID = "twin.network/1"

_LATTICE_RE = re.compile(r"^lattice:(\d+)x(\d+)(:periodic)?$")
_JAMMED_RE = re.compile(r"^jammed:(\d+)(?::seed=(\d+))?$")


def network_from_spec(spec: str, *, base_dir: Path | None = None) -> Network:
    """Build a network from a spec string.

    Accepted forms: ``lattice:WxH``, ``lattice:WxH:periodic``, ``jammed:N`` or
    ``jammed:N:seed=S`` (our jammed-packing generator), ``file:PATH`` (JSON network, a task file's
    network, or the authors' text format).
    """
    spec = spec.strip()
    if m := _LATTICE_RE.match(spec):
        return lattice(int(m.group(1)), int(m.group(2)), periodic=bool(m.group(3)))
    if m := _JAMMED_RE.match(spec):
        from .jammed import jammed_network  # local: scipy.spatial is slow to import

        seed = int(m.group(2)) if m.group(2) is not None else 0
        net = jammed_network(int(m.group(1)), rng=np.random.default_rng(seed))
        return net.evolve(name=spec)
    if spec.startswith("file:"):
        path = Path(spec[5:])
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return load_network(path)
    raise NetworkError(
        f"network: unknown spec {spec!r}; expected lattice:WxH[:periodic], "
        "jammed:N[:seed=S] or file:PATH"
    )


# --------------------------------------------------------------------------- file formats


def network_to_dict(net: Network) -> dict[str, Any]:
    """The project's JSON network document (``schemas/network.schema.json``)."""
    doc: dict[str, Any] = {
        "schema": NETWORK_SCHEMA_ID,
        "nodes": net.n_nodes,
        "edges": net.edges.tolist(),
        "k_min": net.k_min,
        "k_max": net.k_max,
    }
    if net.name:
        doc["name"] = net.name
    if net.positions is not None:
        doc["positions"] = net.positions.tolist()
    if net.box is not None:
        doc["box"] = net.box
    if net.conductance is not None:
        doc["conductance"] = net.conductance.tolist()
    return doc


def network_from_dict(doc: Mapping[str, Any]) -> Network:
    """Inverse of :func:`network_to_dict`; also accepts a task file's inline ``network``."""
    if not isinstance(doc, Mapping):
        raise NetworkError("network: expected a JSON object with 'nodes' and 'edges'")
    schema = doc.get("schema", NETWORK_SCHEMA_ID)
    if schema != NETWORK_SCHEMA_ID:
        raise NetworkError(f"schema: expected {NETWORK_SCHEMA_ID!r}, got {schema!r}")
    for key in ("nodes", "edges"):
        if key not in doc:
            raise NetworkError(f"network: missing field {key!r}")
    if not isinstance(doc["nodes"], int) or isinstance(doc["nodes"], bool):
        raise NetworkError(f"nodes: expected an integer node count, got {doc['nodes']!r}")
    return Network(
        n_nodes=doc["nodes"],
        edges=doc["edges"],
        positions=doc.get("positions"),
        box=doc.get("box"),
        k_min=doc.get("k_min", DEFAULT_K_MIN),
        k_max=doc.get("k_max", DEFAULT_K_MAX),
        conductance=doc.get("conductance"),
        name=str(doc.get("name", "")),
    )


def read_authors_txt(path: str | Path) -> Network:
    """Read the paper authors' text format (PHYSICS.md section 7).

    Line 1 ``NN NE L``; then ``NN`` lines ``x y``; then ``NE`` lines ``i j`` (0-based).
    """
    path = Path(path)
    try:
        lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
        nn, ne = int(lines[0][0]), int(lines[0][1])
        box = float(lines[0][2])
        pos = np.array([[float(v) for v in ln[:2]] for ln in lines[1 : 1 + nn]])
        edges = np.array([[int(v) for v in ln[:2]] for ln in lines[1 + nn : 1 + nn + ne]])
    except (IndexError, ValueError) as exc:
        raise NetworkError(
            f"{path}: not in the authors' 'NN NE L / x y / i j' format ({exc})"
        ) from None
    if pos.shape != (nn, 2) or edges.shape != (ne, 2):
        raise NetworkError(f"{path}: header says {nn} nodes, {ne} edges; file has fewer lines")
    return Network(n_nodes=nn, edges=edges, positions=pos, box=box, name=path.stem)


def write_authors_txt(net: Network, path: str | Path) -> None:
    """Write the authors' text format (positions default to zeros when absent)."""
    pos = net.positions if net.positions is not None else np.zeros((net.n_nodes, 2))
    box = net.box if net.box is not None else 0.0
    out = [f"{net.n_nodes} {net.n_edges} {box:g}"]
    out += [f"{x:.10g} {y:.10g}" for x, y in pos]
    out += [f"{u} {v}" for u, v in net.edges]
    Path(path).write_text("\n".join(out) + "\n")


def load_network(path: str | Path) -> Network:
    """Load a network from a JSON file (network or task document) or an authors' text file."""
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"network: no such file {str(path)!r}")
    text = path.read_text()
    if not text.lstrip().startswith("{"):
        return read_authors_txt(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NetworkError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(doc, dict) and str(doc.get("schema", "")).startswith("twin.task/"):
        doc = doc.get("network")
        if isinstance(doc, str):
            return network_from_spec(doc, base_dir=path.parent)
    net = network_from_dict(doc)
    return net if net.name else net.evolve(name=path.stem)


def save_network(net: Network, path: str | Path) -> None:
    """Save as the project's JSON network document."""
    Path(path).write_text(json.dumps(network_to_dict(net)) + "\n")
