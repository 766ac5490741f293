"""Schedules in twin sweep cells; cell ids of sweeps without one are those they had before."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from twin.board.emulator_config import default_board_task
from twin.physics.task import task_to_dict
from twin.sweeps import KINDS, expand, load_spec, spec_from_dict
from twin.sweeps.cells import cell_id
from twin.sweeps.params import omitted_at_default
from twin.sweeps.twin_cells import METRICS, TwinCellError, check_params

ROOT = Path(__file__).resolve().parents[2]

#: Kind, cell count and sha256 of the cell ids of every example sweep, computed on c60177d (before
#: the schedule parameter existed): adding a parameter must not silently orphan finished cells.
#: Those marked log_grid changed on purpose in 4a54126: their logspace axes were rounded to 12
#: significant digits, because the last bit of numpy's powers depended on the CPU (so did the
#: ids); xy-architectures.toml came with the xy kind.
PINNED = {
    "clocks_twin.toml": ("twin", 3, "24eb8aeb50cffc52"),
    "fig1-kappa-full.toml": ("trainer", 9, "db3a81ab1309fc8a"),  # log_grid
    "fig1-kappa-tol-fixed-alpha-full.toml": ("trainer", 9, "58fe486e2311a544"),  # log_grid
    "fig1-kappa-tol-full.toml": ("trainer", 9, "a1646ba412ed9b38"),  # log_grid
    "fig2-lambda-full.toml": ("trainer", 18, "9200997ff9c425d9"),  # log_grid
    "fig3-trainer.toml": ("trainer", 7, "bf8a9720ac0fef14"),
    "fig3-twin-board.toml": ("twin", 7, "0cad5118f339bb88"),
    "fig3-twin-linear.toml": ("twin", 7, "de3f14756b7f74cf"),
    "fig4-control-full.toml": ("trainer", 5, "e9c5b8d95c058e26"),
    "fig4-es-full.toml": ("trainer", 5, "c014f993c4c727e5"),
    "fig5-iris-full.toml": ("trainer", 9, "b23f1c41956560fe"),  # log_grid
    "fig6-time.toml": ("twin", 10, "578b465df046bd9e"),
    "fig6-updates.toml": ("twin", 10, "0e1813c7b13014d2"),
    "fig8-springs-full.toml": ("trainer", 14, "85ec03f471b1f6f8"),  # log_grid
    "lambda.toml": ("trainer", 5, "23c5d83aa2a39402"),
    "springs-clocks-twin.toml": ("twin", 4, "5925d6804447af0c"),  # came with spring twin cells
    "springs-solvers.toml": ("springs", 4, "47cb509a00764902"),
    "xy-architectures.toml": ("xy", 6, "5612ec5b36bc6d8a"),
    "xy-architectures-full.toml": ("xy", 7, "d3556837ea0d2861"),
}


def test_example_sweeps_keep_their_cell_ids() -> None:
    found = {}
    for path in sorted((ROOT / "examples" / "sweeps").glob("*.toml")):
        spec = load_spec(path)
        ids = [c.cell_id for c in expand(spec)]
        digest = hashlib.sha256(" ".join(ids).encode()).hexdigest()[:16]
        found[path.name] = (spec.kind, len(ids), digest)
    assert found == PINNED


def test_a_default_schedule_is_left_out_of_the_cell_and_its_id() -> None:
    assert "schedule" in omitted_at_default("twin")
    spec = spec_from_dict({"name": "t", "kind": "twin", "realizations": 1})
    (cell,) = expand(spec)
    assert "schedule" not in cell.params
    with_null = cell_id("twin", cell.params | {"schedule": None}, cell.seeds)
    assert with_null != cell.cell_id  # what the id would have become without the omission


def _schedule_file(tmp_path: Path) -> Path:
    path = tmp_path / "schedule.json"
    tasks = [task_to_dict(default_board_task()), task_to_dict(default_board_task(seed=5))]
    doc = {"schema": "twin.schedule/1", "tasks": tasks, "period_s": 0.004}
    doc["stop"] = {"after_s": 0.01}
    path.write_text(json.dumps(doc))
    return path


def test_a_twin_sweep_cell_trains_on_a_schedule(tmp_path: Path) -> None:
    path = str(_schedule_file(tmp_path))
    spec = spec_from_dict({
        "name": "t", "kind": "twin", "realizations": 2, "axes": {"schedule": [path]},
        "base": {"noise": 1e-3},
    })  # fmt: skip
    (cell,) = expand(spec)
    assert cell.params["schedule"] == path
    plain = expand(spec_from_dict({"name": "t", "kind": "twin", "realizations": 2,
                                   "base": {"noise": 1e-3}}))[0]  # fmt: skip
    assert cell.cell_id != plain.cell_id
    rows = KINDS["twin"](cell.params, cell.seeds)
    assert len(rows) == 2
    assert set(METRICS) <= set(rows[0])
    assert rows[0]["sim_time_s"] == 0.01
    assert rows[0]["error_final"] != rows[1]["error_final"]  # the seeds vary the noise


def test_a_schedule_beside_what_it_sets_or_a_bad_file_is_refused(tmp_path: Path) -> None:
    path = str(_schedule_file(tmp_path))
    with pytest.raises(TwinCellError, match="schedule: it sets eta, duration"):
        check_params({"schedule": path, "eta": 0.3, "duration": 1.0})
    with pytest.raises(TwinCellError, match=r"schedule: .*missing\.json"):
        check_params({"schedule": str(tmp_path / "missing.json")})
