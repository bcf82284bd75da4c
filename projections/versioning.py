"""What a read model declares about itself: its name and the version of its rows.

A read model's ``version`` says which code made its stored rows. Whoever changes
what a read model stores — a field added, a figure computed differently, the
shape of its key — raises its version by one, and nothing else: the next process
that projects (the API's projector, the worker, a CLI command that reads) finds
the stored version behind the code's and replaces the read models with a replay
of the log (`projections.runner.Projector`), recording the new versions in the
same transaction. The rows themselves are never migrated in place: a replay is
the one way they are made, so it is the one way they are remade.

This module imports nothing of the project, so every read model's module can
declare itself without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ReadModel", "newer_versions", "version_changes"]


@dataclass(frozen=True)
class ReadModel:
    """One read model: its table is ``proj_<name>``; ``version`` is that of the
    code that makes its rows (a positive integer, raised by one per change)."""

    name: str
    version: int
    about: str = ""

    def __post_init__(self) -> None:
        assert self.name.isidentifier(), self.name
        assert self.name.islower(), self.name
        assert self.version >= 1, self.version


def version_changes(stored: Mapping[str, int], current: Mapping[str, int]) -> list[str]:
    """How the stored versions differ from the code's, one phrase per read model
    (``"statements 1 -> 2"``, ``"reps none -> 1"``); empty when none do. A read
    model the code no longer declares is not a change: its table is left alone."""
    return [
        f"{name} {stored.get(name, 'none')} -> {version}"
        for name, version in sorted(current.items())
        if stored.get(name) != version
    ]


def newer_versions(stored: Mapping[str, int], current: Mapping[str, int]) -> list[str]:
    """The read models whose stored version is ahead of the code's, one phrase each
    (``"statements 15, this code's 14"``): rows made by newer code. A read model
    the code does not declare is not among them: its table is left alone."""
    return [
        f"{name} {stored[name]}, this code's {version}"
        for name, version in sorted(current.items())
        if stored.get(name, 0) > version
    ]
