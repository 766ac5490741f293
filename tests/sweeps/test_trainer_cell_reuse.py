"""A sweep worker builds each reference task and its factor layout once, for every cell: the
rows are those of cells computed each in a fresh state."""

from __future__ import annotations

from twin.learning import _compiled
from twin.sweeps import _trainer_cell
from twin.sweeps.cells import realization_seeds
from twin.sweeps.evaluate import evaluate_cell
from twin.sweeps.params import canonical_params

BASE = {"task": "regression", "network": "ref:64", "steps": 300, "n_records": 3}


def test_cells_reuse_tasks_and_layouts_without_changing_a_number() -> None:
    seeds = realization_seeds(0, 3)
    cells = [canonical_params("trainer", {**BASE, "lam": lam}, where="t") for lam in (0.0, 1e-6)]
    _trainer_cell._reference_task.cache_clear()
    _compiled._LAYOUTS.clear()
    fresh = []
    for params in cells:  # each cell from a clean state
        _trainer_cell._reference_task.cache_clear()
        _compiled._LAYOUTS.clear()
        fresh.append(evaluate_cell("trainer", params, seeds))
    reused = [evaluate_cell("trainer", params, seeds) for params in cells]
    assert _trainer_cell._reference_task.cache_info().hits >= 3
    again = _trainer_cell.tasks_for(cells[0], seeds)
    assert again[0] is _trainer_cell.tasks_for(cells[1], seeds)[0]
    assert all(t in _compiled._LAYOUTS for t in again)
    for a, b in zip(fresh, reused, strict=True):
        for ra, rb in zip(a, b, strict=True):
            assert ra.keys() == rb.keys()
            assert all(ra[k] == rb[k] or (ra[k] != ra[k] and rb[k] != rb[k]) for k in ra)


def test_spring_cells_reuse_their_packings() -> None:
    params = canonical_params("trainer", {"task": "allostery-strain", "alpha": 10.0,
                                          "steps": 50, "n_records": 2}, where="t")  # fmt: skip
    seeds = realization_seeds(0, 2)
    _trainer_cell._small_spring_task.cache_clear()
    first = evaluate_cell("trainer", params, seeds)
    second = evaluate_cell("trainer", {**params, "lam": 1e-6}, seeds)
    assert _trainer_cell._small_spring_task.cache_info().hits == 2
    _trainer_cell._small_spring_task.cache_clear()
    fresh = evaluate_cell("trainer", {**params, "lam": 1e-6}, seeds)
    assert first != second
    assert second == fresh
