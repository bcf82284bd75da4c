"""The event store library is used through its public API only.

That is what lets pyproject.toml allow any 9.x release (``<10``) rather than
pinning below the next minor one: a protected method or attribute of the
library (``_create``, ``_insert_tracking``, a pool's ``_writer_lock``) can change
in any release. This test reads the library's source for the underscored names
it defines, and ours for attribute accesses of those names that our own code
does not define itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import eventsourcing
from packaging.requirements import Requirement

from tests.test_packaging import PYPROJECT

ROOT = Path(__file__).resolve().parent.parent
OURS = ("ledger", "policies", "projections", "service", "presentation", "demo", "api")


def _sources(*roots: Path) -> list[Path]:
    return [p for root in roots for p in sorted(root.rglob("*.py"))]


def _private_names_defined(paths: list[Path]) -> set[str]:
    """``_name``s a module defines: functions, methods, ``self._name =`` attributes."""
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_no_protected_name_of_the_library_is_used() -> None:
    library = _private_names_defined(_sources(Path(eventsourcing.__file__).parent))
    ours_paths = _sources(*(ROOT / name for name in OURS), ROOT / "cli.py")
    ours = _private_names_defined(ours_paths)
    used: list[str] = []
    for path in ours_paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used += [
            f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in library and node.attr not in ours
        ]
    assert used == []


def test_the_scan_knows_the_protected_names_it_looks_for() -> None:
    """The scan itself: the names this round stopped using are among those it reads."""
    library = _private_names_defined(_sources(Path(eventsourcing.__file__).parent))
    assert {"_create", "_insert_tracking", "_writer_lock", "_lock_table"} <= library


def test_the_library_is_allowed_up_to_its_next_major_release() -> None:
    (spec,) = [
        Requirement(r)
        for r in PYPROJECT["project"]["dependencies"]
        if Requirement(r).name == "eventsourcing"
    ]
    assert spec.specifier.contains("9.9.0")
    assert not spec.specifier.contains("10.0.0")
    assert not spec.specifier.contains("9.5.5")
