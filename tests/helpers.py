"""Small builders used by several test modules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twin.physics.network import Network
from twin.physics.springs.network import SpringNetwork
from twin.physics.task import Examples, Task


def examples(inputs: Sequence[Sequence[float]], outputs: Sequence[Sequence[float]]) -> Examples:
    return Examples(inputs=np.array(inputs, dtype=float), outputs=np.array(outputs, dtype=float))


def node_task(
    n_nodes: int,
    edges: Sequence[tuple[int, int]],
    *,
    ground: Sequence[int],
    sources: Sequence[int],
    targets: Sequence[int],
    inputs: Sequence[Sequence[float]],
    outputs: Sequence[Sequence[float]] | None = None,
) -> Task:
    """A node-source/node-target task on a small explicit network."""
    net = Network(n_nodes=n_nodes, edges=list(edges))
    outs = outputs if outputs is not None else [[0.0] * len(targets) for _ in inputs]
    return Task(
        kind="custom",
        network=net,
        ground=list(ground),
        source_kind="nodes",
        sources=list(sources),
        target_kind="nodes",
        targets=list(targets),
        train=examples(inputs, outs),
    )


def run_cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """Run ``twin ARGS`` in process: exit code, stdout, stderr."""
    from twin.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def undocumented_keys(keys: Iterable[str]) -> list[str]:
    """The keys of a ``--json`` object that README.md does not name (as ```key```)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return [key for key in keys if f"`{key}`" not in readme]


def one_line_error(code: int, err: str, *needles: str) -> None:
    """Bad input: exit code 2, one line on stderr holding every needle, no traceback."""
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def triangular_springs(rows: int, cols: int) -> SpringNetwork:
    """A rigid triangular spring lattice in the open plane (unit bonds, rest lengths equal)."""
    x = np.array(
        [[c + 0.5 * (r % 2), r * np.sqrt(3) / 2] for r in range(rows) for c in range(cols)]
    )
    edges = []
    for r in range(rows):
        for c in range(cols):
            a = r * cols + c
            if c + 1 < cols:
                edges.append((a, a + 1))
            if r + 1 < rows:
                edges.append((a, a + cols))
                c2 = c + 1 if r % 2 else c - 1
                if 0 <= c2 < cols:
                    edges.append((a, (r + 1) * cols + c2))
    e = np.array(edges)
    rest = np.linalg.norm(x[e[:, 1]] - x[e[:, 0]], axis=1)
    return SpringNetwork(positions=x, edges=e, rest_lengths=rest)
