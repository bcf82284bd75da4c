"""Every error the ledger raises, each stating its reason and, where one is to
blame, the input field.

The API maps these to HTTP statuses in one place (`api/errors.py`); the CLI
prints them. Nothing here knows about either.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

__all__ = [
    "AlreadyDecidedError",
    "BatchRejectedError",
    "BrokenChainError",
    "ChainLinksError",
    "ChainModeError",
    "ConflictError",
    "InvalidInputError",
    "KeyConflictError",
    "LedgerError",
    "LineError",
    "NotFoundError",
    "RejectedError",
    "SelfApprovalError",
    "StoreUnavailableError",
    "TamperedStatementError",
    "TooLargeError",
    "Unit",
    "UnknownReferenceError",
    "given_twice",
    "printable",
    "quoted_id",
    "shown",
    "shown_id",
    "stored_otherwise",
    "unknown_run",
]

_ID_LONGEST = 128  # SPEC §2: an id has at most 128 characters
_ID_KEPT = 64  # of a longer one (no id), what an error message quotes


def shown(text: str, *, longest: int = 40, kept: int = 20) -> str:
    """Text a user gave, as an error message may quote it: whole when it is at
    most ``longest`` characters, else its first ``kept`` with an ellipsis and
    its length — a message never echoes a 5,000-character path back whole —
    and `printable`: a message is printed on terminals."""
    cut = text if len(text) <= longest else f"{text[:kept]}...({len(text)} characters)"
    return printable(cut)


# What an error message never echoes raw of a text a file gave: control
# characters (C0, DEL, C1), the line and paragraph separators, and the
# invisible formatting ones (zero-width, direction marks, embeddings and
# overrides, isolates, the byte-order mark).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def printable(text: str) -> str:
    """``text`` as a message printed on a terminal may quote it: each control or
    invisible formatting character written as its escape (``\\x1b``,
    ``\\u202e``). A cell of a CRM export holding an escape sequence reached
    the terminal of whoever imported it — colours changed, a line
    overwritten, the window's title set — and an invisible character made
    two texts that differ ("Amount" and "Amount\\u200b") look the same."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def shown_id(value: str) -> str:
    """A user-given id as an error message echoes it (`shown`): whole when it
    can be an id (SPEC §2: at most 128 characters), else its first 64
    characters, with an ellipsis and its length."""
    return shown(value, longest=_ID_LONGEST, kept=_ID_KEPT)


def quoted_id(value: str) -> str:
    """A user-given id (a run's, a dispute's, an event's, a rep's, ...) as an
    error message quotes it: ``'R-1'`` whole when it can be an id (SPEC §2:
    at most 128 characters, so an id is never shown cut), else its first 64
    characters quoted, with an ellipsis and its length (`shown`)."""
    if len(value) <= _ID_LONGEST:
        return repr(value)
    return f"{value[:_ID_KEPT]!r}...({len(value)} characters)"


def unknown_run(run_id: str) -> str:
    """The one wording of a payout run id the ledger lacks (the CLI and the
    API, recording against it or reading it)."""
    return f"unknown payout run {quoted_id(run_id)}"


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


class KeyConflictError(ConflictError):
    """A natural key (or a fact that happens once) holds another fact:
    ``what`` names it (``sale S1``), ``against`` is that fact's content hash
    — what tells whether it was stored, or staged by an earlier input of the
    same batch (`given_twice`)."""

    def __init__(self, reason: str, *, field: str | None, what: str, against: str) -> None:
        super().__init__(reason, field=field)
        self.what = what
        self.against = against


def stored_otherwise(key: str, *, field: str, against: str, of: str = "") -> KeyConflictError:
    """The refusal of a fact whose natural key ``key`` (``payment P1``) holds
    another stored fact, of content hash ``against``: it says nothing of that
    fact but ``of`` (`` (a payment of sale S1)``), which is for the sender who
    recorded it alone (`ledger.domain.Receipt.told_to`)."""
    return KeyConflictError(
        f"{key} is already stored with other content{of}, and an id names one fact: "
        "that fact is corrected by a later event, not re-sent; another fact needs "
        "an id of its own",
        field=field,
        what=key,
        against=against,
    )


def given_twice(what: str, earlier: str, this: str, within: str) -> str:
    """The refusal of an input whose natural key an earlier input of the same
    batch (``within``: "file", "request") holds with other content: nothing
    is stored under it, so it is no conflict with a stored fact."""
    return (
        f"{what} is given twice in this {within}, at {earlier} and {this}, with other "
        "content: nothing is stored under it yet; send the one meant (another fact "
        "needs an id of its own)"
    )


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


class ChainModeError(LedgerError):
    """SPEC §6/§7: this process would extend the audit chain in another mode
    than the store's chain was written in (``LEDGER_CHAIN_KEY`` set, unset or
    another key): a configuration error. Nothing is stored: every link written
    would break the chain for good (events are never deleted)."""

    status = "unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"{reason}; nothing was stored. Run it with the LEDGER_CHAIN_KEY the chain "
            "was written with (`incentive-ledger verify` checks a key against it)",
            field="LEDGER_CHAIN_KEY",
        )


