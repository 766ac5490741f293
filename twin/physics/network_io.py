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
from .file_checks import (
    MAX_EDGES,
    MAX_NODES,
    check_document,
    parse_count,
    parse_json,
    read_text,
)
from .network import DEFAULT_K_MAX, DEFAULT_K_MIN, Network, lattice

__all__ = [
    "NETWORK_SCHEMA_ID",
    "SPEC_FORMS",
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
_REF_RE = re.compile(r"^ref:(\d+)(?::i=(\d+))?$")
#: Every accepted form, for error messages.
SPEC_FORMS = "lattice:WxH[:periodic], jammed:N[:seed=S], ref:N[:i=K] or file:PATH"
#: Largest jammed packing generated from a spec, particles (the generator is O(N^1.5) in time).
MAX_JAMMED_NODES = 100_000
#: Largest seed in a spec string (numpy takes any non-negative integer; this keeps it int64).
MAX_SEED = 2**63 - 1


def _lattice_from_spec(width_text: str, height_text: str, periodic: bool) -> Network:
    """A lattice whose node and edge counts are checked before any node is made."""
    width = parse_count(width_text, "network: lattice width", MAX_NODES, NetworkError)
    height = parse_count(height_text, "network: lattice height", MAX_NODES, NetworkError)
    if width * height > MAX_NODES or 2 * width * height > MAX_EDGES:
        raise NetworkError(
            f"network: lattice:{width}x{height} has {width * height:,} nodes; "
            f"at most {MAX_NODES:,} (schemas/network.schema.json)"
        )
    return lattice(width, height, periodic=periodic)


def network_from_spec(spec: str, *, base_dir: Path | None = None) -> Network:
    """Build a network from a spec string.

    Accepted forms: ``lattice:WxH``, ``lattice:WxH:periodic``, ``jammed:N`` or
    ``jammed:N:seed=S`` (our jammed-packing generator), ``ref:N`` or ``ref:N:i=K`` (the paper
    authors' N-disk network number K, 0-based, default 0: :mod:`.reference_networks`),
    ``file:PATH`` (JSON network, a task file's network, or the authors' text format).
    """
    spec = spec.strip()
    if not spec:
        raise NetworkError(f"network: empty spec; expected {SPEC_FORMS}")
    if m := _LATTICE_RE.match(spec):
        return _lattice_from_spec(m.group(1), m.group(2), bool(m.group(3)))
    if m := _JAMMED_RE.match(spec):
        from .jammed import jammed_network  # local: scipy.spatial is slow to import

        n = parse_count(m.group(1), "network: jammed N", MAX_JAMMED_NODES, NetworkError)
        seed = 0
        if m.group(2) is not None:
            seed = parse_count(m.group(2), "network: jammed seed", MAX_SEED, NetworkError)
        net = jammed_network(n, rng=np.random.default_rng(seed))
        return net.evolve(name=spec)
    if m := _REF_RE.match(spec):
        from .reference_networks import reference_files

        files = reference_files(parse_count(m.group(1), "network: ref N", MAX_NODES, NetworkError))
        index = 0
        if m.group(2) is not None:
            index = parse_count(m.group(2), "network: ref index i", MAX_SEED, NetworkError)
        if index >= len(files):
            raise NetworkError(
                f"network: {spec}: index {index} out of range; there are {len(files)} files "
                f"(i=0..{len(files) - 1})"
            )
        return load_network(files[index]).evolve(name=spec)
    if spec.startswith("file:"):
        if not spec[5:].strip():
            raise NetworkError("network: file: needs a PATH (file:PATH)")
        path = Path(spec[5:])
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return load_network(path)
    raise NetworkError(f"network: unknown spec {spec!r}; expected {SPEC_FORMS}")


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


def network_from_dict(doc: Mapping[str, Any], *, source: str = "") -> Network:
    """Inverse of :func:`network_to_dict`; also accepts a task file's inline ``network``.

    The document is checked against ``schemas/network.schema.json`` first (``source`` names it
    in the message), so nothing is allocated for a malformed or oversized one.
    """
    check_document(doc, NETWORK_SCHEMA_ID, NetworkError, source=source)
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


def _authors_numbers(
    path: Path, line_no: int, tokens: list[str], kind: type, expected: str
) -> list[Any]:
    """The first two numbers of a line; a one-line error with the line number otherwise."""
    try:
        if len(tokens) < 2 or any(len(t) > 32 for t in tokens[:2]):
            raise ValueError
        values = [kind(t) for t in tokens[:2]]
    except ValueError:
        raise NetworkError(f"{path} line {line_no}: expected {expected}") from None
    if kind is float and not all(np.isfinite(values)):
        raise NetworkError(f"{path} line {line_no}: expected {expected} (finite)")
    return values


def _authors_header(path: Path, line_no: int, tokens: list[str]) -> tuple[int, int, float]:
    expected = (
        f"the header 'NN NE L' (node count 2..{MAX_NODES:,}, edge count 1..{MAX_EDGES:,}, "
        "box side >= 0)"
    )
    try:
        if len(tokens) != 3:
            raise ValueError
        nn = parse_count(tokens[0], "nodes", MAX_NODES, ValueError)
        ne = parse_count(tokens[1], "edges", MAX_EDGES, ValueError)
        box = float(tokens[2]) if len(tokens[2]) <= 32 else float("nan")
    except ValueError:
        raise NetworkError(f"{path} line {line_no}: expected {expected}") from None
    if nn < 2 or ne < 1 or not (np.isfinite(box) and box >= 0):
        raise NetworkError(f"{path} line {line_no}: expected {expected}")
    return nn, ne, box


def read_authors_txt(path: str | Path) -> Network:
    """Read the paper authors' text format (PHYSICS.md section 7).

    Line 1 ``NN NE L``; then ``NN`` lines ``x y``; then ``NE`` lines ``i j`` (0-based). Each line
    is checked as it is read (counts against the schema's limits before any array is made); an
    error names the file and the line number, never the line's text.
    """
    path = Path(path)
    text = read_text(path, NetworkError, what="network")
    lines = [(n, ln.split()) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not lines:
        raise NetworkError(f"{path}: empty; expected the authors' 'NN NE L / x y / i j' format")
    nn, ne, box = _authors_header(path, *lines[0])
    if len(lines) < 1 + nn + ne:
        raise NetworkError(
            f"{path}: header (line {lines[0][0]}) says {nn} nodes and {ne} edges; "
            f"the file has only {len(lines) - 1} more lines"
        )
    pos = [_authors_numbers(path, n, t, float, "'x y' (a node position)")
           for n, t in lines[1 : 1 + nn]]  # fmt: skip
    edge_form = f"'i j' (an edge between node indices 0..{nn - 1})"
    edges = [_authors_numbers(path, n, t, int, edge_form) for n, t in lines[1 + nn : 1 + nn + ne]]
    for (n, _), (u, v) in zip(lines[1 + nn :], edges, strict=False):
        if not (0 <= u < nn and 0 <= v < nn):
            raise NetworkError(f"{path} line {n}: expected {edge_form}")
    try:
        return Network(n_nodes=nn, edges=edges, positions=pos, box=box, name=path.stem)
    except NetworkError as exc:
        raise NetworkError(f"{path}: {exc}") from None


def write_authors_txt(net: Network, path: str | Path) -> None:
    """Write the authors' text format (positions default to zeros when absent)."""
    pos = net.positions if net.positions is not None else np.zeros((net.n_nodes, 2))
    box = net.box if net.box is not None else 0.0
    out = [f"{net.n_nodes} {net.n_edges} {box:g}"]
    out += [f"{x:.10g} {y:.10g}" for x, y in pos]
    out += [f"{u} {v}" for u, v in net.edges]
    Path(path).write_text("\n".join(out) + "\n")


def _is_generated_spec(spec: str) -> bool:
    return bool(_LATTICE_RE.match(spec.strip()) or _JAMMED_RE.match(spec.strip()))


def load_network(path: str | Path) -> Network:
    """Load a network from a JSON file (network or task document) or an authors' text file.

    A task file's network is taken inline or from a generated spec (``lattice:``/``jammed:``);
    a task file pointing at yet another file is refused (no chains, no cycles).
    """
    path = Path(path)
    text = read_text(path, NetworkError, what="network")
    if not text.lstrip().startswith(("{", "[")):
        return read_authors_txt(path)
    doc = parse_json(text, str(path), NetworkError)
    source = str(path)
    if isinstance(doc, dict) and str(doc.get("schema", "")).startswith("twin.task/"):
        doc, source = doc.get("network"), f"{path}: network"
        if isinstance(doc, str):
            if not _is_generated_spec(doc):
                raise NetworkError(
                    f"{source}: a task file used as a network must hold it inline or as a "
                    "lattice:/jammed: spec, not name another file"
                )
            return network_from_spec(doc)
    try:
        net = network_from_dict(doc, source=source)
    except NetworkError as exc:
        msg = str(exc)
        raise NetworkError(msg if msg.startswith(source) else f"{source}: {msg}") from None
    return net if net.name else net.evolve(name=path.stem)


def save_network(net: Network, path: str | Path) -> None:
    """Save as the project's JSON network document."""
    Path(path).write_text(json.dumps(network_to_dict(net)) + "\n")
