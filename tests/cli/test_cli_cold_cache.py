"""On a cold kernel cache a command says it compiles, but only once it accepted the request: a
refusal is still one line (found by the deep argv fuzzer: `simulate --port 1` without `--view`,
and `train --db mysql://...`, printed the compile notice first)."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli


@pytest.fixture
def cold_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    import twin._kernel_cache

    monkeypatch.setattr(twin._kernel_cache, "cold_kernel_modules", lambda: ["twin.kernels.x"])


@pytest.mark.usefixtures("cold_cache")
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["simulate", "--duration", "0.001", "--no-db", "--port", "1"], "--port needs --view"),
        (["shadow", "--emulate", "--no-db", "--port", "1"], "--port needs --view"),
        (["steer", "--emulate", "--no-db", "--tolerance", "1e-3", "--port", "1"], "--port needs"),
        (["train", "--steps", "2", "--db", "mysql://u@h/d"], "unsupported database"),
        (["simulate", "--duration", "0.001", "--db", "mysql://u@h/d"], "unsupported database"),
    ],
)
def test_a_refusal_on_a_cold_cache_is_one_line(
    capsys: pytest.CaptureFixture, args: list[str], needle: str
) -> None:
    code, _out, err = run_cli(capsys, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err


@pytest.mark.usefixtures("cold_cache")
def test_an_accepted_run_on_a_cold_cache_says_it_compiles(capsys: pytest.CaptureFixture) -> None:
    code, _out, err = run_cli(capsys, "train", "--steps", "2", "--no-db", "--json")
    assert code == 0, err
    assert "compiling kernels (first run only" in err
