"""docker-compose.yml stays honest: no Docker engine runs here, so parse it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


class TestCompose:
    def test_it_runs_postgres_the_api_and_a_worker(self) -> None:
        services = _compose()["services"]
        assert set(services) == {"postgres", "api", "worker"}
        assert services["postgres"]["image"].startswith("postgres:15")

    def test_every_service_has_a_health_check(self) -> None:
        for name, service in _compose()["services"].items():
            assert "healthcheck" in service, name
            assert service["healthcheck"]["test"], name

    def test_data_lives_on_a_named_volume(self) -> None:
        compose = _compose()
        assert "pgdata" in compose["volumes"]
        assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]

    def test_the_ledger_waits_for_a_healthy_database(self) -> None:
        services = _compose()["services"]
        for name in ("api", "worker"):
            assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"

    def test_environment_names_are_real_settings(self) -> None:
        """Every LEDGER_* variable the compose file sets is one Settings reads."""
        known = {f"LEDGER_{name.upper()}" for name in Settings.model_fields}
        for name in ("api", "worker"):
            env = _compose()["services"][name]["environment"]
            ledger_vars = {k for k in env if k.startswith("LEDGER_")}
            assert ledger_vars, name
            assert ledger_vars <= known, ledger_vars - known
            assert env["LEDGER_DATABASE_URL"].startswith("postgresql://")

    def test_commands_are_real_cli_commands(self) -> None:
        """The api and worker run commands the CLI has (and the database URL matches)."""
        from typer.main import get_command

        from cli import app

        group: Any = get_command(app)
        for name in ("api", "worker"):
            command = _compose()["services"][name]["command"]
            assert command[0] == "incentive-ledger"
            assert command[1] in group.commands, command
        dsn = _compose()["services"]["api"]["environment"]["LEDGER_DATABASE_URL"]
        assert re.match(r"postgresql://ledger:.*@postgres:5432/ledger$", dsn)
