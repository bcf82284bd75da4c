"""docker-compose.yml, the Dockerfile and .dockerignore stay honest: no Docker
engine runs here, so each deployment rule is checked on the parsed files (issue
22, acceptance 3). Where a Compose binary is installed, it validates the file too.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.settings import SECRET_FILE_SETTINGS, Settings
from ledger.storage import parse_postgres_url

ROOT = Path(__file__).resolve().parent.parent
LEDGER_SERVICES = ("api", "worker")
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}")


def _interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``."""

    def value(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if kind == "?":
            pytest.fail(f"${{{name}}} is required: {rest}")
        return rest or ""

    return _INTERPOLATION.sub(value, text)


def _raw() -> str:
    return (ROOT / "docker-compose.yml").read_text(encoding="utf-8")


def _compose(**variables: str) -> dict[str, Any]:
    loaded = yaml.safe_load(_interpolate(_raw(), variables))
    assert isinstance(loaded, dict)
    return loaded


def _services(**variables: str) -> dict[str, Any]:
    services = _compose(**variables)["services"]
    assert isinstance(services, dict)
    return services


def _published_host_ips(service: dict[str, Any]) -> list[str]:
    """The host address of each published port (short syntax HOST:PORT:PORT)."""
    ips = []
    for entry in service.get("ports", []):
        parts = str(entry).rsplit(":", 2)
        assert len(parts) == 3, f"{entry!r} publishes on every interface: name a host address"
        ips.append(parts[0])
    return ips


class TestCompose:
    def test_it_runs_postgres_the_api_and_a_worker(self) -> None:
        """Three services, the two ledger ones built from this repository."""
        services = _services()
        assert set(services) == {"postgres", "api", "worker"}
        for name in LEDGER_SERVICES:
            assert services[name]["build"] == "."

    def test_postgres_is_pinned_to_a_minor_release(self) -> None:
        """postgres:15.N, not postgres:15 (which moves under a running deployment)."""
        image = _services()["postgres"]["image"]
        assert re.fullmatch(r"postgres:15\.\d+(-[a-z0-9]+)?", image), image

    def test_the_api_is_published_on_loopback_only_by_default(self) -> None:
        """Only the API publishes a port, on 127.0.0.1 unless API_BIND_ADDRESS says otherwise."""
        services = _services()
        assert _published_host_ips(services["api"]) == ["127.0.0.1"]
        assert "ports" not in services["postgres"]
        assert "ports" not in services["worker"]
        moved = _services(API_BIND_ADDRESS="0.0.0.0", API_PORT="9000")
        assert moved["api"]["ports"] == ["0.0.0.0:9000:8000"]

    def test_no_password_or_key_has_a_default(self) -> None:
        """No ${SECRET:-default}, no literal password, no password in a URL."""
        for match in _INTERPOLATION.finditer(_raw()):
            name, kind = match.group(1), match.group(2)
            if kind == "-" and not name.endswith(("_DIR", "_FILE")):  # a place, not a value
                assert not re.search(r"PASSWORD|SECRET|KEY|TOKEN", name, re.IGNORECASE), name
        services = _services()
        assert "POSTGRES_PASSWORD" not in services["postgres"]["environment"]
        for name in LEDGER_SERVICES:
            env = services[name]["environment"]
            assert parse_postgres_url(env["LEDGER_DATABASE_URL"]).password == ""
            for key in ("LEDGER_DATABASE_PASSWORD", "LEDGER_TOKEN_SECRET", "LEDGER_CHAIN_KEY"):
                assert key not in env, f"{name}: {key} in the environment; use {key}_FILE"

    def test_secrets_come_from_files_mounted_where_the_settings_look(self) -> None:
        """Every *_FILE setting points at /run/secrets/NAME of a secret the service mounts,
        and every secret is a file (no default content, no inline value)."""
        compose = _compose()
        secrets = compose["secrets"]
        for secret in secrets.values():
            assert set(secret) == {"file"}, secret
        for name, service in compose["services"].items():
            mounted = set(service.get("secrets", []))
            assert mounted <= set(secrets), name
            files = {k: v for k, v in service["environment"].items() if k.endswith("_FILE")}
            for key, path in files.items():
                assert path.startswith("/run/secrets/"), (name, key)
                assert path.removeprefix("/run/secrets/") in mounted, (name, key)
        postgres = compose["services"]["postgres"]["environment"]
        api = compose["services"]["api"]["environment"]
        assert postgres["POSTGRES_PASSWORD_FILE"] == api["LEDGER_DATABASE_PASSWORD_FILE"]
        ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
        assert {"secrets/", ".env"} <= set(ignored), "secret files must never be committed"

    def test_the_ledger_services_run_under_an_init(self) -> None:
        """init: true, so SIGTERM reaches the process (a PID 1 without a handler ignores it)."""
        services = _services()
        for name in LEDGER_SERVICES:
            assert services[name]["init"] is True, name

    def test_every_service_has_a_health_check_that_says_why(self) -> None:
        """pg_isready over TCP and not quiet; the API's probe; the worker's project --check."""
        services = _services()
        postgres = services["postgres"]["healthcheck"]["test"]
        assert postgres[:2] == ["CMD", "pg_isready"]
        assert "--host=127.0.0.1" in postgres  # not the socket the init-time server listens on
        assert not {"-q", "--quiet"} & set(postgres)  # quiet would hide the reason
        api = services["api"]["healthcheck"]["test"]
        assert api[:4] == ["CMD", "python", "-m", "api.healthcheck"]
        assert api[4].endswith(":8000/health")
        worker = services["worker"]["healthcheck"]["test"]
        assert worker == ["CMD", "incentive-ledger", "project", "--check"]
        for name, service in services.items():
            check = service["healthcheck"]
            assert {"interval", "timeout", "retries"} <= set(check), name

    def test_the_api_probe_is_a_module_the_image_ships(self) -> None:
        """The health check's module exists in a package the Dockerfile copies."""
        import api.healthcheck

        assert callable(api.healthcheck.main)

    def test_data_lives_on_a_named_volume(self) -> None:
        compose = _compose()
        assert "pgdata" in compose["volumes"]
        assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]

    def test_the_ledger_waits_for_a_healthy_database(self) -> None:
        services = _services()
        for name in LEDGER_SERVICES:
            assert services[name]["depends_on"] == {"postgres": {"condition": "service_healthy"}}

    def test_nothing_compose_v1_lacks(self) -> None:
        """docker-compose 1.27+ reads the file: no top-level name/version/include, no
        health-check start_interval, no depends_on restart/required."""
        compose = _compose()
        assert set(compose) <= {"services", "volumes", "secrets", "networks", "configs"}
        for name, service in compose["services"].items():
            assert "start_interval" not in service.get("healthcheck", {}), name
            for condition in service.get("depends_on", {}).values():
                assert set(condition) == {"condition"}, name

    def test_environment_names_are_real_settings(self) -> None:
        """Every LEDGER_* variable the compose file sets is one Settings reads."""
        known = {f"LEDGER_{name.upper()}" for name in Settings.model_fields}
        for name in LEDGER_SERVICES:
            env = _services()[name]["environment"]
            ledger_vars = {k for k in env if k.startswith("LEDGER_")}
            assert ledger_vars, name
            assert ledger_vars <= known, ledger_vars - known
            assert env["LEDGER_DATABASE_URL"].startswith("postgresql://")
        for name in SECRET_FILE_SETTINGS:
            assert f"{name}_file" in Settings.model_fields, name

    def test_the_settings_read_what_compose_hands_over(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The API's environment, with its secret files, makes valid settings, and
        the password file completes the URL."""
        for key in [k for k in os.environ if k.startswith("LEDGER_")]:
            monkeypatch.delenv(key)
        env = dict(_services()["api"]["environment"])
        for key, path in list(env.items()):
            if key.endswith("_FILE"):
                local = tmp_path / Path(path).name
                local.write_text(f"{Path(path).name}-0123456789abcdef\n", encoding="utf-8")
                env[key] = str(local)
        fields = {k.removeprefix("LEDGER_").lower(): v for k, v in env.items()}
        settings = Settings(**fields)
        url = parse_postgres_url(settings.database_url)
        assert url.password == "postgres_password-0123456789abcdef"
        assert url.libpq["application_name"] == "ledger-api"
        assert settings.api_projector is False
        assert settings.token_secret is not None
        assert settings.chain_key is not None

    def test_commands_are_real_cli_commands(self) -> None:
        """The api and worker run commands the CLI has."""
        from typer.main import get_command

        from cli import app

        group: Any = get_command(app)
        for name in LEDGER_SERVICES:
            command = _services()[name]["command"]
            assert command[0] == "incentive-ledger"
            assert command[1] in group.commands, command

    @pytest.mark.parametrize("binary", [("docker", "compose"), ("docker-compose",)])
    def test_compose_itself_accepts_the_file(self, binary: tuple[str, ...], tmp_path: Path) -> None:
        """`docker compose config` (v2) and `docker-compose config` (v1) validate the
        file without an engine, where they are installed."""
        if shutil.which(binary[0]) is None:
            pytest.skip(f"{' '.join(binary)} is not installed")
        probe = subprocess.run([*binary, "version"], capture_output=True, check=False)
        if probe.returncode != 0:
            pytest.skip(f"{' '.join(binary)} is not installed")
        for name in ("postgres_password", "token_secret", "chain_key"):
            (tmp_path / name).write_text("not-a-real-secret\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in {"API_BIND_ADDRESS", "API_PORT"}}
        env["SECRETS_DIR"] = str(tmp_path)
        command = [*binary, "--file", str(ROOT / "docker-compose.yml"), "config", "--quiet"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", text)
    steps = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            steps.append((keyword.upper(), " ".join(rest.split())))
    return steps


def _index(steps: list[tuple[str, str]], keyword: str, pattern: str) -> int:
    for i, (kw, args) in enumerate(steps):
        if kw == keyword and re.search(pattern, args):
            return i
    pytest.fail(f"no {keyword} matching {pattern!r} in the Dockerfile")


class TestDockerfile:
    def test_dependencies_are_installed_from_the_lock_before_the_source_is_copied(self) -> None:
        """The dependency layer depends on requirements.txt alone, so it survives code changes."""
        steps = _instructions()
        copy_lock = _index(steps, "COPY", r"^requirements\.txt \S+$")
        install_lock = _index(steps, "RUN", r"pip install .*--require-hashes.*-r requirements\.txt")
        first_source = _index(steps, "COPY", r"\b(ledger|cli\.py|pyproject\.toml)\b")
        install_self = _index(steps, "RUN", r"pip install --no-deps \.")
        assert copy_lock < install_lock < first_source < install_self
        assert "--no-deps" in steps[install_lock][1]  # the lock is complete: nothing resolved
        between = steps[copy_lock + 1 : install_lock]
        assert all(kw != "COPY" for kw, _ in between)

    def test_it_runs_as_a_non_root_user(self) -> None:
        """The last USER, before CMD, is the numeric id of a user the image creates."""
        steps = _instructions()
        users = [i for i, (kw, _) in enumerate(steps) if kw == "USER"]
        assert users, "no USER: the container would run as root"
        user = steps[users[-1]][1]
        uid = user.split(":")[0]
        assert uid not in {"root", "0"}, user
        assert uid.isdigit(), "numeric, so that runAsNonRoot can check it"
        assert re.search(rf"useradd .*--uid {uid}\b", " ".join(a for _, a in steps))
        assert users[-1] < _index(steps, "CMD", r"incentive-ledger")

    def test_it_has_a_health_check(self) -> None:
        steps = _instructions()
        check = steps[_index(steps, "HEALTHCHECK", r"CMD")][1]
        assert "api.healthcheck" in check
        assert "--timeout=" in check
        assert "--interval=" in check

    def test_the_base_image_is_pinned_to_python_3_11(self) -> None:
        steps = _instructions()
        base = steps[_index(steps, "FROM", r"python")][1]
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-[a-z]+)?", base), base

    def test_everything_it_copies_is_in_the_build_context(self) -> None:
        """.dockerignore lets in every COPY source (else the build fails)."""
        for kw, args in _instructions():
            if kw == "COPY" and not args.startswith("--from"):
                for source in args.split()[:-1]:
                    assert (ROOT / source).exists(), source
                    assert not _ignored(source), source
                    if (ROOT / source).is_dir():
                        assert not _ignored(f"{source}/__init__.py"), source


def _ignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context: the last
    matching pattern wins, ``!`` lets back in, a matched directory takes its
    contents along (Docker's rules, for the patterns this file uses)."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = raw.removeprefix("!").strip("/")
        candidates = {pattern, pattern.removeprefix("**/")}
        if any(_match(prefix, c) for prefix in prefixes for c in candidates):
            ignored = not negated
    return ignored


def _match(path: str, pattern: str) -> bool:
    """fnmatch where ``*`` stays within one path segment, as in Go's filepath.Match."""
    if "**" in pattern:
        return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(
            path.rsplit("/", 1)[-1], pattern.rsplit("/", 1)[-1]
        )
    if path.count("/") != pattern.count("/"):
        return False
    return fnmatch.fnmatchcase(path, pattern)


class TestDockerignore:
    @pytest.mark.parametrize(
        "path",
        [
            ".venv/bin/python",
            ".git/HEAD",
            ".env",
            "secrets/postgres_password",
            "ledger.db",
            "ledger.db-wal",
            "tests/conftest.py",
            "tests/api/__init__.py",
            "samples/q3-events.jsonl",
            "bench/out/report.json",
            "ledger/__pycache__/storage.cpython-311.pyc",
            "api/__pycache__/app.cpython-311.pyc",
            "ledger/stray.db",
            ".mypy_cache/3.11/cache.db",
            ".pytest_cache/v/cache",
            "incentive_ledger.egg-info/PKG-INFO",
            "build/lib/ledger/storage.py",
            "docker-compose.yml",
        ],
    )
    def test_it_keeps_out(self, path: str) -> None:
        """Nothing local, secret, or only for development reaches the image."""
        assert _ignored(path), path

    @pytest.mark.parametrize(
        "path",
        [
            "requirements.txt",
            "pyproject.toml",
            "README.md",
            "LICENSE",
            "cli.py",
            "ledger/storage.py",
            "ledger/backends/postgres.py",
            "ledger/py.typed",
            "policies/plan.py",
            "projections/runner.py",
            "api/routes/audit.py",
            "api/healthcheck.py",
        ],
    )
    def test_it_lets_in(self, path: str) -> None:
        assert not _ignored(path), path
