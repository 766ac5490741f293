"""docker-compose.yml: services, ports, environment, healthchecks (no container engine here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(doc, dict)
    return doc


def test_services_present(compose) -> None:
    assert set(compose["services"]) == {"postgres", "board", "shadow"}
    assert "twin-ledger" in compose["volumes"]


def test_ports_are_published_on_loopback_only(compose) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    board_ports = {int(str(p).split(":")[1]) for p in compose["services"]["board"]["ports"]}
    assert board_ports == {5555, 5556, 5557}  # updates, snapshots, commands (base port + 0..2)


def test_every_service_has_a_healthcheck(compose) -> None:
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        assert check is not None, name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert "interval" in check


def test_images_are_built_from_the_project(compose) -> None:
    for name in ("board", "shadow"):
        build = compose["services"][name]["build"]
        context = ROOT / build["context"]
        assert context.is_dir()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file()
        text = dockerfile.read_text()
        assert "pip install" in text
        assert 'ENTRYPOINT ["twin"]' in text


def test_shadow_depends_on_healthy_board_and_database(compose) -> None:
    shadow = compose["services"]["shadow"]
    assert shadow["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "board": {"condition": "service_healthy"},
    }
    url = shadow["environment"]["TWIN_DB_URL"]
    assert url.startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in url
    assert shadow["command"][:3] == ["shadow", "--connect", "tcp://board:5555"]


def test_commands_are_valid_twin_commands(compose, capsys) -> None:
    from twin.cli import _register, cli

    _register()
    for name in ("board", "shadow"):
        args = compose["services"][name]["command"]
        ctx = cli.make_context("twin", list(args), resilient_parsing=True)
        sub = cli.get_command(ctx, args[0])
        assert sub is not None, name
        sub.make_context(args[0], list(args[1:]))  # parses: options exist, values convert


def test_postgres_needs_a_password_from_an_env_file(compose) -> None:
    pg = compose["services"]["postgres"]
    env = pg["environment"]
    assert "trust" not in str(env).lower()
    assert env["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert pg["env_file"] == [{"path": ".env", "required": True}]
    assert "${POSTGRES_PASSWORD:?" in compose["services"]["shadow"]["environment"]["TWIN_DB_URL"]
    assert "POSTGRES_PASSWORD=" in (ROOT / ".env.example").read_text()
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_shadow_healthcheck_asks_the_ledger(compose) -> None:
    test = compose["services"]["shadow"]["healthcheck"]["test"]
    assert "/proc/" not in " ".join(test)  # grepping its own command line always passed
    assert test[1:4] == ["python", "-m", "twin.ledger.health"]


def test_kernels_are_compiled_into_the_image() -> None:
    text = (ROOT / "Dockerfile").read_text()
    user = text.index("USER twin")
    warm = text.index("twin train --steps 2")
    assert user < warm  # compiled as the user that runs, into its cache
    assert "twin simulate" in text[warm:]
    assert "twin shadow --emulate" in text[warm:]
    cache = next(line for line in text.splitlines() if "NUMBA_CACHE_DIR=" in line)
    assert "/tmp" not in cache


def test_ledger_health_check(capsys, tmp_path) -> None:
    import sqlite3
    import time

    from tests.helpers import run_cli
    from twin.ledger.health import main

    db = tmp_path / "ledger.db"
    url = f"sqlite:///{db}"
    assert main(["--db", url]) == 1  # no ledger yet: unhealthy, and none is created
    assert not db.exists() or db.stat().st_size == 0
    code, _, err = run_cli(capsys, "shadow", "--emulate", "--duration", "0.05", "--db", url,
                           "--json")  # fmt: skip
    assert code == 0, err
    assert main(["--db", url]) == 1  # the run finished: nothing is recording
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET status = 'running', heartbeat_unix = ? WHERE source = "
                     "'twin'", (time.time(),))  # fmt: skip
    assert main(["--db", url]) == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET heartbeat_unix = ? WHERE source = 'twin'",
                     (time.time() - 120,))  # fmt: skip
    assert main(["--db", url, "--max-age-s", "60"]) == 1
    assert "last heartbeat" in capsys.readouterr().err
