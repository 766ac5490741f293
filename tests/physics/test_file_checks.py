"""Network and task files at the boundary: one error line per class of bad input (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.hypothesis_profiles import scaled
from twin._generated import SCHEMAS
from twin.errors import NetworkError, TaskError
from twin.physics._schema_check import KEYWORDS, Checker
from twin.physics.file_checks import MAX_DEPTH, check_document, json_path
from twin.physics.network import lattice
from twin.physics.network_io import (
    load_network,
    network_from_spec,
    network_to_dict,
    read_authors_txt,
    write_authors_txt,
)
from twin.physics.task import load_task, task_to_dict
from twin.physics.task_generators import allostery_task

NET = lattice(3, 3, periodic=True)
TASK = task_to_dict(allostery_task(NET, rng=np.random.default_rng(2)))


def _write(path: Path, content: Any) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _one_line(exc: pytest.ExceptionInfo[Exception]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_json_path_format() -> None:
    assert json_path(["train", "inputs", 3, 1]) == "train.inputs[3][1]"
    assert json_path([]) == "(top level)"
    assert json_path(["nodes"], "network") == "network.nodes"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (bytes(range(256)), "binary data"),
        ('{"kind": "caf\xe9"}'.encode("latin-1"), "not UTF-8"),
        ("", "invalid JSON"),
        ("[1, 2]", "(top level): expected an object"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (json.dumps({"a": json.loads("[" * 40 + "]" * 40)}), f"at most {MAX_DEPTH} levels"),
        ('{"ground": [' + "9" * 5000 + "]}", "ground[0]: expected an integer of at most 18"),
        ('{"x": NaN}', "x: expected a finite number"),
        ('{"x": 1e400}', "x: expected a finite number"),
        ({**TASK, "ground": [10**12]}, "ground[0]: expected an integer <= "),
        ({**TASK, "ground": [0.5]}, "ground[0]: expected an integer"),
        ({**TASK, "ground": [[0]]}, "ground[0]: expected an integer"),
        ({**TASK, "kind": 3}, "kind: expected a string"),
        ({**TASK, "extra": [1]}, "extra: expected an object"),
        ({**TASK, "extra": {"x": "y"}}, "extra.x: expected an object"),
        ({**TASK, "train": {"inputs": [["abc"]], "outputs": [[0.1, 0.2]]}}, "train.inputs[0][0]"),
        ({**TASK, "sources": {"nodes": [1], "edges": [2]}}, "sources: expected {"),
        ({**TASK, "tragets": {}}, "unknown field 'tragets'"),
        ({**TASK, "network": 5}, "network: expected an inline network object or a spec string"),
        ({**TASK, "network": {**network_to_dict(NET), "nodes": 10**12}}, "network.nodes"),
        ({**TASK, "network": {**network_to_dict(NET), "k_min": "abc"}}, "network.k_min"),
        ({**TASK, "network": {**network_to_dict(NET), "k_min": [1]}}, "network.k_min"),
        ({**TASK, "network": "lattice:99999999999999999999x2"}, "at most 1,000,000"),
        ({**TASK, "network": ""}, "network: expected"),
        ({k: v for k, v in TASK.items() if k != "train"}, "missing field 'train'"),
    ],
)
def test_bad_task_files_give_one_line_naming_file_and_field(
    tmp_path: Path, content: Any, needle: str
) -> None:
    path = _write(tmp_path / "task.json", content)
    with pytest.raises(TaskError) as exc:
        load_task(path)
    msg = _one_line(exc)
    assert str(path) in msg
    assert needle in msg


def test_task_file_network_not_a_network_is_named_not_echoed(tmp_path: Path) -> None:
    secret = _write(tmp_path / "passwd", "root:x:0:0:root:/root:/bin/bash\n")
    path = _write(tmp_path / "task.json", {**TASK, "network": f"file:{secret}"})
    with pytest.raises(TaskError) as exc:
        load_task(path)
    msg = _one_line(exc)
    assert "root" not in msg.replace(str(tmp_path), "")
    assert str(secret) in msg
    assert "line 1" in msg


def test_task_file_network_path_resolves_next_to_the_task(tmp_path: Path, monkeypatch) -> None:
    sub = tmp_path / "tasks"
    sub.mkdir()
    write_authors_txt(NET, sub / "net.txt")
    path = _write(sub / "task.json", {**TASK, "network": "file:net.txt"})
    monkeypatch.chdir(tmp_path)  # not the task's folder
    assert load_task(path).network.n_edges == NET.n_edges
    bare = _write(sub / "task2.json", {**TASK, "network": "net.txt"})
    assert load_task(bare).network.n_nodes == NET.n_nodes


def test_a_task_used_as_network_may_not_chain_to_another_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "task.json", {**TASK, "network": "file:task.json"})
    with pytest.raises(NetworkError, match="not name another file"):
        load_network(path)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda ls: ["999999999999 18 3", *ls[1:]], "line 1: expected the header"),
        (lambda ls: ["9" * 5000 + " 18 3", *ls[1:]], "line 1: expected the header"),
        (lambda ls: ["9 18", *ls[1:]], "line 1: expected the header"),
        (lambda ls: ls[:5], "says 9 nodes and 18 edges"),
        (lambda ls: [ls[0], "nan 1", *ls[2:]], "line 2: expected 'x y'"),
        (lambda ls: [*ls[:-1], "0 x"], "line 28: expected 'i j'"),
        (lambda ls: [*ls[:-1], "0 99"], "line 28: expected 'i j'"),
        (lambda ls: ["root:x:0:0:root:/root:/bin/bash"], "line 1: expected the header"),
    ],
)
def test_authors_format_errors_name_the_line(tmp_path: Path, mutate: Any, needle: str) -> None:
    write_authors_txt(NET, tmp_path / "ok.txt")
    lines = (tmp_path / "ok.txt").read_text().splitlines()
    path = _write(tmp_path / "net.txt", "\n".join(mutate(lines)) + "\n")
    with pytest.raises(NetworkError) as exc:
        read_authors_txt(path)
    msg = _one_line(exc)
    assert needle in msg
    assert "root" not in msg.replace(str(tmp_path), "")


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("lattice:99999999999999999999x2", "at most 1,000,000"),
        ("lattice:2000x2000", "4,000,000 nodes"),
        ("jammed:99999999999999", "at most 100,000"),
        ("", "empty spec"),
        ("file:", "needs a PATH"),
    ],
)
def test_spec_strings_are_bounded_before_building(spec: str, needle: str) -> None:
    with pytest.raises(NetworkError, match=needle.replace("(", r"\(")):
        network_from_spec(spec)


def test_checker_knows_every_keyword_of_the_file_schemas() -> None:
    # Checker refuses schemas using keywords it does not implement.
    Checker("twin.task/1", {k: SCHEMAS[k] for k in ("twin.network/1", "twin.task/1")})
    with pytest.raises(ValueError, match="not supported"):
        Checker("x", {"x": {"type": "object", "patternProperties": {}}})
    assert "oneOf" in KEYWORDS


def _jsonschema_valid(doc: Any) -> bool:
    registry: Registry[Any] = Registry().with_resources(
        (sid, DRAFT202012.create_resource(SCHEMAS[sid])) for sid in ("twin.network/1",)
    )
    validator = jsonschema.Draft202012Validator(SCHEMAS["twin.task/1"], registry=registry)
    return bool(validator.is_valid(doc))


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 10**7),
        st.text(max_size=5),
        st.floats(-2e3, 2e3, allow_nan=False),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = ["schema", "network", "ground", "sources", "targets", "train", "test", "extra", "kind"]


@settings(max_examples=scaled(300))
@given(field=st.sampled_from(FIELDS), sub=st.sampled_from([None, 0, "nodes", "inputs", "edges"]),
       value=JSON_VALUES)  # fmt: skip
def test_checker_agrees_with_jsonschema(field: str, sub: Any, value: Any) -> None:
    doc = json.loads(json.dumps(TASK))
    if sub is not None and isinstance(doc.get(field), dict) and sub in doc[field]:
        doc[field][sub] = value
    elif sub == 0 and isinstance(doc.get(field), list):
        doc[field][0] = value
    else:
        doc[field] = value
    ours = True
    try:
        check_document(doc, "twin.task/1", TaskError)
    except TaskError:
        ours = False
    assert ours == _jsonschema_valid(doc)
