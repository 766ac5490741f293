"""``twin figures``: the quick run end to end (real sweeps), reuse of done cells, bad options."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import run_cli as run
from twin.sweeps.figures import FIGURES


def _quick(capsys, tmp_path, names: list[str]) -> tuple[str, str]:
    db, out = f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path / "figs"
    only = [a for n in names for a in ("--only", n)]
    code, stdout, err = run(capsys, "figures", "--quick", "--out", str(out), "--db", db,
                            "--workers", "2", *only)  # fmt: skip
    assert code == 0, err
    report = out / "report.md"
    assert stdout.strip().splitlines()[-1] == str(report)
    text = report.read_text()
    for name in names:
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"![{name}]({name}.png)" in text
    assert "mode **quick**" in text
    assert f"ledger `{db}`" in text  # the ledger it used, by its URL
    assert "| quantity | measured here | published (seed) | departure |" in text
    assert "0 found done" in text
    assert "failed" not in text
    return db, str(out)


@pytest.mark.slow
def test_every_quick_figure_runs(capsys, tmp_path) -> None:
    _quick(capsys, tmp_path, list(FIGURES))


def test_quick_figures_run_then_reuse_their_cells(capsys, tmp_path) -> None:
    db, out = _quick(capsys, tmp_path, ["fig2", "fig5"])
    # a second run computes nothing: every cell is found in the ledger
    code, _, err = run(capsys, "figures", "--quick", "--only", "fig2", "--out", str(out),
                       "--db", db, "--workers", "1")  # fmt: skip
    assert code == 0, err
    again = (tmp_path / "figs" / "report.md").read_text()
    assert re.search(r"`fig2-lambda-quick`: 7 cells x 4 realizations, 7 found done, 0 computed",
                     again)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--only", "fig9"], "--only"),
        (["--workers", "0"], "--workers"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
        (["--scheduler", "localhost:8786"], "--scheduler"),
    ],
)
def test_bad_figure_options_fail_in_one_line(capsys, tmp_path, args, needle) -> None:
    code, _, err = run(capsys, "figures", "--out", str(tmp_path / "o"), *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err


def test_help_and_readme_agree_on_how_long_quick_takes(capsys) -> None:
    code, out, _ = run(capsys, "figures", "--help")
    assert code == 0
    said = re.search(r"all\s+six\s+in\s+(~\d+ s)\s+on\s+2\s+cores", " ".join(out.split()))
    assert said is not None, out
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    assert f"short runs (a smoke test: all six in {said[1]} on 2 cores" in readme
