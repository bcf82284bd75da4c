"""One payment id, one payment: each payment id is claimed, for its sale, in the store.

SPEC §2 makes ``payment_id`` the natural key of ``PaymentReceived``: the same
payment re-sent is skipped, one with other content refused as a conflict. A
sale's payments are recorded on its own stream (`ledger.sale`), so the sale
alone could only check the id among its own payments: a CRM re-sending
payment P1 with a corrected ``sale_id`` had it stored on the second sale too,
the money released twice. The write rule (`ledger.rules.payment_received`)
refuses a payment id held by another sale's payment, against what is staged
and what this table holds (`Staging.paid_elsewhere`); the store refuses it as
well: the recorders write one row per payment appended — its id, its sale's
id, its position — in the transaction that appends it, into a table whose
primary key is the payment id (`ledger.key_tables`, as `ledger.rep_keys`).

The refusal is the key conflict's (`ledger.errors.stored_otherwise`), and
names the sale holding the id only to the sender who recorded that payment:
another integration reads no event (SPEC §5), and learns only that the id is
taken — which a natural key cannot keep from anyone who tries it. What the
store raises, knowing no sender, names no sale.

A store written before the table existed is indexed from its log when the
table is first made. One that already holds one payment id on two sales
(stored before the rule) still opens: both payments stay as stored, the
earliest claims the id, a re-sent payment of either is skipped as ever (each
sale's stream holds its own), and every new use of the id on another sale is
refused.

Pure: no I/O; the backends run the SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from ledger.errors import ConflictError, KeyConflictError, stored_otherwise
from ledger.key_tables import EventRow, claims_in, first_taken

if TYPE_CHECKING:
    from ledger.domain import Receipt

__all__ = ["PaymentKey", "payment_keys_of", "payment_refusal", "payment_taken"]


class PaymentKey(NamedTuple):
    """One row of the table: payment ``key`` of sale ``sale_id``, stored at ``position``."""

    key: str
    sale_id: str
    position: int


def payment_keys_of(rows: Iterable[EventRow]) -> list[PaymentKey]:
    """The claims of the payments among events being appended, ``(position,
    topic, state)``, in order. Only the payments' topic is decoded."""
    from ledger.catalogue import PAYMENT_KEY_TOPIC  # noqa: PLC0415 - the catalogue imports rules

    return claims_in(
        rows, PAYMENT_KEY_TOPIC, lambda data, p: PaymentKey(data["payment_id"], data["sale_id"], p)
    )


def payment_taken(
    payment_id: str, *, sale_id: str | None = None, receipt: Receipt | None = None, sender: str = ""
) -> KeyConflictError:
    """The refusal of payment ``payment_id`` of another sale than ``sale_id``,
    whose payment of that id is stored (or staged) as ``receipt``: ``sale_id``
    is named to the ``sender`` who recorded that payment alone."""
    told = sale_id is not None and receipt is not None and receipt.told_to(sender)
    return stored_otherwise(
        f"payment {payment_id}",
        field="payment_id",
        against=receipt.content_sha256 if receipt is not None else "",
        of=f" (a payment of sale {sale_id})" if told else "",
    )


def payment_refusal(
    claims: Sequence[PaymentKey], stored: Mapping[str, str]
) -> ConflictError | None:
    """The store's refusal of the first of ``claims`` whose payment id another
    sale holds — in ``stored`` (payment id -> sale id, the rows of the table) or
    by an earlier claim of the same append — or None when every id is free."""
    taken = first_taken(claims, stored)
    return payment_taken(taken[0].key) if taken is not None else None
