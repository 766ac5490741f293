"""Run documents: schema validation, generated code in sync with schemas/, JSON-lines recorder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from twin.documents import (
    Collector,
    Dispatcher,
    DocumentError,
    JsonLinesWriter,
    energy_doc,
    read_jsonl,
    sample_doc,
    start_doc,
    stop_doc,
    validate_document,
)

ROOT = Path(__file__).resolve().parents[2]


def _codegen():
    spec = importlib.util.spec_from_file_location("codegen", ROOT / "schemas" / "codegen.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_code_matches_the_schemas() -> None:
    committed = (ROOT / "twin" / "_generated.py").read_text()
    assert _codegen().generate() == committed, "schemas/ changed: run `python schemas/codegen.py`"


def test_codegen_notices_a_schema_change(tmp_path, monkeypatch) -> None:
    mod = _codegen()
    for name in mod.SCHEMA_FILES:
        (tmp_path / name).write_text((ROOT / "schemas" / name).read_text())
    doc = tmp_path / "documents.schema.json"
    doc.write_text(
        doc.read_text().replace('"reason": {"type": "string"}', '"reason": {"type": "integer"}')
    )
    monkeypatch.setattr(mod, "HERE", tmp_path)
    assert mod.generate() != (ROOT / "twin" / "_generated.py").read_text()


def test_constructors_produce_valid_documents() -> None:
    start = start_doc(source="twin", kind="simulate", params={"a": 1}, realizations=2, board="b1")
    docs = [
        start,
        sample_doc(start["uid"], 0, 0.5, {"error": [1.0, 2.0]}, step=3),
        energy_doc(start["uid"], 0, 0.0, 0.5, 1e-3, component="free_network"),
        stop_doc(start["uid"], summary={"x": 1}),
    ]
    for doc in docs:
        validate_document(doc)


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"doc": "nope"}, "doc"),
        (
            {
                "doc": "energy",
                "run": "r",
                "seq": 0,
                "t0_s": 0,
                "t1_s": 1,
                "phase": "lunch",
                "component": "x",
                "source": "twin",
                "method": "integral",
                "energy_j": 1.0,
            },
            "phase",
        ),
        (
            {
                "doc": "energy",
                "run": "r",
                "seq": 0,
                "t0_s": 0,
                "t1_s": 1,
                "phase": "training",
                "component": "x",
                "source": "twin",
                "method": "integral",
                "energy_j": -1.0,
            },
            "energy_j",
        ),
        (
            {"doc": "sample", "run": "r", "seq": 0, "t_s": 0, "data": {"error": "high"}},
            "data.error",
        ),
    ],
)
def test_bad_documents_name_the_field(doc: dict, match: str) -> None:
    with pytest.raises(DocumentError, match=match):
        validate_document(doc)


def test_dispatcher_fans_out_in_order() -> None:
    seen: list[str] = []
    a, b = Collector(), Collector()
    d = Dispatcher([a, lambda doc: seen.append(doc["doc"])])
    d.subscribe(b)
    d({"doc": "start"})
    assert a.docs == b.docs == [{"doc": "start"}]
    assert seen == ["start"]


def test_jsonl_writer_survives_a_torn_tail(tmp_path) -> None:
    path = tmp_path / "run.jsonl"
    w = JsonLinesWriter(path)
    start = start_doc(source="twin", kind="train", params={})
    w(start)
    w(sample_doc(start["uid"], 0, 0.0, {"error": [1.0]}))
    w.close()
    with path.open("a") as fh:  # a process killed mid-write leaves half a line
        fh.write('{"doc": "sam')
    docs = list(read_jsonl(path))
    assert [d["doc"] for d in docs] == ["start", "sample"]
