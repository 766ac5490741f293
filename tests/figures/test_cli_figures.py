"""``twin figures``: the quick run end to end (real sweeps), reuse of done cells, bad options."""

from __future__ import annotations

import json
import re
from pathlib import Path

import attrs
import pytest

from tests.helpers import run_cli as run
from twin.sweeps.figures import FIGURES, figure_module


@pytest.fixture
def small_quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Figures 2 and 5 with their quick sweeps cut to 300 steps and 3 realizations.

    The quick set proper learns (1e5 steps, 8 realizations: minutes); these tests check the
    command's plumbing (rendering, spreads, reuse of done cells), not the numbers.
    """
    for name in ("fig2", "fig5"):
        module = figure_module(name)
        specs = module.specs

        def small(quick: bool, specs=specs) -> list:  # type: ignore[no-untyped-def]
            return [attrs.evolve(s, realizations=3, base={**s.base, "steps": 300})
                    for s in specs(quick)]  # fmt: skip

        monkeypatch.setattr(module, "specs", small)


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


@pytest.mark.usefixtures("small_quick")
def test_quick_figures_run_then_reuse_their_cells(capsys, tmp_path) -> None:
    db, out = _quick(capsys, tmp_path, ["fig2", "fig5"])
    numbers = json.loads((tmp_path / "figs" / "report.json").read_text())["numbers"]
    slope = numbers["fig2"]["error_slope"]  # every headline number with its spread
    assert set(slope) == {"value", "low", "high", "finite", "too_uncertain"}
    assert "comparable?" in (tmp_path / "figs" / "report.md").read_text()
    # a second run computes nothing: every cell is found in the ledger
    code, _, err = run(capsys, "figures", "--quick", "--only", "fig2", "--out", str(out),
                       "--db", db, "--workers", "1")  # fmt: skip
    assert code == 0, err
    again = (tmp_path / "figs" / "report.md").read_text()
    assert re.search(r"`fig2-lambda-quick`: 7 cells x 3 realizations, 7 found done, 0 computed",
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
    said = re.search(r"all\s+(\w+)\s+in\s+(~\d+ s)\s+on\s+2\s+cores", " ".join(out.split()))
    assert said is not None, out
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    assert f"runs long enough to learn (all {said[1]} in {said[2]} on 2 cores" in readme
    assert said[1] == {9: "nine"}.get(len(FIGURES)), "the help counts the registered figures"


def _report(path, value: float, low: float, high: float) -> None:
    path.mkdir()
    num = {"value": value, "low": low, "high": high, "finite": 1.0, "too_uncertain": False}
    doc = {
        "meta": {},
        "numbers": {
            "fig2": {"error_slope": num, "kept": {**num, "value": 1.0, "low": 0.9, "high": 1.1}}
        },
    }
    (path / "report.json").write_text(json.dumps(doc))


def test_compare_names_the_numbers_that_moved(capsys, tmp_path) -> None:
    _report(tmp_path / "old", 1.86, 1.82, 1.90)
    _report(tmp_path / "new", 1.99, 1.95, 2.03)
    code, out, err = run(capsys, "figures", "--compare", str(tmp_path / "old"),
                         str(tmp_path / "new"))  # fmt: skip
    assert code == 0, err
    assert re.search(r"\| fig2 \| `error_slope` \| 1.86 \[1.82, 1.9\] \| 1.99 .*\| moved \|", out)
    assert "`kept`" not in out  # unchanged numbers are not listed
    assert "1 of 2 numbers moved" in out


def test_compare_of_a_missing_report_fails_in_one_line(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "figures", "--compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert f"no such report '{tmp_path / 'a'}'" in err


def test_compare_of_a_name_the_os_refuses_fails_in_one_line(capsys, tmp_path) -> None:
    """Found by the deep argv fuzzer: a name longer than the OS allows raised OSError."""
    long = tmp_path / ("n" * 300)
    code, _, err = run(capsys, "figures", "--compare", str(long), str(tmp_path / "b"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "--compare" in err
    assert "is not a figures report.json" in err
