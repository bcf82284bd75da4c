"""A sale as the fold keeps it (`projections.facts.SaleInfo`): held packed, read
back exactly as it was given."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ledger.records import EventRecord
from projections.facts import SaleInfo

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def _sale(amount: str, *, event_id: str | None = None, position: int = 7) -> SaleInfo:
    return SaleInfo(
        "S-1",
        event_id or str(uuid.uuid4()),
        position,
        AT,
        actor="crm-sync",
        category="hardware",
        amount=amount,
        credits={"rep-1": Decimal(1)},
    )


class TestSaleInfo:
    """Every field reads back as given, whether it could be packed or not."""

    @pytest.mark.parametrize(
        "amount",
        [
            "22656.02",
            "100.00",
            "0",
            "0.00",
            "5",
            "007.50",
            "0.000000001",
            "9999999999999999999.999999999",
            # not packed: kept as given
            "1E+3",
            "1.5e2",
            "12345678901234567890.1",
            "1.1234567891",
            "5.",
            ".5",
            "-5",
        ],
    )
    def test_amount_is_the_same_decimal_digit_for_digit(self, amount: str) -> None:
        got = _sale(amount).amount
        assert isinstance(got, Decimal)
        assert got.as_tuple() == Decimal(amount).as_tuple()
        assert str(got) == str(Decimal(amount))

    def test_position_and_event_id_read_back(self) -> None:
        event_id = str(uuid.uuid4())
        sale = _sale("10.00", event_id=event_id, position=123_456_789)
        assert (sale.position, sale.event_id) == (123_456_789, event_id)

    @pytest.mark.parametrize(
        "event_id",
        ["not-a-uuid", "0X" + "A" * 34, "223A64DF-4E73-4EE5-83A6-F23BABC0E052", "00000000"],
    )
    def test_an_event_id_not_in_canonical_uuid_text_is_kept_as_it_is(self, event_id: str) -> None:
        sale = _sale("10.00", event_id=event_id)
        assert (sale.event_id, sale.position, sale.amount) == (event_id, 7, Decimal("10.00"))

    def test_a_position_beyond_the_packed_width_is_kept_as_it_is(self) -> None:
        sale = _sale("10.00", position=2**45)
        assert sale.position == 2**45
        assert sale.amount == Decimal("10.00")

    @pytest.mark.parametrize(
        ("amount", "event_id", "position"),
        [
            # fixed ids: a random one names the test otherwise on each xdist worker
            ("22656.02", "7268f693-7107-4fd4-804a-1ae2a840dec6", 423),  # packed
            ("1E+3", "c74775a9-4557-4aac-992b-edac435a4c34", 423),  # an amount not packed
            ("10.00", "not-a-uuid", 423),  # an id not packed
            ("10.00", "d5a09532-2265-432d-af15-958061e4a622", 2**45),  # a position not packed
        ],
    )
    def test_unpacked_reads_what_the_fields_read(
        self, amount: str, event_id: str, position: int
    ) -> None:
        sale = _sale(amount, event_id=event_id, position=position)
        position_read, id_read, amount_read = sale.unpacked()
        assert (position_read, id_read) == (sale.position, sale.event_id) == (position, event_id)
        assert amount_read.as_tuple() == sale.amount.as_tuple() == Decimal(amount).as_tuple()

    def test_later_events_set_the_cancellation_and_the_payments(self) -> None:
        sale = _sale("10.00")
        assert (sale.cancellation, sale.payments, sale.currency) == (None, None, "CNY")
        cancel = EventRecord(9, str(uuid.uuid4()), "SaleCancelled", AT, "", "crm", {}, "h")
        sale.cancellation = cancel
        sale.payments = []
        assert sale.payments is not None
        sale.payments.append(cancel)
        assert (sale.cancellation, sale.payments, sale.currency) == (cancel, [cancel], "CNY")
        assert (sale.actor, sale.category, sale.sale_id) == ("crm-sync", "hardware", "S-1")

    def test_a_foreign_currency_is_kept(self) -> None:
        sale = SaleInfo(
            "S-2",
            str(uuid.uuid4()),
            3,
            AT,
            actor="a",
            category=None,
            amount="1.00",
            credits={},
            currency="USD",
        )
        assert (sale.currency, sale.category, sale.cancellation) == ("USD", None, None)

    def test_equal_by_value(self) -> None:
        event_id = str(uuid.uuid4())
        assert _sale("1.0", event_id=event_id) == _sale("1.0", event_id=event_id)
        assert _sale("1.0", event_id=event_id) != _sale("2.0", event_id=event_id)
