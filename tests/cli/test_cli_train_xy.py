"""``twin train --physics xy``: summary, documents in model units, refusals in one line."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli as run
from twin.documents import read_jsonl, validate_document


def test_xy_train_json_reports_accuracy_and_loss(capsys, tmp_path) -> None:
    out = tmp_path / "run.jsonl"
    args = ["--physics", "xy", "--network", "all:6", "--epochs", "3", "--seed", "1"]
    code, stdout, err = run(capsys, "train", *args, "--out", str(out), "--json")
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["physics"] == "xy"
    assert summary["couplings"] == 15
    assert 0 <= summary["accuracy"] <= 1
    assert summary["loss"] >= 0
    docs = list(read_jsonl(out))
    for doc in docs:
        validate_document(doc)
    kinds = [d["doc"] for d in docs]
    assert kinds[0] == "start"
    assert kinds[-1] == "stop"
    assert "energy" not in kinds  # model units are never recorded as joules
    sample = next(d for d in docs if d["doc"] == "sample")
    assert {"energy_free_model", "work_free_model", "work_nudged_model"} <= set(sample["data"])
    assert docs[0]["params"]["physics"] == "xy"
    assert docs[-1]["summary"]["accuracy"] == summary["accuracy"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--physics", "xy", "--network", "lattice:5x5", "--lam", "0.1"], "--lam does not apply"),
        (["--beta", "0.1"], "--beta does not apply to --physics resistors"),
        (["--physics", "xy"], "--network is required"),
        (["--physics", "xy", "--network", "lattice:5x5:io=top"], "io: expected one of"),
        (["--physics", "xy", "--network", "layered:2,4,1", "--task", "iris"], "needs 4 inputs"),
        (["--physics", "xy", "--network", "all:8", "--task", "regression"], "task: expected"),
        (["--physics", "xy", "--network", "all:6", "--beta", "0"], "--beta"),
        (["--physics", "xy", "--network", "lattice:300x300", "--epochs", "100000"], "--force"),
    ],
)
def test_xy_train_refuses_in_one_line(capsys, args, needle) -> None:
    code, _out, err = run(capsys, "train", *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
