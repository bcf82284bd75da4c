"""Every error the ledger raises, each stating its reason and, where one is to
blame, the input field.

The API maps these to HTTP statuses in one place (`api/errors.py`); the CLI
prints them. Nothing here knows about either.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AlreadyDecidedError",
    "BatchRejectedError",
    "ConflictError",
    "InvalidInputError",
    "LedgerError",
    "LineError",
    "NotFoundError",
    "SelfApprovalError",
    "StoreUnavailableError",
    "TooLargeError",
    "UnknownReferenceError",
]


class LedgerError(Exception):
    """Base of every ledger error: a reason, and the field it is about."""

    status = "invalid"

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


class InvalidInputError(LedgerError):
    """The input breaks a rule of the contract (SPEC §2, §7)."""


class UnknownReferenceError(InvalidInputError):
    """The input names a rep, sale, case, subject, run or plan the ledger lacks."""


class ConflictError(LedgerError):
    """The input contradicts what is stored (a natural key with other content)."""

    status = "conflict"


class SelfApprovalError(ConflictError):
    """Maker-checker: the approver recorded the subject themselves."""


class AlreadyDecidedError(ConflictError):
    """A subject takes one decision; this one has it already."""


class StoreUnavailableError(LedgerError):
    """The store could not be reached reliably; nothing was stored."""

    status = "unavailable"


class TooLargeError(LedgerError):
    """The input is over a limit of the edge (SPEC §7: too many events at once)."""

    status = "too_large"


class NotFoundError(LedgerError):
    """The thing asked for does not exist (or is not the caller's to see)."""

    status = "not_found"


@dataclass(frozen=True)
class LineError:
    """One bad input in a batch: its 1-based line number, field and reason."""

    line: int
    field: str | None
    reason: str
    status: str = "invalid"

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.reason}"


class BatchRejectedError(LedgerError):
    """A batch (an import file, a POST of a list) had bad inputs; none was stored."""

    def __init__(self, errors: list[LineError]) -> None:
        assert errors, "a rejected batch names at least one bad input"
        self.errors = errors
        statuses = {e.status for e in errors}
        self.status = "conflict" if statuses == {"conflict"} else "invalid"
        first = errors[0]
        summary = f"{len(errors)} bad input(s); nothing was stored. First: {first}"
        super().__init__(summary, field=first.field)
