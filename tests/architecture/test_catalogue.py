"""The event catalogue (`ledger.catalogue`) is the one list of event types."""

from __future__ import annotations

import ast
from datetime import UTC, datetime

import pytest

from api.auth import EVENT_WRITERS, SUBJECT_DECIDERS
from ledger import events as ev
from ledger.catalogue import (
    CATALOGUE,
    CLAIM_TOPICS,
    EVENT_TYPES,
    IMPORTABLE_TYPES,
    KEY_FIELDS,
    needs_approval,
)
from ledger.domain import event_topic
from ledger.ingestion.parse import parse_event
from projections.facts import LedgerFacts
from tests.architecture.source import event_lists, relative, source_files, tree_of

_CATALOGUE_FILE = "ledger/catalogue.py"


def _models(base: type[ev.EventIn]) -> set[type[ev.EventIn]]:
    found: set[type[ev.EventIn]] = set()
    for cls in base.__subclasses__():
        found |= {cls, *_models(cls)}
    return found


class TestOneList:
    def test_no_list_of_event_types_outside_the_catalogue(self) -> None:
        """A tuple, list, set, dict or union naming three or more event types
        anywhere but the catalogue is a parallel list that a new type would
        have to be added to by hand: derive it from the catalogue instead."""
        found = [
            f"{relative(path)}:{line}: {names}"
            for path in source_files()
            if relative(path) != _CATALOGUE_FILE
            for line, names in event_lists(tree_of(path))
        ]
        assert found == []

    @pytest.mark.parametrize(
        "code",
        [
            'TYPES = ("SaleRecorded", "SaleCancelled", "RepLeft")',
            'HANDLERS = {"SaleRecorded": 1, "SaleCancelled": 2, "KpiScored": 3}',
            "ANY = ev.SaleRecorded | ev.SaleCancelled | ev.RepLeft",
            'WRITERS = {"integration": frozenset({"SaleRecorded", "SaleCancelled", "RepLeft"})}',
        ],
    )
    def test_the_scan_finds_a_parallel_list(self, code: str) -> None:
        """The scan is not vacuous: each way of listing types is caught."""
        assert list(event_lists(ast.parse(code)))

    def test_exports_and_pairs_are_not_lists(self) -> None:
        code = '__all__ = ["SaleRecorded", "SaleCancelled", "RepLeft"]\nx = {"ApprovalGranted", "ApprovalRejected"}'
        assert list(event_lists(ast.parse(code))) == []


class TestEntries:
    def test_every_event_model_is_catalogued_once(self) -> None:
        assert {m.__name__ for m in _models(ev.EventIn)} == set(EVENT_TYPES)
        assert len(EVENT_TYPES) == len(set(EVENT_TYPES))

    @pytest.mark.parametrize("name", EVENT_TYPES)
    def test_each_entry_names_its_own_model(self, name: str) -> None:
        entry = CATALOGUE[name]
        assert entry.model.model_fields["type"].annotation.__args__ == (name,)  # type: ignore[union-attr]
        assert entry.topic == event_topic(name)
        if entry.creates is not None:
            assert entry.key in entry.model.model_fields, "a stream is keyed by a field"

    @pytest.mark.parametrize("name", EVENT_TYPES)
    def test_each_type_has_a_fold_on_the_read_side(self, name: str) -> None:
        """A type the read side cannot fold would fail every projection."""
        assert callable(getattr(LedgerFacts, f"_on_{name}", None))

    def test_the_ledger_only_types_are_refused_by_an_import(self) -> None:
        for name in set(EVENT_TYPES) - set(IMPORTABLE_TYPES):
            item, errors = parse_event({"type": name, "occurred_at": "2026-07-01T00:00:00Z"})
            assert item is None
            assert errors[0].field == "type"
            assert CATALOGUE[name].why_not_importable in errors[0].reason

    def test_an_unknown_type_names_the_importable_ones(self) -> None:
        _, errors = parse_event({"type": "SaleRecordedd", "occurred_at": "2026-07-01T00:00:00Z"})
        assert errors[0].field == "type"
        assert all(name in errors[0].reason for name in IMPORTABLE_TYPES)

    def test_every_created_stream_is_loaded_by_its_key_field(self) -> None:
        fields = dict(KEY_FIELDS)
        for entry in CATALOGUE.values():
            if entry.creates is not None:
                assert entry.creates.KIND in fields[entry.key]

    def test_the_claims_index_follows_the_payout_events(self) -> None:
        assert sorted(CLAIM_TOPICS.values()) == ["calculated", "paid", "rejected"]


class TestDerived:
    def test_write_rights_are_the_spec_role_table(self) -> None:
        """SPEC §5, as it stood when the table was written by hand."""
        assert {
            "integration": {"SaleRecorded", "SaleCancelled", "PaymentReceived"},
            "manager": {"TargetSet", "KpiScored", "CoachingRecorded", "ViolationRecorded"},
            "compliance": {
                "ViolationRecorded",
                "ViolationOverturned",
                "ApprovalGranted",
                "ApprovalRejected",
            },
            "finance": {
                "AdjustmentRequested",
                "ApprovalGranted",
                "ApprovalRejected",
                "DisputeResolved",
                "FxRateSet",
            },
            "admin": {
                "PlanPublished",
                "RepEnrolled",
                "RepPlanAssigned",
                "RepTransferred",
                "RepLeft",
            },
        } == EVENT_WRITERS
        assert {
            "target": {"finance"},
            "adjustment": {"finance"},
            "run": {"finance"},
            "case": {"compliance"},
        } == SUBJECT_DECIDERS


_AT = datetime(2026, 7, 14, 10, tzinfo=UTC)
_EARLY = datetime(2026, 6, 1, tzinfo=UTC)


class TestNeedsApproval:
    """SPEC §2's maker-checker subjects, decided in one place."""

    @pytest.mark.parametrize(
        ("type_", "data", "occurred_at", "needed"),
        [
            ("AdjustmentRequested", {}, _AT, True),
            ("PayoutCalculated", {}, _AT, True),
            ("ViolationRecorded", {"severity": "red_line"}, _AT, True),
            ("ViolationRecorded", {"severity": "minor"}, _AT, False),
            ("TargetSet", {"period": "2026-Q3"}, _AT, True),  # after the period started
            ("TargetSet", {"period": "2026-Q3"}, _EARLY, False),
            ("SaleRecorded", {}, _AT, False),
            ("ApprovalGranted", {}, _AT, False),
        ],
    )
    def test_subjects(
        self, type_: str, data: dict[str, str], occurred_at: datetime, needed: bool
    ) -> None:
        assert needs_approval(type_, data, occurred_at, occurred_at) is needed

    def test_a_backdated_target_recorded_late_needs_approval(self) -> None:
        assert needs_approval("TargetSet", {"period": "2026-Q3"}, _EARLY, _AT) is True
