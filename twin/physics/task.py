"""Learning tasks: boundary conditions, example sets and the JSON task format.

A task fixes which nodes are grounded, which nodes or edges are driven (sources) and which are
read out (targets), and the example sets (inputs in volts at the sources, desired outputs in volts
at the targets). Edge values are voltage drops ``dV = V[u] - V[v]`` along the edge's orientation.
The generated tasks (regression, allostery, Iris) are in :mod:`twin.physics.task_generators`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np

from ..errors import NetworkError, TaskError
from .file_checks import check_document, read_json
from .network import Network
from .network_io import network_from_dict, network_from_spec, network_to_dict

__all__ = [
    "TASK_SCHEMA_ID",
    "Examples",
    "Task",
    "as_matrix",
    "load_task",
    "save_task",
    "task_from_dict",
    "task_to_dict",
]

TASK_SCHEMA_ID = "twin.task/1"

Kind = Literal["nodes", "edges"]


def as_matrix(value: Any, field: str) -> np.ndarray:
    """``value`` as a read-only 2-D float array [examples][values] (volts), or a TaskError
    naming ``field``."""
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise TaskError(f"{field}: expected a list of lists of numbers (volts)") from None
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 0)
    if arr.ndim != 2:
        raise TaskError(f"{field}: expected a 2-D list [examples][values], got {arr.ndim}-D")
    if not np.all(np.isfinite(arr)):
        raise TaskError(f"{field}: values must be finite numbers")
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class Examples:
    """Examples: ``inputs`` ``(m, n_sources)`` and ``outputs`` ``(m, n_targets)``, in volts."""

    inputs: np.ndarray
    outputs: np.ndarray
    labels: np.ndarray | None = None  # class labels for classification tasks

    @property
    def size(self) -> int:
        return int(self.inputs.shape[0])


def _index_array(value: Any, field: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise TaskError(f"{field}: expected a list of integer indices") from None
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class Task:
    """A learning task on a network.

    Parameters
    ----------
    kind
        ``regression``, ``allostery``, ``iris`` or ``custom``.
    network
        The resistor network.
    ground
        Grounded nodes (held at 0 V).
    source_kind, sources
        ``"nodes"`` (node voltages imposed) or ``"edges"`` (drops imposed), and their indices.
    target_kind, targets
        ``"nodes"`` or ``"edges"`` read out (and clamped in the clamped state).
    train, test
        Example sets; ``extra`` holds further named sets (e.g. ``out_of_range``).
    """

    kind: str
    network: Network
    ground: np.ndarray = attrs.field(converter=lambda v: _index_array(v, "ground"))
    source_kind: Kind
    sources: np.ndarray = attrs.field(converter=lambda v: _index_array(v, "sources"))
    target_kind: Kind
    targets: np.ndarray = attrs.field(converter=lambda v: _index_array(v, "targets"))
    train: Examples
    test: Examples | None = None
    extra: Mapping[str, Examples] = attrs.field(factory=dict)
    description: str = ""

    def __attrs_post_init__(self) -> None:
        _validate_task(self)

    @property
    def n_sources(self) -> int:
        return int(self.sources.size)

    @property
    def n_targets(self) -> int:
        return int(self.targets.size)

    def sets(self) -> dict[str, Examples]:
        """All example sets by name (``train``, ``test``, extras)."""
        out = {"train": self.train}
        if self.test is not None:
            out["test"] = self.test
        out.update(self.extra)
        return out

    def evolve(self, **changes: Any) -> Task:
        return attrs.evolve(self, **changes)


def _check_indices(idx: np.ndarray, kind: str, net: Network, field: str) -> None:
    bound = net.n_nodes if kind == "nodes" else net.n_edges
    if kind not in ("nodes", "edges"):
        raise TaskError(f"{field}: kind must be 'nodes' or 'edges', got {kind!r}")
    if idx.size and (idx.min() < 0 or idx.max() >= bound):
        raise TaskError(f"{field}: {kind} indices must be in [0, {bound - 1}]")
    if np.unique(idx).size != idx.size:
        raise TaskError(f"{field}: repeated index")


def _validate_task(t: Task) -> None:
    net = t.network
    if t.ground.size == 0:
        raise TaskError(
            "ground: at least one grounded node is required "
            "(a source node held at 0 V is a ground: list it under 'ground')"
        )
    _check_indices(t.ground, "nodes", net, "ground")
    _check_indices(t.sources, t.source_kind, net, "sources")
    _check_indices(t.targets, t.target_kind, net, "targets")
    if t.sources.size == 0:
        raise TaskError("sources: need at least one source")
    if t.targets.size == 0:
        raise TaskError("targets: need at least one target")
    if t.source_kind == t.target_kind:
        both = np.intersect1d(t.sources, t.targets)
        if both.size:
            raise TaskError(f"targets: {t.target_kind[:-1]} {int(both[0])} is also a source")
    grounded = set(t.ground.tolist())
    for field, kind, idx in (
        ("sources", t.source_kind, t.sources),
        ("targets", t.target_kind, t.targets),
    ):
        if kind == "nodes":
            bad = grounded.intersection(idx.tolist())
            if bad:
                raise TaskError(f"{field}: node {min(bad)} is grounded")
        else:
            ends = net.edges[idx]
            both_ground = np.all(np.isin(ends, list(grounded)), axis=1)
            if np.any(both_ground):
                raise TaskError(
                    f"{field}: edge {int(idx[both_ground][0])} joins two grounded nodes"
                )
    for name, ex in t.sets().items():
        if ex.inputs.shape[1:] != (t.n_sources,) or ex.inputs.shape[0] == 0:
            raise TaskError(
                f"{name}.inputs: expected shape (m >= 1, {t.n_sources}) for {t.n_sources} sources, "
                f"got {ex.inputs.shape}"
            )
        if ex.outputs.shape != (ex.inputs.shape[0], t.n_targets):
            raise TaskError(
                f"{name}.outputs: expected shape ({ex.inputs.shape[0]}, {t.n_targets}) "
                f"for {t.n_targets} targets, got {ex.outputs.shape}"
            )


# --------------------------------------------------------------------------- generators


def _examples_to_dict(ex: Examples) -> dict[str, Any]:
    doc: dict[str, Any] = {"inputs": ex.inputs.tolist(), "outputs": ex.outputs.tolist()}
    if ex.labels is not None:
        doc["labels"] = ex.labels.tolist()
    return doc


def _examples_from_dict(doc: Any, field: str) -> Examples:
    if not isinstance(doc, Mapping) or "inputs" not in doc or "outputs" not in doc:
        raise TaskError(f"{field}: expected an object with 'inputs' and 'outputs'")
    labels = doc.get("labels")
    lab = None
    if labels is not None:
        lab = _index_array(labels, f"{field}.labels")
    return Examples(
        inputs=as_matrix(doc["inputs"], f"{field}.inputs"),
        outputs=as_matrix(doc["outputs"], f"{field}.outputs"),
        labels=lab,
    )


def task_to_dict(task: Task, *, network: str | None = None) -> dict[str, Any]:
    """The task JSON document (``schemas/task.schema.json``).

    ``network`` replaces the inline network by a spec string or path when given.
    """
    net_doc: Any = network if network is not None else network_to_dict(task.network)
    doc: dict[str, Any] = {
        "schema": TASK_SCHEMA_ID,
        "kind": task.kind,
        "network": net_doc,
        "ground": task.ground.tolist(),
        "sources": {task.source_kind: task.sources.tolist()},
        "targets": {task.target_kind: task.targets.tolist()},
        "train": _examples_to_dict(task.train),
    }
    if task.description:
        doc["description"] = task.description
    if task.test is not None:
        doc["test"] = _examples_to_dict(task.test)
    if task.extra:
        doc["extra"] = {k: _examples_to_dict(v) for k, v in task.extra.items()}
    return doc


def _boundary(doc: Any, field: str) -> tuple[Kind, Any]:
    if not isinstance(doc, Mapping) or len(doc) != 1 or next(iter(doc)) not in ("nodes", "edges"):
        raise TaskError(f'{field}: expected {{"nodes": [...]}} or {{"edges": [...]}}')
    kind = next(iter(doc))
    return kind, doc[kind]


def task_from_dict(doc: Any, *, base_dir: Path | None = None, source: str = "") -> Task:
    """Build a :class:`Task` from its JSON document; errors name the offending field.

    The document is checked against ``schemas/task.schema.json`` (its inline network against
    ``schemas/network.schema.json``) before anything is built; ``source`` (the file) starts
    every message. A ``network`` path or ``file:PATH`` resolves relative to ``base_dir`` (the
    task file's folder).
    """
    check_document(doc, TASK_SCHEMA_ID, TaskError, source=source)
    try:
        return _task_from_valid_dict(doc, base_dir)
    except TaskError as exc:
        raise TaskError(f"{source}: {exc}" if source else str(exc)) from None


def _task_from_valid_dict(doc: Mapping[str, Any], base_dir: Path | None) -> Task:
    net_doc = doc["network"]
    try:
        if isinstance(net_doc, str):
            spec = net_doc if ":" in net_doc.split("/")[0] else f"file:{net_doc}"
            net = network_from_spec(spec, base_dir=base_dir)
        else:
            net = network_from_dict(net_doc)
    except NetworkError as exc:
        raise TaskError(f"network: {exc}") from None
    skind, sources = _boundary(doc["sources"], "sources")
    tkind, targets = _boundary(doc["targets"], "targets")
    extra = {k: _examples_from_dict(v, f"extra.{k}") for k, v in dict(doc.get("extra", {})).items()}
    return Task(
        kind=str(doc.get("kind", "custom")),
        network=net,
        ground=doc["ground"],
        source_kind=skind,
        sources=sources,
        target_kind=tkind,
        targets=targets,
        train=_examples_from_dict(doc["train"], "train"),
        test=_examples_from_dict(doc["test"], "test") if doc.get("test") is not None else None,
        extra=extra,
        description=str(doc.get("description", "")),
    )


def load_task(path: str | Path) -> Task:
    """Load a task JSON file (see ``schemas/task.schema.json``)."""
    path = Path(path)
    doc = read_json(path, TaskError, what="task")
    return task_from_dict(doc, base_dir=path.parent, source=str(path))


def save_task(task: Task, path: str | Path) -> None:
    """Save a task as JSON with its network inline."""
    Path(path).write_text(json.dumps(task_to_dict(task)) + "\n")
