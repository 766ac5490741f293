"""The command line: JSON summaries, saved networks, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import run_cli as run
from twin.documents import read_jsonl, validate_document
from twin.physics.network_io import load_network


def test_train_json_summary_and_artifacts(capsys, tmp_path) -> None:
    code, out, _ = run(
        capsys,
        "train",
        "--task",
        "allostery",
        "--eta",
        "0.22",
        "--steps",
        "2000",
        "--json",
        "--out",
        str(tmp_path / "run.jsonl"),
        "--save",
        str(tmp_path / "trained.json"),
        "--plot",
        str(tmp_path / "p.png"),
    )
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    for key in (
        "error_initial",
        "error_final",
        "free_power_initial_w",
        "free_power_final_w",
        "training_energy_j",
        "steps",
        "wall_s",
    ):
        assert key in summary
    # the Landauer floor of the run's updates: positive, far below the dissipated energy
    assert 0 < summary["energy_floor_j"] < summary["training_energy_j"]
    ratio = summary["training_energy_j"] / summary["energy_floor_j"]
    assert summary["energy_above_floor"] == pytest.approx(ratio)
    assert summary["error_final"] < summary["error_initial"]
    assert summary["steps"] == 2000
    docs = list(read_jsonl(tmp_path / "run.jsonl"))
    for doc in docs:
        validate_document(doc)
    assert docs[-1]["summary"]["error_final"] == summary["error_final"]
    net = load_network(tmp_path / "trained.json")
    assert net.conductance is not None
    assert net.conductance.shape == (32,)
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_train_realizations_report_lists_and_means(capsys) -> None:
    code, out, _ = run(
        capsys,
        "train",
        "--task",
        "allostery",
        "--eta",
        "0.22",
        "--steps",
        "100",
        "--realizations",
        "3",
        "--json",
    )
    assert code == 0
    s = json.loads(out.strip().splitlines()[-1])
    assert len(s["error_final"]) == 3
    assert s["error_final_mean"] == pytest.approx(sum(s["error_final"]) / 3)


def test_train_reference_task_file(capsys, reference_dir) -> None:
    path = reference_dir / "tasks" / "regression_n64_r1.json"
    code, out, _ = run(
        capsys,
        "train",
        "--task",
        f"file:{path}",
        "--steps",
        "200",
        "--kmin",
        "1e-4",
        "--kmax",
        "1e6",
        "--json",
    )
    assert code == 0
    s = json.loads(out.strip().splitlines()[-1])
    assert s["error_initial"] == pytest.approx(0.19488543191520646, rel=1e-9)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "--task", "nope"], "--task"),
        (["train", "--eta", "-1"], "--eta"),
        (["train", "--steps", "-5"], "--steps"),
        (["train", "--lam", "-0.5"], "--lam"),
        (["train", "--network", "grid:3"], "network"),
        (["train", "--task", "file:/does/not/exist.json"], "no such file"),
        (["train", "--kmin", "2", "--kmax", "1"], "kmin"),
        (["train", "--task", "iris", "--network", "lattice:3x3"], "iris needs"),
        (["train", "--bogus"], "bogus"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(capsys, args: list[str], needle: str) -> None:
    code, _out, err = run(capsys, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_module_entry_point_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "twin", "train", "--steps", "10", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "error_final" in json.loads(proc.stdout.strip().splitlines()[-1])


def test_demo_writes_plots_documents_and_a_ledger(capsys, tmp_path) -> None:
    code, out, _ = run(
        capsys,
        "demo",
        "--out",
        str(tmp_path),
        "--duration",
        "0.3",
        "--calibration-s",
        "0.3",
        "--realizations",
        "2",
        "--steps",
        "200",
    )
    assert code == 0
    for name in ("shadow.png", "trainer_lam0.png", "ledger.db"):
        assert (tmp_path / name).stat().st_size > 0
    docs = list(read_jsonl(tmp_path / "shadow.jsonl"))
    assert [d["source"] for d in docs if d["doc"] == "start"] == ["board", "twin"]
    assert [d["status"] for d in docs if d["doc"] == "stop"] == ["complete", "complete"]
    assert "Shadow mode" in out
    assert "ledger run" in out


def test_a_cold_kernel_cache_is_announced_on_stderr(monkeypatch, capsys) -> None:
    from twin import _kernel_cache
    from twin.cli._common import announce_compilation

    monkeypatch.setattr(_kernel_cache, "cold_kernel_modules", lambda: ["twin.kernels.x"])
    announce_compilation("train")
    assert capsys.readouterr().err == "compiling kernels (first run only, ~30 s)\n"
    monkeypatch.setattr(_kernel_cache, "cold_kernel_modules", list)
    announce_compilation("train")
    assert capsys.readouterr().err == ""
