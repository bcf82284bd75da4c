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
    "BrokenChainError",
    "ConflictError",
    "InvalidInputError",
    "LedgerError",
    "LineError",
    "NotFoundError",
    "SelfApprovalError",
    "StoreUnavailableError",
    "TamperedStatementError",
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


class BrokenChainError(LedgerError):
    """SPEC §6: the audit chain is broken, so no payout step may run on it.

    A conflict with the stored state (HTTP 409), not a natural-key conflict:
    deliberately not a `ConflictError`, which callers take for "already stored".
    """

    status = "conflict"

    def __init__(self, position: int, reason: str, *, action: str = "payouts are refused") -> None:
        self.position = position
        super().__init__(
            f"the audit chain is broken at position {position} ({reason}); {action} "
            "until it is repaired (`incentive-ledger verify` tells what it found)",
            field="chain",
        )


class TamperedStatementError(LedgerError):
    """SPEC §4: a paid statement whose bytes no longer hash to the SHA-256
    recorded in its run's `PayoutCalculated` (or whose recorded event no longer
    matches its chain link) is not served. Names the run."""

    status = "conflict"

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"the paid statement of payout run {run_id} is not served: {reason}",
            field="run_id",
        )


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
