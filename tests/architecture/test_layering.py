"""Imports flow one way: edges (api, cli) -> service -> projections -> ledger -> policies.

The core (`ledger/`, `policies/`) knows nothing of HTTP, logging or the process
environment, and only the backends speak to PostgreSQL; the edges never build
an event: they call a use case (`service`, `Reports`, `Ledger`) once.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.catalogue import EVENT_TYPES
from tests.architecture.source import ROOT, relative, source_files, tree_of

_CORE = ("ledger/", "policies/")
_EDGES = ("api/", "cli.py")
# What the core may not import, wherever it is: the edges' libraries.
_NOT_IN_CORE = ("fastapi", "starlette", "uvicorn", "structlog", "typer", "rich")
# The layers above each package: it may import none of them.
_ABOVE = {
    "policies/": ("ledger", "projections", "service", "presentation", "demo", "api", "cli"),
    "ledger/": ("projections", "service", "presentation", "demo", "api", "cli"),
    "projections/": ("service", "presentation", "demo", "api", "cli"),
    "service/": ("presentation", "demo", "api", "cli"),
    # Beside the edges: words for the terminal and the API, and the demo's quarter.
    "presentation/": ("demo", "api", "cli"),
    "demo/": ("presentation", "api", "cli"),
}


def _imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


def _top(module: str) -> str:
    return module.partition(".")[0]


def _files(*prefixes: str) -> list[Path]:
    return [p for p in source_files() if relative(p).startswith(prefixes)]


@pytest.mark.parametrize("path", _files(*_CORE), ids=relative)
def test_the_core_imports_no_edge_library(path: Path) -> None:
    bad = [
        f"{line}: {module}"
        for line, module in _imports(tree_of(path))
        if _top(module) in _NOT_IN_CORE
    ]
    assert bad == []


@pytest.mark.parametrize("path", _files(*_CORE), ids=relative)
def test_only_the_backends_speak_to_postgresql(path: Path) -> None:
    if relative(path).startswith("ledger/backends/"):
        return
    bad = [f"{line}: {m}" for line, m in _imports(tree_of(path)) if _top(m) == "psycopg"]
    assert bad == []


@pytest.mark.parametrize("path", _files(*_CORE), ids=relative)
def test_the_core_reads_no_process_environment(path: Path) -> None:
    """Settings come in as arguments (`api.settings` reads the environment)."""
    bad = [
        node.lineno
        for node in ast.walk(tree_of(path))
        if (isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"})
    ]
    assert bad == []


@pytest.mark.parametrize("layer", sorted(_ABOVE))
def test_no_layer_imports_one_above_it(layer: str) -> None:
    above = _ABOVE[layer]
    bad = [
        f"{relative(path)}:{line}: {module}"
        for path in _files(layer)
        for line, module in _imports(tree_of(path))
        if _top(module) in above
    ]
    assert bad == []


@pytest.mark.parametrize("path", _files(*_EDGES), ids=relative)
def test_the_edges_build_no_event(path: Path) -> None:
    """No route or CLI command builds an event input model (or calls
    `make_event`): deciding what to record is a use case's job."""
    builders = {*EVENT_TYPES, "make_event", "parse_event"}
    bad: list[str] = []
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in builders:
                bad.append(f"{node.lineno}: calls {name}")
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.ImportFrom) and node.module == "ledger.events":
            bad.extend(f"{node.lineno}: imports {a.name}" for a in node.names if a.name in builders)
    assert bad == []


def test_the_layers_are_the_packages_shipped() -> None:
    """The table above covers every package (a new one needs a place in it)."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert {layer.rstrip("/") for layer in _ABOVE} | {"api"} == packages
