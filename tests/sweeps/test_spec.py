"""Sweep specifications: TOML parsing, schema errors (one line naming file and field), expansion,
cell ids and realization seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.errors import TwinError
from twin.physics.task_spec import build_tasks
from twin.sweeps import SweepSpecError, expand, load_spec, realization_seeds, spec_from_dict
from twin.sweeps.cells import cell_id
from twin.sweeps.params import defaults, parameters

ROOT = Path(__file__).resolve().parents[2]


def _spec(**over):
    doc = {"name": "s", "kind": "trainer", "realizations": 2, "base": {"steps": 10}}
    doc.update(over)
    return spec_from_dict(doc)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_a_toml_file_is_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'name = "lam"\nkind = "trainer"\nrealizations = 3\nseed = 7\n'
        "[base]\nsteps = 100\nkappa = 2\n[axes]\nlam = [0, 1e-5]\neta = [1e-3, 1e-2, 0.1]\n",
    )
    spec = load_spec(path)
    assert (spec.name, spec.kind, spec.realizations, spec.seed) == ("lam", "trainer", 3, 7)
    assert spec.base == {"steps": 100, "kappa": 2.0}
    assert isinstance(spec.base["kappa"], float)
    assert isinstance(spec.base["steps"], int)
    assert [(a.name, a.values) for a in spec.axes] == [
        ("lam", (0.0, 1e-5)),
        ("eta", (1e-3, 1e-2, 0.1)),
    ]
    assert spec.source == str(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name = "x"\nkind = "trainer"\n', "(top level): missing field 'realizations'"),
        ('name = "x"\nkind = "sync"\nrealizations = 1\n', 'kind: expected "trainer" or "twin"'),
        ('name = "x"\nkind = "trainer"\nrealizations = 0\n', "realizations: expected"),
        ('name = "x"\nkind = "trainer"\nrealizations = 1\n[base]\nlam = 2\n', "base.lam: expected"),
        ('name = "x"\nkind = "trainer"\nrealizations = 1\n[base]\nlam = "a"\n', "base.lam: expect"),
        (
            'name = "x"\nkind = "trainer"\nrealizations = 1\n[base]\nlambda = 0.1\n',
            "base.lambda: unknown trainer parameter 'lambda'; expected one of network, task, lam",
        ),
        (
            'name = "x"\nkind = "twin"\nrealizations = 1\n[axes]\nsteps = [1, 2]\n',
            "axes.steps: unknown twin parameter 'steps'",
        ),
        ('name = "x"\nkind = "trainer"\nrealizations = 1\n[axes]\neta = [0.1, -1]\n', "eta[1]"),
        ('name = "x"\nkind = "trainer"\nrealizations = 1\n[axes]\neta = []\n', "axes.eta: exp"),
        ('name = "x"\nkind = "trainer"\nrealizations = 1\n[axes]\neta = 0.1\n', "a list of values"),
        ('name = "x"\nkind = "trainer"\nrealizations = 1\nextra = 1\n', "extra"),
        ('name = "a b"\nkind = "trainer"\nrealizations = 1\n', "name: expected letters"),
        ('name = "x"\nkind = "trainer"\nrealizations = 1\n[axes]\neta = [0.1, 0.1]\n', "distinct"),
        (
            'name = "x"\nkind = "trainer"\nrealizations = 1\n[base]\neta = 0.1\n[axes]\n'
            "eta = [0.2]\n",
            "axes.eta: also set in base",
        ),
        (
            'name = "x"\nkind = "trainer"\nrealizations = 1\ncombine = "zip"\n[axes]\n'
            "eta = [0.1, 0.2]\nlam = [0.0]\n",
            "zip needs axes of one length, got eta: 2, lam: 1",
        ),
        ("name = \n", "invalid TOML"),
    ],
)
def test_bad_files_give_one_line_naming_the_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SweepSpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert isinstance(info.value, TwinError)
    assert isinstance(info.value, ValueError)


def test_missing_and_binary_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SweepSpecError, match="no such file"):
        load_spec(tmp_path / "nope.toml")
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"name = \x00")
    with pytest.raises(SweepSpecError, match="binary data"):
        load_spec(binary)


def test_product_expansion_first_axis_slowest() -> None:
    spec = _spec(axes={"lam": [0.0, 1e-5], "eta": [0.1, 0.2, 0.3]})
    cells = expand(spec)
    assert [(c.values["lam"], c.values["eta"]) for c in cells] == [
        (lam, eta) for lam in (0.0, 1e-5) for eta in (0.1, 0.2, 0.3)
    ]
    assert [c.position for c in cells] == list(range(6))
    assert len({c.cell_id for c in cells}) == 6
    full = cells[4].params
    assert set(full) == set(parameters("trainer"))
    assert full["steps"] == 10
    assert full["lam"] == 1e-5
    assert full["eta"] == 0.2
    assert full["alpha"] == defaults("trainer")["alpha"] == 0.5


def test_zip_expansion_pairs_values() -> None:
    spec = _spec(combine="zip", axes={"lam": [0.0, 1e-5, 1e-4], "eta": [0.1, 0.2, 0.3]})
    assert [(c.values["lam"], c.values["eta"]) for c in expand(spec)] == [
        (0.0, 0.1),
        (1e-5, 0.2),
        (1e-4, 0.3),
    ]


def test_no_axes_is_one_cell() -> None:
    cells = expand(_spec())
    assert len(cells) == 1
    assert cells[0].values == {}


def test_cell_ids_are_stable_and_depend_on_parameters_and_seeds_only() -> None:
    a = expand(_spec(axes={"lam": [0, 1e-5]}))
    b = expand(_spec(name="other", description="x", axes={"lam": [0.0, 1e-5]}))
    assert [c.cell_id for c in a] == [c.cell_id for c in b]  # name, int/float: same cells
    # an explicit default is the same cell as a left-out one
    c = expand(_spec(base={"steps": 10, "alpha": 0.5}, axes={"lam": [0, 1e-5]}))
    assert [x.cell_id for x in c] == [x.cell_id for x in a]
    # another seed, realization count or parameter value is another cell
    assert expand(_spec(seed=1))[0].cell_id != expand(_spec())[0].cell_id
    assert expand(_spec(realizations=3))[0].cell_id != expand(_spec())[0].cell_id
    assert expand(_spec(base={"steps": 11}))[0].cell_id != expand(_spec())[0].cell_id
    # the id is a pure function of its inputs (pinned: a change breaks every stored sweep)
    cell = expand(_spec())[0]
    assert cell.cell_id == cell_id("trainer", cell.params, cell.seeds)
    assert len(cell.cell_id) == 20
    assert int(cell.cell_id, 16) >= 0


def test_cell_id_is_pinned() -> None:
    params = {"lam": 0.0, "task": "allostery"}
    # sha256('{"kind":"trainer","params":{"lam":0.0,"task":"allostery"},"seeds":[1,2]}')[:20]
    import hashlib

    text = '{"kind":"trainer","params":{"lam":0.0,"task":"allostery"},"seeds":[1,2]}'
    assert cell_id("trainer", params, [1, 2]) == hashlib.sha256(text.encode()).hexdigest()[:20]


def test_realization_seeds_are_shared_across_cells_and_follow_the_rule() -> None:
    cells = expand(_spec(realizations=4, seed=3, axes={"lam": [0.0, 1e-5]}))
    assert cells[0].seeds == cells[1].seeds == realization_seeds(3, 4)
    seeds = realization_seeds(3, 4)
    hi, lo = np.random.SeedSequence([3, 2]).generate_state(2, np.uint32)
    assert seeds[2] == ((int(hi) << 32) | int(lo)) >> 18
    assert len(set(seeds)) == 4
    assert all(0 <= s < 2**46 for s in seeds)
    assert realization_seeds(3, 2) == seeds[:2]  # more realizations extend, never reshuffle
    assert realization_seeds(4, 1) != seeds[:1]


def test_realization_seed_builds_a_jammed_network() -> None:
    # the largest seeds still give valid packing seeds (seed * 100003 + r < 2^63)
    (task,) = build_tasks("regression", "jammed:16", seed=2**46 - 1, realizations=1)
    assert task.network.n_edges > 0


def test_the_example_spec_is_valid() -> None:
    for path in sorted((ROOT / "examples" / "sweeps").glob("*.toml")):
        assert expand(load_spec(path))
