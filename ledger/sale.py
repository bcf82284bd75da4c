"""A sale: recorded once, cancelled at most once, paid in parts (SPEC §2,
natural key ``sale_id``; a payment's is ``payment_id``).

The payments of a sale are recorded on the sale's own stream: the rule that
they never sum above the sale's amount reads them all from one aggregate, and
two writers paying the same sale at once meet on its version (the store's
optimistic concurrency), so neither can overpay it unseen.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, created_by, event_topic, receipt_event
from ledger.errors import InvalidInputError
from ledger.events import content_sha256 as content_hash
from policies.collection import check_payment
from policies.money import check_money

__all__ = ["Sale", "sale_reps_of"]


class Sale(LedgerAggregate):
    """One closed deal, its payments and, maybe, its cancellation."""

    TOPIC = "incentive_ledger:aggregate:Sale"
    KIND = "sale"
    if TYPE_CHECKING:
        rep_id: str
        cancellation: Receipt | None
        # payment id -> (its receipt, its amount as stored); None: none yet
        payments: dict[str, tuple[Receipt, str]] | None

    __init__ = created_by("SaleRecorded", keeps=("rep_id",), later=("cancellation", "payments"))

    def is_stored_as(self, occurred_text: str, content_sha256: str, data: dict[str, Any]) -> bool:
        """Whether this sale as stored is the fact a re-sent ``SaleRecorded``
        states — business time ``occurred_text``, content hash
        ``content_sha256``, fields ``data`` — its splits compared as a set.

        SPEC §2: the same fact re-sent is skipped; and splits are a set (a
        re-sorted CRM export lists a split sale's rows in another order, a
        JSON line its list). A sale's content hash covers its splits in the
        order they came, and stays so: stored events are immutable and
        chained, so what a stored sale hashes to never changes; and new sales
        are stored as given too, since sorting them would make the write
        rules' ``splits[i]`` field names (and a CRM import's cells) point at
        another entry than the input's. So when the hashes differ — the rare
        path, a conflict otherwise — both sides are hashed again with their
        splits sorted by rep id: equal then, the re-sent sale is this one.
        """
        if self.recorded.content_sha256 == content_sha256:
            return True
        if "splits" not in data or "splits" not in self.data:
            return False
        stored = content_hash(
            "SaleRecorded", self.recorded.occurred_at.isoformat(), _splits_sorted(self.data)
        )
        return stored == content_hash("SaleRecorded", occurred_text, _splits_sorted(data))

    def cancel(self, **envelope: Any) -> bool:
        """Cancel the sale; False when this very cancellation is already stored."""
        if self.cancellation is None and envelope["occurred_at"] < self.recorded.occurred_at:
            raise InvalidInputError(
                f"a sale cannot be cancelled before it occurred{self._when(envelope)}",
                field="occurred_at",
            )
        return self.record_once("cancellation", "the cancellation", **envelope)

    def _when(self, envelope: dict[str, Any]) -> str:
        """`` (<when the sale occurred>)`` for a refusal sent by the actor who
        recorded the sale, else nothing (`Receipt.told_to`)."""
        told = self.recorded.told_to(str(envelope.get("actor") or ""))
        return f" ({self.recorded.occurred_at.isoformat()})" if told else ""

    _cancellation = receipt_event("SaleCancelled", "cancellation")

    def receive_payment(self, **envelope: Any) -> bool:
        """Record a payment of the sale; False when this very payment is stored.

        SPEC §2: in the sale's currency (its decimals), not before the sale,
        not for a cancelled sale, and the payments never sum above its amount.
        A refusal quotes what the sale holds (its moment, currency, amount, the
        payments before) and when it was cancelled only to the sender who
        recorded those facts (`Receipt.told_to`): another integration reads
        none of them, and is told the rule it broke.
        """
        data = envelope["data"]
        payment_id = data["payment_id"]
        known = (self.payments or {}).get(payment_id)
        if known is not None:
            return not known[0].check_same(
                envelope["content_sha256"], key=f"payment {payment_id}", field="payment_id"
            )
        sender = str(envelope.get("actor") or "")
        if envelope["occurred_at"] < self.recorded.occurred_at:
            raise InvalidInputError(
                f"a payment cannot be received before its sale {self.key} "
                f"occurred{self._when(envelope)}",
                field="occurred_at",
            )
        if self.cancellation is not None:
            when = (
                f" ({self.cancellation.occurred_at.isoformat()})"
                if self.cancellation.told_to(sender)
                else ""
            )
            raise InvalidInputError(
                f"sale {self.key} was cancelled{when}; it takes no payment", field="sale_id"
            )
        amount, currency = Decimal(data["amount"]), self.data["currency"]
        told = self.recorded.told_to(sender)
        try:
            check_money(amount, currency)
        except ValueError as exc:
            reason = (
                f"{exc} (sale {self.key} is in {currency})"
                if told
                else f"more decimal places than sale {self.key}'s currency has"
            )
            raise InvalidInputError(reason, field="amount") from None
        earlier = self.payments or {}
        paid = [Decimal(stored) for _, stored in earlier.values()]
        over = check_payment(self.key, Decimal(self.data["amount"]), paid, amount)
        if over is not None:
            # the total so far rests on every earlier payment as well
            told = told and all(receipt.told_to(sender) for receipt, _ in earlier.values())
            reason = f"{over.message} (in {currency})" if told else over.withheld_message
            raise InvalidInputError(reason.removeprefix("amount: "), field="amount")
        self._payment_received(**envelope)
        return True

    @event("PaymentReceived", topic=event_topic("PaymentReceived"))
    def _payment_received(
        self, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        payments = dict(self.payments or {})
        payments[data["payment_id"]] = (Receipt(content_sha256, actor, occurred_at), data["amount"])
        self.payments = payments


def _splits_sorted(data: dict[str, Any]) -> dict[str, Any]:
    """A sale's fields with its splits in one order, by rep id (a rep appears
    at most once among them, `ledger.events.SaleRecorded`)."""
    return {**data, "splits": sorted(data["splits"], key=lambda split: str(split["rep_id"]))}


def sale_reps_of(data: dict[str, Any]) -> frozenset[str]:
    """The reps a sale's fields name: its rep and its splits' reps."""
    return frozenset([str(data["rep_id"]), *(str(s["rep_id"]) for s in data.get("splits") or ())])
