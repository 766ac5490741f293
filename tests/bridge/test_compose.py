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
