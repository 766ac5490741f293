"""Batches of trainer cells (twin.sweeps.batches): every cell's rows are its rows alone, bit for
bit, while the batch's realizations on one network share a lane group; the runner records each
cell of a batch under its own id."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from twin.learning._compiled import realizations
from twin.sweeps import SerialExecutor, results_frame, run_sweep, spec_from_dict
from twin.sweeps._trainer_cell import tasks_for
from twin.sweeps.batches import (
    BATCH_CELLS,
    batch_key,
    batches,
    split_evenly,
    split_outcome,
    unit_params,
)
from twin.sweeps.cells import expand, realization_seeds
from twin.sweeps.estimate import longest_first
from twin.sweeps.evaluate import evaluate_batch, evaluate_cell, run_cell
from twin.sweeps.params import canonical_params

BASE = {"task": "regression", "network": "ref:64", "eta": 1e-3, "kmin": 1e-3, "kmax": 10.0,
        "steps": 400, "n_records": 4}  # fmt: skip
SEEDS = realization_seeds(0, 3)


def _cell(**values: Any) -> dict[str, Any]:
    return canonical_params("trainer", {**BASE, **values}, where="test")


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal rows, NaN equal to NaN (every metric, to the last bit)."""
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a
    )


# the cells of Fig. 2 (lambda), of Fig. 1 (kappa with alpha = 0.1 kappa, marking a tolerance),
# of its fixed-alpha sweep (stopping at it) and of Fig. 4's early stopping (stopping at different
# tolerances: in 400 steps the errors fall from ~0.2 to 0.013-0.056 V^2, so each network's lanes
# stop at different steps, one never, and the last one running goes on alone)
GROUPS = {
    "stop-tol": [_cell(kappa=1e-3, alpha=0.03, lam=0.0, stop_tol=tol)
                 for tol in (None, 0.1, 0.03, 0.015)],
    # Fig. 4's control cells: lambda from 1e-8 (lam0, as alone), each cell to its own tolerance
    "control-tol": [_cell(kappa=1e-3, alpha=0.03, lam=0.0, control_tol=tol, rho=1.0, p=0.02)
                    for tol in (0.1, 0.03, 0.015)],
    "lambda": [_cell(kappa=1.0, alpha=0.5, lam=lam) for lam in (0.0, 1e-8, 1e-6)],
    "kappa-alpha": [_cell(kappa=k, alpha=0.1 * k, lam=0.0, mark_tol=1e-2)
                    for k in (1e-2, 0.1, 1.0, 3.0)],
    "fixed-alpha": [_cell(kappa=k, alpha=0.1, lam=0.0, stop_tol=1e-2) for k in (0.1, 1.0)],
}  # fmt: skip


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_each_cell_of_a_batch_is_the_cell_alone(group: str) -> None:
    cells = GROUPS[group]
    together = evaluate_batch("trainer", cells, SEEDS)
    for params, rows in zip(cells, together, strict=True):
        alone = evaluate_cell("trainer", params, SEEDS)
        assert all(_same(a, b) for a, b in zip(rows, alone, strict=True)), params
    # the rows differ between cells (a batch that repeated one cell would pass the above)
    assert together[0][0]["error_final"] != together[1][0]["error_final"]


def test_a_batch_puts_each_network_in_one_lane_group() -> None:
    tasks = tasks_for(GROUPS["lambda"][0], SEEDS)
    structure = realizations(tasks * 3, runs_of=3)  # each with the layout it has alone
    groups = structure.layout_groups(BATCH_CELLS)
    assert sorted(g.tolist() for g in groups) == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    alone = realizations(tasks)
    assert np.array_equal(structure.sizes[:3], alone.sizes)  # not the lane layout: same split
    assert not np.array_equal(realizations(tasks * 3).sizes[:3], alone.sizes)


def _spec(name: str, **over: Any) -> Any:
    doc = {
        "name": name,
        "kind": "trainer",
        "realizations": 2,
        "seed": 0,
        "base": {**BASE, "kappa": 1.0, "alpha": 0.5},
        "axes": {"lam": [0.0, 1e-8, 1e-6]},
    }
    return spec_from_dict({**doc, **over})  # fmt: skip


def test_batches_group_only_cells_that_differ_in_lambda_kappa_or_alpha() -> None:
    cells = expand(_spec("a", axes={"lam": [float(i) * 1e-9 for i in range(11)]}))
    units = batches(cells)
    assert [len(u) for u in units] == [6, 5]  # 11 cells: two batches, evenly
    assert [c.cell_id for u in units for c in u] == [c.cell_id for c in cells]
    base = {k: v for k, v in BASE.items() if k != "steps"}
    steps = expand(_spec("b", base={**base, "kappa": 1.0, "alpha": 0.5},
                         axes={"steps": [100, 200]}))  # fmt: skip
    assert [len(u) for u in batches(steps)] == [1, 1]  # steps differ: alone
    control = expand(_spec("c", base={**BASE, "kappa": 1.0, "alpha": 0.5, "control_tol": 1e-3}))
    fixed = expand(_spec("c2", base={**BASE, "kappa": 1.0, "alpha": 0.5}))
    faster = expand(_spec("c3", base={**BASE, "kappa": 1.0, "alpha": 0.6, "control_tol": 1e-3}))
    assert batch_key(control[0]) == batch_key(control[1])  # lambda control: with each other,
    assert batch_key(control[0]) != batch_key(fixed[0])  # not with fixed lambda,
    assert batch_key(control[0]) != batch_key(faster[0])  # and at one alpha
    iris = expand(_spec("d", base={**BASE, "task": "iris", "kappa": 1.0, "alpha": 0.5}))
    assert batch_key(iris[0]) is None  # 7 constraint rows: no lanes, so no batch
    assert [len(u) for u in batches(cells, most=1)] == [1] * 11
    assert [len(u) for u in batches(cells[:2])] == [1, 1]  # two cells: cheaper alone
    stops = expand(_spec("g", axes={"stop_tol": [1e-4, 1e-3, 1e-2]}))
    assert [len(u) for u in batches(stops)] == [3]  # stopping tolerances: one batch


