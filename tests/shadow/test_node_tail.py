"""The node check's level from a measured tail (twin/shadow/node_tail.py)."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import attrs
import numpy as np
import pytest

from benchmarks.fa_evidence import EVIDENCE_DIR
from benchmarks.node_tail_fit import BOARD_S, NODES, TESTS, WINDOW, fit_records
from twin.board.errors import BridgeConfigError
from twin.shadow.node_tail import default_node_tail, fit_node_tail
from twin.shadow.node_test import NodeTester
from twin.shadow.probe_stats import critical_z
from twin.shadow.state import TwinState

GAUSS = NormalDist()


def _gaussian_maxima(n_boards: int, per_board: int, rng: np.random.Generator) -> np.ndarray:
    """Largest of ``per_board`` independent |standard Gaussians|, ``n_boards`` times, drawn
    exactly by inverting its distribution ``(1 - 2 Q(z))^per_board``."""
    u = rng.random(n_boards)
    tail = -np.expm1(np.log(u) / per_board) / 2.0  # Q(z) of the largest
    return np.array([GAUSS.inv_cdf(1.0 - t) for t in tail])


def _exact_level(every_s: float, hours: float, m: int) -> float:
    """The ``z`` a check of ``m`` independent |Gaussians| passes with probability ``every_s /
    (3600 hours)``: the level a tail fitted to such boards must reproduce."""
    alpha = every_s / (3600.0 * hours)
    return GAUSS.inv_cdf(1.0 - -math.expm1(math.log1p(-alpha) / m) / 2.0)


@pytest.mark.parametrize(
    ("every_s", "hours", "m"),
    [(0.25, 60.0, 14), (0.25, 10.0, 14), (1.0, 60.0, 14), (0.25, 60.0, 28)],
)
def test_a_tail_fitted_to_gaussian_boards_gives_the_gaussian_level(every_s, hours, m) -> None:
    """Boards whose node statistics are Gaussian: the fitted tail's level is the exact one,
    at the fitted setting and carried over to another period and node count (the per-node-test
    scaling). A level computed per board instead of per check would be off by a whole unit."""
    rng = np.random.default_rng(20261208)
    z = _gaussian_maxima(20_000, TESTS * NODES, rng)
    tail = fit_node_tail(z, node_tests=TESTS * NODES, every_s=0.25, window_frames=WINDOW,
                         board_s=BOARD_S)  # fmt: skip
    assert tail.shape == pytest.approx(0.0, abs=0.1)  # Gaussian maxima: Gumbel's domain
    assert tail.level_z(every_s, hours, m) == pytest.approx(_exact_level(every_s, hours, m),
                                                            abs=0.08)  # fmt: skip
    # the Bonferroni level over two tests per node counts twice the tests this board makes
    assert critical_z(every_s, hours, 2 * m) > _exact_level(every_s, hours, m)


def test_the_level_grows_with_the_target_and_the_nodes_and_falls_back_below_the_tail() -> None:
    tail = default_node_tail()
    at = tail.level_z
    assert at(0.25, 10.0, 14) < at(0.25, 60.0, 14) < at(0.25, 600.0, 14)
    assert at(0.25, 60.0, 7) < at(0.25, 60.0, 14) < at(0.25, 60.0, 28)
    assert tail.level_z(1.0, 60.0, 14) < tail.level_z(0.25, 60.0, 14)  # fewer checks per hour
    # a target of seconds lies below the fitted threshold: the Gaussian level is used
    assert tail.level_z(0.25, 1e-3, 14) == critical_z(0.25, 1e-3, 28)
    with pytest.raises(BridgeConfigError, match="false_alarm_hours"):
        tail.level_z(0.25, 0.0, 14)
    with pytest.raises(BridgeConfigError, match="exceed_fraction"):
        attrs.evolve(tail, exceed_fraction=0.0)
    with pytest.raises(BridgeConfigError, match="scale_z"):
        attrs.evolve(tail, scale_z=-1.0)


def test_the_stored_tail_is_the_fit_of_the_evidence_it_names() -> None:
    """``node_tail.json`` is what ``benchmarks/node_tail_fit.py --write`` fits to the evidence
    files it lists (all kept in the repository), so it can be checked and refitted."""
    tail = default_node_tail()
    files = [EVIDENCE_DIR / name for name in tail.sources]
    assert files
    assert all(f.is_file() for f in files)
    z, seeds, used = fit_records(files)
    assert used == list(tail.sources)
    assert z.size == tail.boards == len(set(seeds))
    assert max(seeds) < 6000  # the held-out check runs from seed 6000
    refit = fit_node_tail(z, node_tests=tail.node_tests, every_s=tail.every_s,
                          window_frames=tail.window_frames, board_s=BOARD_S)  # fmt: skip
    for name in ("threshold_z", "exceed_fraction", "shape", "scale_z"):
        assert getattr(refit, name) == pytest.approx(getattr(tail, name), rel=1e-6), name


def test_the_node_check_takes_its_level_from_the_tail_and_the_probe_from_bonferroni() -> None:
    tail = default_node_tail()
    state = TwinState()
    watched = NodeTester(every_s=0.25, false_alarm_hours=60.0, state=state, source="nodes",
                         tail=tail)  # fmt: skip
    probe = NodeTester(every_s=0.25, false_alarm_hours=60.0, state=state, source="probe")
    assert watched.level(14) == tail.level_z(0.25, 60.0, 14)
    assert probe.level(14) == critical_z(0.25, 60.0, 28)


def test_a_short_sample_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BridgeConfigError, match="z_max"):
        fit_node_tail(np.ones(5), node_tests=10, every_s=0.25, window_frames=10, board_s=1.0)