class ChainLinksError(LedgerError):
    """The store's chain is written with a version of links (`ledger.chain`)
    this code does not know: a store of a newer version. Nothing is read or
    stored as if it were known."""

    status = "unavailable"

    def __init__(self, links: object, known: str) -> None:
        super().__init__(
            f"the chain's links are version {links}, which this version of the ledger does "
            f"not know (it knows {known}): run the version that wrote them",
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


class ReadModelsNewerError(LedgerError):
    """The read models were made by newer code than this process's: replaying
    them would put them back into an older shape under the newer process that
    reads them, so this process projects nothing (`projections.runner`).
    `rebuild`, run on purpose with this code (a rollback), makes them again."""

    status = "unavailable"

    def __init__(self, newer: list[str]) -> None:
        self.newer = newer
        super().__init__(
            f"the read models were made by newer code than this process's ({'; '.join(newer)}): "
            "it projects nothing rather than replay them into an older shape; stop it, or, "
            "to go back to this version on purpose, run `incentive-ledger rebuild` with it",
            field="read_models",
        )


class ReadModelsDamagedError(LedgerError):
    """The read models cannot take the next events: they hold rows of positions
    their tracking position says are still to come (edited, or written around
    the projector). Nothing is written; `rebuild` makes them again."""

    status = "unavailable"

    def __init__(self, position: int) -> None:
        self.position = position
        super().__init__(
            f"the read models hold rows of positions after {position}, where their "
            "tracking stands: they were changed outside the ledger, and catching up "
            "cannot go on; `incentive-ledger rebuild` makes them again from the log",
            field="read_models",
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
    # The kind of refusal, when a rule refused the input (a page words it in
    # its reader's language); not part of what the error says.
    kind: type[LedgerError] | None = dataclasses.field(default=None, compare=False, repr=False)
    # An input whose key an earlier input of the batch holds with other
    # content (`given_twice`): what it names, and that input's line.
    twice: tuple[str, int] | None = dataclasses.field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.describe("line")

    def describe(self, unit: Unit = "line") -> str:
        """``line 3, field amount: reason`` (a file's 1-based line), or ``item 2,
        ...`` (the 0-based index in an HTTP list), or without a place at all
        (``None``: a command's own options, which are not lines of anything:
        ``amount: reason``, as any other error of a command says it)."""
        where = _place(self.line, unit)
        if self.field:  # a field an input named: an extra key holding ESC, say
            field = printable(self.field)
            where = f"{where}, field {field}" if where else field
        reason = self.reason_in(unit)
        return f"{where}: {reason}" if where else reason

    def reason_in(self, unit: Unit) -> str:
        """The reason, any input it names numbered as ``unit`` numbers them
        (``reason`` numbers them as inputs of a batch)."""
        if self.twice is None:
            return self.reason
        what, earlier = self.twice
        within = {"line": "file", "item": "request"}.get(unit or "", "batch")
        if not unit:
            return given_twice(what, f"input {earlier}", f"input {self.line}", within)
        return given_twice(what, _place(earlier, unit), _place(self.line, unit), within)


# How a batch's inputs are numbered where they came from: lines of a file
# (1-based), items of an HTTP list (0-based index), or not at all.
Unit = Literal["line", "item"] | None


def _place(line: int, unit: Unit) -> str:
    if unit == "line":
        return f"line {line}"
    if unit == "item":
        return f"item {line - 1}"
    return ""


class _Refusal(Protocol):
    @property
    def status(self) -> str: ...


_E = TypeVar("_E", bound=_Refusal)


class RejectedError(LedgerError, Generic[_E]):
    """Inputs refused together, none stored, each bad one in ``errors``: a
    conflict when every one of them is, else invalid."""

    def __init__(self, errors: list[_E], reason: str, *, field: str | None = None) -> None:
        assert errors, "a rejection names at least one bad input"
        self.errors = errors
        self.status = "conflict" if {e.status for e in errors} == {"conflict"} else "invalid"
        super().__init__(reason, field=field)


class BatchRejectedError(RejectedError[LineError]):
    """A batch (an import file, a POST of a list) had bad inputs; none was stored."""

    def __init__(self, errors: list[LineError]) -> None:
        super().__init__(errors, _summary(errors, "line"), field=errors[0].field)

    @property
    def bad_inputs(self) -> int:
        """How many inputs (lines, items) are bad: a line with two bad fields is one."""
        return len({e.line for e in self.errors})

    def summary(self, unit: Unit = "line") -> str:
        """``2 bad lines; nothing was stored. First: line 3, ...`` numbered as ``unit``."""
        return _summary(self.errors, unit)


def _summary(errors: list[LineError], unit: Unit) -> str:
    noun = {"line": "line", "item": "item"}.get(unit or "", "input")
    count = len({e.line for e in errors})
    plural = noun if count == 1 else f"{noun}s"
    return f"{count} bad {plural}; nothing was stored. First: {errors[0].describe(unit)}"
