"""The run lifecycle: start, numbered samples and energy entries, stop complete or aborted."""

from __future__ import annotations

import pytest

from twin.documents import Collector, Dispatcher, Run, validate_document


def test_a_run_emits_start_numbered_documents_and_a_complete_stop() -> None:
    col = Collector()
    with Run(col, source="twin", kind="train", params={"a": 1}, realizations=2) as run:
        for i in range(3):
            run.sample(0.1 * i, {"error": [1.0, 2.0]}, step=i)
            run.energy(0.1 * i, 0.1 * (i + 1), 1e-3, component="free_network", realization=1)
        run.summary = {"steps": 3}
    kinds = [d["doc"] for d in col.docs]
    assert kinds == ["start", "sample", "energy", "sample", "energy", "sample", "energy", "stop"]
    for doc in col.docs:
        validate_document(doc)
    assert {d.get("run", d.get("uid")) for d in col.docs} == {run.uid}
    assert [d["seq"] for d in col.of("sample")] == [0, 1, 2]
    assert [d["seq"] for d in col.of("energy")] == [0, 1, 2]
    assert col.docs[0]["realizations"] == 2
    assert col.docs[-1]["status"] == "complete"
    assert col.docs[-1]["summary"] == {"steps": 3}


def test_an_exception_stops_the_run_as_aborted_and_propagates() -> None:
    col = Collector()

    def failing_run() -> None:
        with Run(col, source="twin", kind="simulate", params={}) as run:
            run.sample(0.0, {"error": [1.0]})
            raise KeyError("boom")

    with pytest.raises(KeyError):
        failing_run()
    stop = col.docs[-1]
    assert (stop["doc"], stop["status"]) == ("stop", "aborted")
    assert stop["reason"] == "KeyError: 'boom'"
    assert "summary" not in stop


@pytest.mark.parametrize("emit", [None, Dispatcher()])
def test_without_subscribers_nothing_is_built_but_the_uid_exists(emit) -> None:
    with Run(emit, source="twin", kind="infer", params={}) as run:
        assert not run.recording
    assert len(run.uid) == 32