def test_a_batch_stops_each_realization_at_its_own_tolerance() -> None:
    cells = GROUPS["stop-tol"]
    rows = evaluate_batch("trainer", cells, SEEDS)
    steps = [[r["steps_done"] for r in cell] for cell in rows]
    assert steps[0] == [400.0] * 3  # no tolerance: to the end
    assert all(s < 400 for s in steps[1])  # 0.1: all reached it early
    assert len({s for cell in steps for s in cell}) > 6  # stops at many different steps
    for params, cell in zip(cells[1:], rows[1:], strict=True):
        for r in cell:  # stopped where the error first was <= its own cell's tolerance
            assert r["error_final"] <= params["stop_tol"] or r["steps_done"] == 400


def test_split_evenly_and_split_outcome() -> None:
    assert split_evenly(list(range(9)), 8) == [[0, 1, 2, 3, 4], [5, 6, 7, 8]]
    assert split_evenly([], 8) == []
    unit = tuple(expand(_spec("e")))
    parts = split_outcome(unit, {"rows": [[{"x": 1.0}]] * 3, "cpu_s": 3.0, "elapsed_s": 6.0})
    assert [p["cpu_s"] for p in parts] == [1.0] * 3
    assert [p["elapsed_s"] for p in parts] == [2.0] * 3


def test_run_cell_runs_a_batch() -> None:
    unit = tuple(expand(_spec("f")))
    kind, params = unit_params(unit)
    out = run_cell(kind, params, list(unit[0].seeds))
    assert kind == "batch"
    assert len(out["rows"]) == 3
    assert np.isfinite(out["cpu_s"])


class _Recording(SerialExecutor):
    """Serial cells that note each submission's kind; ``fail_batches``: a batch raises."""

    def __init__(self, fail_batches: bool = False) -> None:
        self.kinds: list[str] = []
        self.params: list[dict[str, Any]] = []
        self.fail_batches = fail_batches

    def submit(self, kind: str, params: dict[str, Any], seeds: list[int], key: str) -> Any:
        self.kinds.append(kind)
        self.params.append(params)
        if kind == "batch" and self.fail_batches:
            return super().submit("no-such-kind", params, seeds, key)
        return super().submit(kind, params, seeds, key)


def test_the_runner_records_each_cell_of_a_batch_as_computed_alone(db: str) -> None:
    spec = _spec("g")
    executor = _Recording()
    outcome = run_sweep(spec, db_url=db, executor=executor)
    assert executor.kinds == ["batch"]
    assert (outcome.computed, outcome.failed) == (3, 0)
    frame = results_frame(spec, db_url=db)
    for cell in expand(spec):
        alone = evaluate_cell("trainer", cell.params, cell.seeds)
        got = frame[frame["cell_id"] == cell.cell_id].sort_values("realization")
        for r, row in enumerate(alone):
            for name, value in row.items():
                stored = got[name].iloc[r]
                assert (math.isnan(value) and math.isnan(stored)) or stored == value, name


def test_a_failing_batch_is_run_again_cell_by_cell(db: str) -> None:
    executor = _Recording(fail_batches=True)
    outcome = run_sweep(_spec("h"), db_url=db, executor=executor)
    assert executor.kinds == ["batch", "trainer", "trainer", "trainer"]
    assert (outcome.computed, outcome.failed) == (3, 0)


def test_the_runner_submits_the_longest_units_first(db: str) -> None:
    base = {k: v for k, v in BASE.items() if k != "steps"}
    spec = _spec("i", base={**base, "kappa": 1.0, "alpha": 0.5, "lam": 0.0},
                 axes={"steps": [20, 400, 100]})  # fmt: skip
    cells = expand(spec)
    order = longest_first([(c,) for c in cells])
    assert [cells[i].params["steps"] for i in order] == [400, 100, 20]
    unknown = expand(_spec("j", base={**BASE, "network": "file:/no/such/net.txt", "kappa": 1.0,
                                      "alpha": 0.5}))[0]  # fmt: skip
    assert longest_first([(cells[0],), (unknown,)]) == [1, 0]  # unknown: possibly the longest
    executor = _Recording()
    run_sweep(spec, db_url=db, executor=executor)
    assert [p["steps"] for p in executor.params] == [400, 100, 20]


def test_a_batch_controls_each_realization_to_its_own_tolerance() -> None:
    cells = GROUPS["control-tol"]
    rows = evaluate_batch("trainer", cells, SEEDS)
    lam = [[r["lam_final"] for r in cell] for cell in rows]
    assert len({x for cell in lam for x in cell}) == 9  # every lambda its own
    for r in range(len(SEEDS)):  # a looser tolerance lets lambda grow more (from 1e-8)
        assert lam[0][r] > lam[1][r] > lam[2][r]
