"""Subjects of maker-checker approval (SPEC §2 "Approvals")."""

from __future__ import annotations

from typing import Protocol

from ledger.domain import Receipt

__all__ = ["Subject"]


class Subject(Protocol):
    """Something an ``ApprovalGranted``/``ApprovalRejected`` can decide on."""

    recorded: Receipt

    @property
    def needs_approval(self) -> bool: ...

    @property
    def subject_label(self) -> str: ...
