"""Packaging: the lock files, the licence, the type markers, --version, and the
dependency audit that runs where its data is reachable (issue 22, acceptance 4)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from cli import app
from tests.builders import StandIn, free_port, serving

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGES = ("ledger", "policies", "projections", "service", "presentation", "demo", "api")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?: ;[^\\]*)? \\$")


def _pins(lock: str) -> dict[str, str]:
    """name -> version of every requirement in a lock file, each checked to carry hashes."""
    lines = (ROOT / lock).read_text(encoding="utf-8").splitlines()
    pins: dict[str, str] = {}
    for i, line in enumerate(lines):
        if not line or line.startswith((" ", "#")):
            continue
        match = _PIN.match(line)
        assert match, f"{lock}:{i + 1}: not an exact pin with hashes: {line!r}"
        assert lines[i + 1].strip().startswith("--hash=sha256:"), f"{lock}:{i + 1}: no hash"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _requirements(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    listed = list(project["dependencies"])
    for extra in extras:
        listed += project["optional-dependencies"][extra]
    return [Requirement(r) for r in listed]


class TestLockFiles:
    @pytest.mark.parametrize(
        ("lock", "extras"), [("requirements.txt", ()), ("requirements-dev.txt", ("dev",))]
    )
    def test_every_dependency_is_pinned_within_its_range(
        self, lock: str, extras: tuple[str, ...]
    ) -> None:
        """Each dependency pyproject.toml names is in the lock, at a version its range
        allows (a stale lock after a change of pyproject.toml fails here)."""
        pins = _pins(lock)
        for requirement in _requirements(*extras):
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{requirement} is not in {lock}: run make lock"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"{lock} pins {name}=={pins[name]} outside {requirement.specifier}: run make lock"
            )

    def test_the_dev_lock_keeps_every_runtime_pin(self) -> None:
        """The two locks never disagree: the dev one is compiled within the runtime pins."""
        runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
        assert {n: dev.get(n) for n in runtime} == runtime

    def test_the_locks_say_how_to_refresh_them(self) -> None:
        for lock in ("requirements.txt", "requirements-dev.txt"):
            head = (ROOT / lock).read_text(encoding="utf-8").splitlines()[:2]
            assert head[1].strip() == "#    make lock", head

    def test_make_and_ci_install_from_the_lock(self) -> None:
        """make install: the locked versions with their hashes, then the project alone;
        .ci/run uses it, audits, and runs the tests as the README says."""
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        install = makefile.split("\ninstall:\n", 1)[1].split("\n\n", 1)[0]
        assert "pip install -q --require-hashes --no-deps -r requirements-dev.txt" in install
        assert "pip install -q --no-deps -e ." in install
        ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        steps = [line for line in ci if line.startswith("make ")]
        assert steps[:2] == ["make install", "make audit"]
        assert steps[-1].startswith("make test")


class TestDistribution:
    def test_the_licence_is_apache_2_0_as_an_spdx_expression(self) -> None:
        """license = "Apache-2.0" with license-files (PEP 639; the table form stops
        working in setuptools in February 2027), built by a setuptools that reads it."""
        project = PYPROJECT["project"]
        assert project["license"] == "Apache-2.0"
        assert project["license-files"] == ["LICENSE"]
        text = (ROOT / "LICENSE").read_text(encoding="utf-8")
        assert "Apache License\n                           Version 2.0, January 2004" in text
        assert "END OF TERMS AND CONDITIONS" in text
        (backend,) = PYPROJECT["build-system"]["requires"]
        assert Requirement(backend).specifier.contains("77.0.0")
        assert not Requirement(backend).specifier.contains("76.9")

    def test_the_installed_metadata_carries_the_expression(self) -> None:
        """What the build wrote (make install builds it from pyproject.toml)."""
        meta = metadata.metadata("incentive-ledger")
        assert meta["License-Expression"] == "Apache-2.0"
        assert "LICENSE" in (meta.get_all("License-File") or [])

    @pytest.mark.parametrize("package", PACKAGES)
    def test_each_package_is_marked_typed(self, package: str) -> None:
        """PEP 561: py.typed in every shipped package, declared as package data."""
        assert resources.files(package).joinpath("py.typed").is_file()
        assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["*"]

    def test_the_shipped_packages_are_these(self) -> None:
        found = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
        assert sorted(p.rstrip("*") for p in found) == sorted(PACKAGES)

    def test_version(self) -> None:
        """`incentive-ledger --version` prints the installed package's version (SPEC §5)."""
        result = CliRunner().invoke(app, ["--version"])
        assert result.exit_code == 0, result.output
        assert result.output == f"incentive-ledger {metadata.version('incentive-ledger')}\n"
        assert metadata.version("incentive-ledger") == PYPROJECT["project"]["version"]


class _Osv(StandIn):
    """A stand-in OSV service: one advisory for the package named ``vulnerable``."""

    vulnerable = ""

    def do_POST(self) -> None:  # noqa: N802 (the handler method's own name)
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name, version = query["package"]["name"], query["version"]
        answer: dict[str, Any] = {}
        if name == self.vulnerable:
            answer = {
                "vulns": [
                    {
                        "id": "GHSA-test-0001",
                        "summary": "a test advisory",
                        "details": "a test advisory",
                        "aliases": [],
                        "affected": [
                            {
                                "package": {"name": name, "ecosystem": "PyPI"},
                                "versions": [version],
                                "ranges": [
                                    {
                                        "type": "ECOSYSTEM",
                                        "events": [{"introduced": "0"}, {"fixed": "9999"}],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        self.answer_json(200, json.dumps(answer).encode())


@pytest.fixture
def osv() -> Iterator[tuple[str, type[_Osv]]]:
    with serving(_Osv, "/v1/query") as served:
        yield served


@pytest.fixture
def small_lock(tmp_path: Path) -> Path:
    """Three pins of the real lock, hashes and all (a whole lock takes longer to audit)."""
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    blocks = re.findall(
        r"^(?:fastapi|orjson|structlog)==.*?(?=^\S)", text, re.MULTILINE | re.DOTALL
    )
    assert len(blocks) == 3
    path = tmp_path / "requirements.txt"
    path.write_text("".join(blocks), encoding="utf-8")
    return path


def _audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "audit.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


class TestAudit:
    def test_no_reachable_data_is_a_skip_that_says_so(self, small_lock: Path) -> None:
        """Nothing answers: exit 0, and the output says nothing was audited, and why."""
        closed = f"http://127.0.0.1:{free_port()}/v1/query"
        result = _audit(str(small_lock), "--osv-url", closed)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("audit: SKIPPED, pip-audit's vulnerability data is not")
        assert "(nothing was audited)" in result.stdout
        assert closed in result.stdout

    def test_reachable_data_runs_pip_audit_and_passes_a_clean_lock(
        self, small_lock: Path, osv: tuple[str, type[_Osv]]
    ) -> None:
        url, _ = osv
        result = _audit(str(small_lock), "--osv-url", url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"audit: {small_lock} against osv" in result.stdout
        assert "No known vulnerabilities found" in result.stdout + result.stderr

    def test_a_known_vulnerability_fails_the_audit(
        self, small_lock: Path, osv: tuple[str, type[_Osv]]
    ) -> None:
        url, handler = osv
        handler.vulnerable = "orjson"
        result = _audit(str(small_lock), "--osv-url", url)
        assert result.returncode == 1
        assert "GHSA-test-0001" in result.stdout
        assert "orjson" in result.stdout
