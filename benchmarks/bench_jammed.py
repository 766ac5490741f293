"""Benchmark of the jammed-packing generator: generation time and statistics vs the reference.

Run by hand::

    .venv/bin/python benchmarks/bench_jammed.py [--seeds 10] [--sizes 64 128 256]

For each size it prints the wall time per network (mean / max) and, for ours and the authors'
reference networks (``twin/data/reference/jammed``, package data), the node count range, the edge
count mean / min / max, the mean coordination ``z = 2E/N`` and the minimum degree.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

from twin.physics.jammed import jammed_network
from twin.physics.network import Network
from twin.physics.network_io import read_authors_txt
from twin.physics.reference_networks import packaged_reference_dir

REFERENCE = packaged_reference_dir() / "jammed"


def _row(label: str, nets: Sequence[Network]) -> str:
    nodes = [net.n_nodes for net in nets]
    edges = np.array([net.n_edges for net in nets])
    z = np.mean([2.0 * net.n_edges / net.n_nodes for net in nets])
    min_deg = min(int(net.degree().min()) for net in nets)
    return (
        f"  {label:<10} n={len(nets):3d}  nodes {min(nodes)}-{max(nodes)}  "
        f"edges {edges.mean():7.2f} [{edges.min()}, {edges.max()}]  "
        f"z {z:.3f}  min degree {min_deg}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Time the generator for each size and compare its statistics with the reference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="networks per size (seeds 0..S-1)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    args = parser.parse_args(argv)
    for n in args.sizes:
        times, nets = [], []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            nets.append(jammed_network(n, rng=np.random.default_rng(seed)))
            times.append(time.perf_counter() - t0)
        print(f"N={n}: {np.mean(times):.2f} s mean, {np.max(times):.2f} s max per network")
        print(_row("ours", nets))
        files = sorted(REFERENCE.glob(f"data_N{n:05d}_*.txt"))
        if files:
            print(_row("reference", [read_authors_txt(f) for f in files]))
        else:
            print(f"  reference: none under {REFERENCE}")


if __name__ == "__main__":
    main()
