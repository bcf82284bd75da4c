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

__all__ = ["RETIRED", "ReadModel", "newer_versions", "unknown_models", "version_changes"]

# The read models this project once made and no longer does: their tables are
# left alone, and a stored version of one is not a newer process's. A read model
# removed from the code is named here in the same change; any other stored name
# this code does not make is a newer release's read model (`unknown_models`).
RETIRED: frozenset[str] = frozenset()


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
    (``"statements 15, this code's 14"``), and those stored that the code does not
    make (`unknown_models`): rows made by newer code."""
    ahead = [
        f"{name} {stored[name]}, this code's {version}"
        for name, version in sorted(current.items())
        if stored.get(name, 0) > version
    ]
    unknown = [
        f"{name} {stored[name]}, which this code does not make"
        for name in unknown_models(stored, current)
    ]
    return ahead + unknown


def unknown_models(stored: Mapping[str, int], current: Mapping[str, int]) -> list[str]:
    """The stored read models neither made by this code nor `RETIRED`: a newer
    release's. This code's batches would leave them behind the log — the newer
    process, finding its version stored, would go on from this code's position,
    the events between missing from its rows for good — so this code refuses to
    project beside them, as it does beside a newer version of its own."""
    return [name for name in sorted(stored) if name not in current and name not in RETIRED]
