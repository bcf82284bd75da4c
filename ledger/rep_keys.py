"""One person, one rep id: each enrolled rep's id claims its actor form in the store.

SPEC §2 gives an actor one form (`ledger.actors`), and scope compares a rep's
id with an actor in that form: rep ``Lead-He`` beside rep ``lead-he`` would
let the manager lead-he read Lead-He's pay and history as their own. The write
rule (`ledger.rules.rep_enrolled`) refuses such a second spelling, naming the
rep, against what is staged and what this table holds (`Staging.claimed`: the
table is the one list of the stored forms, read through the unit of work's
reader, no copy of the log's enrolments kept per process). The store refuses
it as well: the
recorders (`ledger.backends`) write one row per enrolment appended — its id's
actor form (`actor_key`), the id, its position — in the transaction that
appends it, into a table whose primary key is that form, as they write the
chain links and the payout claims. So whatever appends an enrolment claims its
form (an import, a group commit, the library's ``save``), and a writer whose
check was made before another writer committed the other spelling — a check
not made again under the writer lock — is refused there: `spelling_conflict`,
the rule's own error, and its transaction stores nothing.

A store written before the table existed is indexed from its log when the
table is first made (`ledger.key_tables`, the tables of this kind). One that
already holds two spellings of an id (enrolled before the rule) still opens:
both reps stay as stored, the earliest enrolment claims the form, the later
one's re-sent enrolment is skipped as ever (its stream exists), and every new
spelling is refused, naming the earliest.

Pure: no I/O; the backends run the SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from ledger.actors import actor_key
from ledger.errors import ConflictError
from ledger.key_tables import EventRow, claims_in, first_taken

__all__ = ["RepKey", "rep_keys_of", "spelling_conflict", "spelling_refusal"]


class RepKey(NamedTuple):
    """One row of the table: ``rep_id``, enrolled at ``position``, claims ``key``."""

    key: str
    rep_id: str
    position: int

    @classmethod
    def of(cls, rep_id: str, position: int) -> RepKey:
        """The claim of rep ``rep_id`` enrolled at ``position``: its id's actor form."""
        return cls(actor_key(rep_id), rep_id, position)


def rep_keys_of(rows: Iterable[EventRow]) -> list[RepKey]:
    """The claims of the enrolments among events being appended, ``(position,
    topic, state)``, in order. Only the enrolments' topic is decoded."""
    from ledger.catalogue import REP_KEY_TOPIC  # noqa: PLC0415 - the catalogue imports rules

    return claims_in(rows, REP_KEY_TOPIC, lambda data, p: RepKey.of(data["rep_id"], p))


def spelling_conflict(rep_id: str, other: str) -> ConflictError:
    """The refusal of rep ``rep_id``, which is rep ``other`` in another spelling."""
    return ConflictError(
        f"rep {rep_id} is rep {other} in another spelling: one person has one id",
        field="rep_id",
    )


def spelling_refusal(claims: Iterable[RepKey], stored: Mapping[str, str]) -> ConflictError | None:
    """The refusal of the first of ``claims`` whose form is claimed already — in
    ``stored`` (form -> rep id, the rows of the table) or by an earlier claim of
    the same append — or None when every form is free."""
    taken = first_taken(claims, stored)
    return spelling_conflict(taken[0].rep_id, taken[1]) if taken is not None else None
