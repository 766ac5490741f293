"""Hypothesis fuzz of the CLI's inputs: every network or task file and every numeric option ends in
exit code 0 (accepted) or 2 (one-line error), never in a traceback.

Files are random structural mutations of valid ones (and random bytes); runs use tiny networks and
``--steps 1``: ~1,750 derandomized cases, ~15 s on an idle core (a valid case runs the command,
~20 ms; most bad ones stop at the boundary in a few ms).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.helpers import run_cli
from twin.physics.network import lattice
from twin.physics.network_io import network_to_dict, write_authors_txt
from twin.physics.task import task_to_dict
from twin.physics.task_generators import allostery_task

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

NET = lattice(3, 3, periodic=True)
TASK_DOC = task_to_dict(allostery_task(NET, rng=np.random.default_rng(2)))
NET_DOC = network_to_dict(NET)

#: JSON values a mutation puts in place of a valid one: wrong types, edge-of-range numbers.
ODD_VALUES = st.one_of(
    st.sampled_from(["abc", "", "file:/etc/passwd", "lattice:1x2", None, True, [], {}]),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(-3, 40), max_size=4),
    st.lists(st.lists(st.floats(-2, 2, allow_nan=False), max_size=3), max_size=3),
    st.dictionaries(st.sampled_from(["nodes", "edges", "inputs", "x"]), st.integers(-1, 20)),
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:6]):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """A copy of ``base`` with one to three values replaced, deleted or nested."""
    doc = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "wrap"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
        else:
            parent[path[-1]] = draw(ODD_VALUES)
    return doc


def _assert_clean(code: int, err: str) -> None:
    assert code in (0, 2), err
    assert "Traceback" not in err, err
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _train(capsys: Any, *args: str) -> tuple[int, str]:
    code, _out, err = run_cli(capsys, "train", "--steps", "1", "--no-db", "--json", *args)
    return code, err


@settings(FUZZ, max_examples=500)
@given(doc=mutated(TASK_DOC))
def test_mutated_task_files(capsys: Any, folder: Path, doc: Any) -> None:
    path = folder / "task.json"
    path.write_text(json.dumps(doc))
    _assert_clean(*_train(capsys, "--task", f"file:{path}"))


@settings(FUZZ, max_examples=300)
@given(doc=mutated(NET_DOC))
def test_mutated_network_files(capsys: Any, folder: Path, doc: Any) -> None:
    path = folder / "net.json"
    path.write_text(json.dumps(doc))
    _assert_clean(*_train(capsys, "--network", f"file:{path}", "--task", "allostery"))


@settings(FUZZ, max_examples=300)
@given(lines=st.lists(st.text(alphabet="0123456789 .-xe\n", max_size=12), max_size=12))
def test_mutated_authors_files(capsys: Any, folder: Path, lines: list[str]) -> None:
    path = folder / "net.txt"
    base = folder / "base.txt"
    write_authors_txt(NET, base)
    kept = base.read_text().splitlines()
    path.write_text("\n".join(kept[: len(lines)] + lines) + "\n")
    _assert_clean(*_train(capsys, "--network", f"file:{path}", "--task", "allostery"))


@settings(FUZZ, max_examples=300)
@given(data=st.binary(max_size=200))
def test_random_bytes_as_task_and_network(capsys: Any, folder: Path, data: bytes) -> None:
    path = folder / "bytes.json"
    path.write_bytes(data)
    code, err = _train(capsys, "--task", f"file:{path}")
    assert code == 2
    _assert_clean(code, err)
    _assert_clean(*_train(capsys, "--network", f"file:{path}", "--task", "allostery"))


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _affordable(option: str, value: Any, bounds: dict[str, float]) -> bool:
    """Whether a run with this value ends fast: refused, or within the test's small bounds."""
    number = _number(value)
    if option not in bounds or number is None or number != number:
        return True
    return not (0 <= number <= 1e12) or number <= bounds[option]


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.sampled_from(["1e308", "-0", "nan", "inf", "", "abc", "1e-320"]),
)
TRAIN_OPTIONS = ["--lam", "--eta", "--alpha", "--kappa", "--kmin", "--kmax", "--step-s",
                 "--seed", "--steps", "--realizations", "--stop-tol", "--control-tol"]  # fmt: skip


@settings(FUZZ, max_examples=250)
@given(option=st.sampled_from(TRAIN_OPTIONS), value=NUMBERS)
def test_numeric_train_options(capsys: Any, option: str, value: Any) -> None:
    assume(_affordable(option, value, {"--steps": 50, "--realizations": 8}))
    args = ["--network", "lattice:3x3:periodic", option, str(value)]
    if option == "--steps":
        code, _out, err = run_cli(capsys, "train", "--no-db", "--json", *args)
    else:
        code, err = _train(capsys, *args)
    _assert_clean(code, err)


SIMULATE_OPTIONS = ["--duration", "--lam", "--eta", "--tau-feedback", "--noise", "--meas-noise",
                    "--offsets", "--leak", "--seed", "--sample-s", "--batch-s",
                    "--window-s"]  # fmt: skip


@settings(FUZZ, max_examples=100)
@given(option=st.sampled_from(SIMULATE_OPTIONS), value=NUMBERS)
def test_numeric_simulate_options(capsys: Any, option: str, value: Any) -> None:
    assume(_affordable(option, value, {"--duration": 0.01}))
    number = _number(value)
    if option in ("--sample-s", "--batch-s") and number is not None and 0 < number < 1e-5:
        assume(number < 1e-300)  # refused (too many samples or wake-ups) rather than slow
    # Only out-of-range values run to the end quickly: valid ones are cut to a 1 ms run.
    args = ["--network", "lattice:3x3:periodic", "--clock", "sync:1000"]
    if option != "--duration":
        args += ["--duration", "0.001"]
    code, _out, err = run_cli(capsys, "simulate", "--no-db", "--json", *args, option, str(value))
    _assert_clean(code, err)
