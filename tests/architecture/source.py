"""Reading the project's own source as syntax trees, for the architecture tests."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from ledger.catalogue import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
# The shipped code, and the tools beside it (bench/); not the tests.
SOURCE_DIRS = ("ledger", "policies", "projections", "service", "api", "bench")
SOURCE_FILES = ("cli.py",)
_EVENT_NAMES = frozenset(EVENT_TYPES)


def source_files() -> list[Path]:
    files = [ROOT / name for name in SOURCE_FILES]
    for folder in SOURCE_DIRS:
        files.extend(sorted((ROOT / folder).rglob("*.py")))
    return files


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@cache
def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def event_name_of(node: ast.AST) -> str | None:
    """The event type a node names: the text ``"SaleRecorded"``, the name
    ``SaleRecorded`` or ``ev.SaleRecorded``, or a method named after one
    (``_on_SaleRecorded``); None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if node.value in _EVENT_NAMES else None
    if isinstance(node, ast.Name):
        return node.id if node.id in _EVENT_NAMES else None
    if isinstance(node, ast.Attribute):
        return node.attr if node.attr in _EVENT_NAMES else None
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        tail = node.name.rpartition("_")[2]
        return tail if tail in _EVENT_NAMES else None
    return None


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of docstring nodes: prose, not code."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                found.add(id(body[0].value))
    return found


def event_mentions(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, event type) of every place the code (not its prose) names an event type."""
    prose = _docstrings(tree)
    for node in ast.walk(tree):
        if id(node) in prose:
            continue
        name = event_name_of(node)
        if name is not None:
            yield getattr(node, "lineno", 0), name


def _is_all(node: ast.AST) -> bool:
    """``__all__ = [...]``: the names a module exports, not a list of event types."""
    return isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
    )


def _union_members(node: ast.BinOp) -> list[ast.AST]:
    members: list[ast.AST] = []
    for side in (node.left, node.right):
        if isinstance(side, ast.BinOp) and isinstance(side.op, ast.BitOr):
            members.extend(_union_members(side))
        else:
            members.append(side)
    return members


def event_lists(tree: ast.Module, *, at_least: int = 3) -> Iterator[tuple[int, list[str]]]:
    """(line, names) of every literal that lists ``at_least`` event types: a
    tuple, list, set, dict (its keys or its values) or a union ``A | B | C``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if _is_all(node):
            skipped.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        groups: list[list[ast.AST]] = []
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            groups.append(list(node.elts))
        elif isinstance(node, ast.Dict):
            groups.append([k for k in node.keys if k is not None])
            groups.append(list(node.values))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            groups.append(_union_members(node))
        for group in groups:
            names = [n for n in map(event_name_of, group) if n is not None]
            if len(set(names)) >= at_least:
                yield node.lineno, names
