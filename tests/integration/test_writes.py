"""The write rules of SPEC §2 and the bad inputs of SPEC §7, on SQLite and PostgreSQL.

Every rejected input must name its line and field, and leave the store exactly
as it was (the count of stored events before equals the count after).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from ledger import events as ev
from ledger import rules
from ledger.application import Ledger
from ledger.catalogue import EVENT_ADAPTER, REP_KEYS
from ledger.errors import BatchRejectedError, ConflictError
from ledger.key_tables import KeyTable
from ledger.rep_keys import RepKey
from ledger.results import RecordResult
from ledger.writes import Input
from policies.periods import period_of
from policies.plan import load_plan
from projections.runner import verify_views
from projections.service import Reports
from tests.builders import (
    PLAN_TOML,
    enrol,
    jsonl,
    line,
    pipelined,
    sale,
    seeded,
    stored_count,
    stored_record,
)
from tests.integration.test_audit_chain import Raw


def _rejected(ledger: Ledger, lines: list[str], *, actor: str = "tester") -> BatchRejectedError:
    before = stored_count(ledger)
    with pytest.raises(BatchRejectedError) as caught:
        ledger.import_lines(lines, actor=actor)
    assert stored_count(ledger) == before, "a rejected import must store nothing"
    return caught.value


class TestImport:
    def test_a_good_file_is_stored_in_order_with_positions(self, ledger: Ledger) -> None:
        """Each line becomes one event; positions strictly increase in file order."""
        seeded(ledger, "r1")
        result = ledger.import_lines(jsonl(sale("S1", "r1"), sale("S2", "r1")), actor="crm")
        assert (result.stored, result.skipped) == (2, 0)
        positions = [o.position for o in result.outcomes]
        assert positions == sorted(positions)
        assert len(set(positions)) == 2
        assert [e.data["sale_id"] for e in ledger.read_log() if e.type == "SaleRecorded"] == [
            "S1",
            "S2",
        ]

    def test_reimporting_a_file_stores_nothing_new(self, ledger: Ledger) -> None:
        """Natural keys make imports idempotent, keyless events included."""
        seeded(ledger, "r1")
        lines = jsonl(
            sale("S1", "r1"),
            line(
                "SaleCancelled",
                sale_id="S1",
                reason="withdrawn",
                at="2026-07-20T10:00:00+08:00",
            ),
            line(
                "KpiScored",
                rep_id="r1",
                period="2026-Q3",
                kpi="customer_satisfaction",
                score="0.9",
            ),
            line("CoachingRecorded", rep_id="r1", topic="pricing"),
            line(
                "TargetSet",
                target_id="T1",
                rep_id="r1",
                period="2026-Q3",
                kpi="sales_amount",
                value="100000",
                reason="plan",
                at="2026-06-25T10:00:00+08:00",
            ),
        )
        first = ledger.import_lines(lines, actor="crm")
        count = stored_count(ledger)
        second = ledger.import_lines(lines, actor="someone-else")
        assert first.stored == 5
        assert (second.stored, second.skipped) == (0, 5)
        assert stored_count(ledger) == count

    def test_a_line_repeated_in_one_file_is_stored_once(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        result = ledger.import_lines(jsonl(sale("S1", "r1"), sale("S1", "r1")), actor="crm")
        assert (result.stored, result.skipped) == (1, 1)

    def test_a_conflicting_duplicate_is_refused(self, ledger: Ledger) -> None:
        """Same sale id, other amount: a conflict, and nothing of the file is stored."""
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S1", "r1", "1000.00")), actor="crm")
        error = _rejected(ledger, jsonl(sale("S2", "r1"), sale("S1", "r1", "2000.00")))
        assert error.status == "conflict"
        assert [(e.line, e.field) for e in error.errors] == [(2, "sale_id")]
        assert "other content" in error.errors[0].reason
        assert "another fact needs an id of its own" in error.errors[0].reason

    def test_one_id_twice_in_a_file_with_other_content_is_said_so(self, ledger: Ledger) -> None:
        """Two lines of one file under one sale id with other amounts were
        refused as "already stored with other content" — nothing was stored:
        the id is given twice in the file. Said so, naming both lines and the
        field; and in a request's items, numbered as items."""
        seeded(ledger, "r1")
        lines = jsonl(sale("S2", "r1"), sale("S1", "r1", "1000.00"), sale("S1", "r1", "2000.00"))
        error = _rejected(ledger, lines)
        assert error.status == "conflict"
        [refused] = error.errors
        assert (refused.line, refused.field) == (3, "sale_id")
        said = refused.describe("line")
        assert "already stored" not in said
        assert said.startswith(
            "line 3, field sale_id: sale S1 is given twice in this file, at line 2 and "
            "line 3, with other content"
        )
        assert refused.reason_in("item").startswith(
            "sale S1 is given twice in this request, at item 1 and item 2, with other content"
        )
        assert error.summary("item").endswith(refused.describe("item"))

    def test_a_cancellation_twice_in_a_file_is_said_so(self, ledger: Ledger) -> None:
        """A fact that happens once (a sale's cancellation) given twice with
        other reasons was "already recorded, otherwise": it was not."""
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")
        first, second = (
            line("SaleCancelled", sale_id="S1", reason=r, at="2026-07-20T10:00:00+08:00")
            for r in ("customer left", "duplicate")
        )
        error = _rejected(ledger, jsonl(first, second))
        [refused] = error.errors
        assert refused.describe("line").startswith(
            "line 2, field sale_id: the cancellation of sale S1 is given twice in this file, "
            "at line 1 and line 2, with other content"
        )

    def test_an_id_stored_before_is_still_said_stored(self, ledger: Ledger) -> None:
        """The id given once in the file, stored by an earlier one: stored."""
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S1", "r1", "1000.00")), actor="crm")
        lines = jsonl(sale("S1", "r1", "1000.00"), sale("S1", "r1", "2000.00"))
        [refused] = _rejected(ledger, lines).errors
        assert (refused.line, refused.field) == (2, "sale_id")
        assert "sale S1 is already stored with other content" in refused.reason

    def test_a_reps_id_in_another_spelling_is_no_second_rep(self, ledger: Ledger) -> None:
        """``Lead-He`` beside rep ``lead-he`` (stored, or earlier in the same
        file) names the same identity (SPEC §2: scope compares actors, so the
        manager lead-he read Lead-He's pay as their own): refused, naming the
        rep it spells; a rep of another id is enrolled."""
        seeded(ledger, "lead-he")
        error = _rejected(ledger, jsonl(enrol("r2"), enrol("Lead-He")))
        assert error.status == "conflict"
        assert [(e.line, e.field) for e in error.errors] == [(2, "rep_id")]
        assert "lead-he" in error.errors[0].reason
        error = _rejected(ledger, jsonl(enrol("R3"), enrol("r3")))
        assert [(e.line, e.field) for e in error.errors] == [(2, "rep_id")]
        ledger.import_lines(jsonl(enrol("R4")), actor="hr-sync")
        error = _rejected(ledger, jsonl(enrol("r4")))
        assert "R4" in error.errors[0].reason
        assert ledger.import_lines(jsonl(enrol("r2")), actor="hr-sync").stored == 1

    def test_every_bad_line_is_named(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        lines = [
            json.dumps(sale("S1", "r1")),
            "{not json",
            json.dumps(sale("S2", "nobody")),
            json.dumps(sale("S3", "r1", amount=12.5)),
        ]
        error = _rejected(ledger, lines)
        assert [(e.line, e.field) for e in error.errors] == [
            (2, None),
            (3, "rep_id"),
            (4, "amount"),
        ]


def _staged(ledger: Ledger, *events: dict[str, Any]) -> list[StoredEvent]:
    """The events ``ledger`` stages for ``events`` (each passing its rules now),
    not appended: what a writer holds between its check and its commit."""
    staging = ledger.staging(ledger.chain)
    inputs = [Input.of(EVENT_ADAPTER.validate_python(e), "hr-sync") for e in events]
    _, errors = staging.apply_all(list(enumerate(inputs, 1)))
    assert errors == []
    return staging.take_pending()


class TestOneSpellingInTheStore:
    """The store itself refuses a rep id whose actor form another id holds
    (SPEC §2, `ledger.rep_keys`): a check made before the other spelling was
    committed does not let the second one in."""

    @pytest.mark.parametrize(("first", "second"), [("lead-he", "Lead-He"), ("Lead-He", "lead-he")])
    def test_a_spelling_checked_before_the_other_committed_is_refused(
        self, make_ledger: Callable[..., Ledger], first: str, second: str
    ) -> None:
        """Ledger B checks ``second`` (and r9) while the store holds neither
        spelling; ledger A enrols ``first``; B then appends what it checked,
        not checking again: the store refuses it with the rule's conflict,
        naming ``first``, and nothing of B's batch is stored."""
        a, b = seeded(make_ledger()), make_ledger()
        checked = _staged(b, enrol("r9"), enrol(second))
        assert a.import_lines(jsonl(enrol(first)), actor="hr-sync").stored == 1
        before = stored_count(a)
        with b.chain.append_session() as session:
            assert session.try_append(checked) is None  # an optimistic append: staged again
        with pytest.raises(ConflictError) as caught, b.chain.append_session() as session:
            session.append(checked)
        assert caught.value.field == "rep_id"
        assert caught.value.reason == (
            f"rep {second} is rep {first} in another spelling: one person has one id"
        )
        assert stored_count(a) == before
        assert [e.data["rep_id"] for e in a.read_log() if e.type == "RepEnrolled"] == [first]

    @pytest.mark.parametrize(("first", "second"), [("Lead-He", "lead-he"), ("lead-he", "Lead-He")])
    def test_two_group_commit_batches_pipelined_enrol_one_spelling(
        self, ledger: Ledger, first: str, second: str
    ) -> None:
        """The API's group commit stages a group while the one before it is
        being committed, on the reps that one staged: lead-he, staged after
        Lead-He there, passed the rule (its spellings are read from the store,
        Lead-He not committed yet) and both were stored. The store refuses it:
        the group is staged again under the lock, and the rule names Lead-He."""
        seeded(ledger)
        enrolled, refused = pipelined(ledger, [enrol(first)], [enrol(second)])
        assert isinstance(enrolled, RecordResult)
        assert enrolled.stored == 1
        assert isinstance(refused, BatchRejectedError)
        assert [(e.field, e.reason) for e in refused.errors] == [
            ("rep_id", f"rep {second} is rep {first} in another spelling: one person has one id")
        ]
        assert [e.data["rep_id"] for e in ledger.read_log() if e.type == "RepEnrolled"] == [first]

    def test_a_group_staged_before_the_other_spelling_is_refused_naming_it(
        self, make_ledger: Callable[..., Ledger]
    ) -> None:
        """Through the group commit: B's group is staged outside the writer
        lock, A enrols the other spelling, B's commit refuses it naming
        lead-he, and B's other request goes in."""
        a, b = seeded(make_ledger()), make_ledger()
        inputs = [
            [Input.of(EVENT_ADAPTER.validate_python(enrol(r)), "hr-sync")]
            for r in ("Lead-He", "r9")
        ]
        prepared = b.prepare_group(inputs)
        a.import_lines(jsonl(enrol("lead-he")), actor="hr-sync")
        refused, enrolled = b.commit_group(prepared).results
        assert isinstance(refused, BatchRejectedError)
        assert [(e.field, e.reason) for e in refused.errors] == [
            ("rep_id", "rep Lead-He is rep lead-he in another spelling: one person has one id")
        ]
        assert isinstance(enrolled, RecordResult)
        assert enrolled.stored == 1

    def test_a_store_holding_both_spellings_still_opens(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        """A store of the code before the table that holds lead-he and, later,
        Lead-He (enrolled before the rule) opens: both reps stay as stored,
        lead-he (the earlier) claims the form, a re-sent Lead-He is skipped,
        and a third spelling is refused naming lead-he."""
        ledger = seeded(make_ledger())
        later = _staged(ledger, enrol("Lead-He"))
        ledger.import_lines(jsonl(enrol("lead-he")), actor="hr-sync")
        raw = Raw(db_url)
        keys = raw.rep_keys
        appended_before_the_table(ledger, raw, keys, later)
        reopened = make_ledger()
        assert [e.data["rep_id"] for e in reopened.read_log() if e.type == "RepEnrolled"] == [
            "lead-he",
            "Lead-He",
        ]
        with raw.cursor() as c:
            c.execute(f"SELECT key, rep_id FROM {keys}")
            assert [tuple(row) for row in c.fetchall()] == [("lead-he", "lead-he")]
        assert reopened.import_lines(jsonl(enrol("Lead-He")), actor="hr-sync").skipped == 1
        error = _rejected(reopened, jsonl(enrol("LEAD-HE")))
        assert [(e.field, e.reason) for e in error.errors] == [
            ("rep_id", "rep LEAD-HE is rep lead-he in another spelling: one person has one id")
        ]
        Reports(reopened).catch_up()
        assert verify_views(reopened) == []  # the earlier spelling's claim is the log's
        [later_claim] = [RepKey.of("Lead-He", p) for p in _enrolled_at(reopened, "Lead-He")]
        with raw.cursor() as c:  # the later spelling's claim instead: not what the log says
            c.execute(raw.q(f"UPDATE {keys} SET rep_id = ?, position = ?"), later_claim[1:])
        [earlier] = [RepKey.of("lead-he", p) for p in _enrolled_at(reopened, "lead-he")]
        assert verify_views(reopened) == [
            f"rep_keys {tuple(later_claim)}: differs from the log's {tuple(earlier)}"
        ]


def appended_before_the_table(
    ledger: Ledger, raw: Raw, table: str, later: list[StoredEvent]
) -> None:
    """Append ``later`` (checked before its earlier twin was stored) to the
    store of ``ledger`` as a version before key table ``table`` did — the
    table emptied, then dropped with every mark of what was built — and close
    ``ledger``: opened again, the store is indexed from its log."""
    with raw.cursor() as c:
        c.execute(f"DELETE FROM {table}")  # as if the rule came later
    with ledger.chain.append_session() as session:
        session.append(later)
    ledger.close()
    with raw.cursor() as c:
        c.execute(f"DROP TABLE {table}")
        c.execute(f"DELETE FROM {raw.state_table}")


def _enrolled_at(ledger: Ledger, rep_id: str) -> list[int]:
    """The positions of rep ``rep_id``'s enrolments in the log."""
    return [
        e.position
        for e in ledger.read_log()
        if e.type == "RepEnrolled" and e.data["rep_id"] == rep_id
    ]


class TestTheStoreIsTheSpellingRuleSource:
    """The spelling rule reads the store's own claims (`ledger.rep_keys`), the
    table each enrolment's transaction writes: no second list of the log's
    enrolments, kept per process, beside it."""

    def test_an_enrolment_reads_no_enrolments_from_the_log(
        self, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Another process enrols Lead-He; this one's lead-he is refused naming
        it — by the store's claim, not by the enrolments this process read from
        the log since its last read (it read none)."""
        here, there = seeded(make_ledger()), make_ledger()
        there.import_lines(jsonl(enrol("Lead-He")), actor="hr-sync")
        reads: list[str] = []
        read_since = here._read_since  # the log's reads counted

        def counted(type_: str, *args: Any) -> int:
            reads.append(type_)
            return read_since(type_, *args)

        monkeypatch.setattr(here, "_read_since", counted)
        refused = {
            "record": _refusal(lambda: here.record([_enrolment("lead-he")], actor="hr-sync")),
            "import": _refusal(lambda: here.import_lines(jsonl(enrol("lead-he")), actor="x")),
        }
        reason = "rep lead-he is rep Lead-He in another spelling: one person has one id"
        assert refused == {"record": ("rep_id", reason), "import": ("rep_id", reason)}
        assert here.import_lines(jsonl(enrol("r9"), enrol("R10")), actor="hr-sync").stored == 2
        assert "RepEnrolled" not in reads

    def test_a_batch_s_enrolments_read_the_claims_in_one_query(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An import's enrolments look their forms up together, once (the rule
        then reads what was looked up), not once an enrolment."""
        seeded(ledger)
        asked = _claims_asked(ledger, monkeypatch)
        reps = ("Lead-He", "r1", "R2", "r3")
        assert ledger.import_lines(jsonl(*(enrol(r) for r in reps)), actor="hr").stored == 4
        assert asked == [["lead-he", "r1", "r2", "r3"]]

    def test_a_group_staged_again_under_the_lock_reads_the_claims_in_one_query(
        self, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A group of enrolments staged outside the lock, then staged again
        under it (another process appended meanwhile), looks their forms up
        together under the lock, once, not once an enrolment."""
        here, there = seeded(make_ledger()), make_ledger()
        reps = ("Lead-He", "r1", "R2", "r3")
        prepared = here.prepare_group([[Input.of(_enrolment(r), "hr")] for r in reps], None)
        there.import_lines(jsonl(enrol("r0")), actor="hr")  # the head moved: staged again
        asked = _claims_asked(here, monkeypatch)
        committed = here.commit_group(prepared)
        assert [isinstance(r, RecordResult) for r in committed.results] == [True] * 4
        assert committed.warm is None  # not as staged: the rules ran under the lock
        assert asked == [["lead-he", "r1", "r2", "r3"]]

    def test_a_store_of_an_earlier_version_is_indexed_when_opened(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        """A store written before the table — its enrolments claim nothing, and
        neither the table nor its mark exist — is indexed from its log when it
        is opened: every enrolment claims its form, `verify` finds the table
        as the log says, and the rule, which reads the table, refuses a new
        spelling of a rep enrolled there."""
        old = seeded(make_ledger(), "r1")
        old.import_lines(jsonl(enrol("Lead-He"), enrol("MGR.Zhao"), enrol("r2")), actor="hr")
        old.close()
        raw = Raw(db_url)
        with raw.cursor() as c:
            c.execute(f"DROP TABLE {raw.rep_keys}")
            c.execute(f"DELETE FROM {raw.state_table}")
        reopened = make_ledger()
        expected = [
            RepKey.of(r, p)
            for r in ("r1", "Lead-He", "MGR.Zhao", "r2")
            for p in _enrolled_at(reopened, r)
        ]
        assert reopened.chain.select_all_keys(REP_KEYS) == expected
        Reports(reopened).catch_up()
        assert verify_views(reopened) == []
        error = _rejected(reopened, jsonl(enrol("lead-he"), enrol("mgr.zhao")))
        assert [(e.field, e.reason) for e in error.errors] == [
            ("rep_id", "rep lead-he is rep Lead-He in another spelling: one person has one id"),
            ("rep_id", "rep mgr.zhao is rep MGR.Zhao in another spelling: one person has one id"),
        ]


def _enrolment(rep_id: str) -> ev.EventIn:
    return EVENT_ADAPTER.validate_python(enrol(rep_id))


def _claims_asked(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, wanted: KeyTable = REP_KEYS
) -> list[list[str]]:
    """Each look-up of claimed keys of table ``wanted`` under the lock (an append session's
    `select_keys` of ``table``) from now on, with the keys it asked, in order."""
    with ledger.chain.append_session() as session:
        kind = type(session)
    asked: list[list[str]] = []
    select = kind.select_keys

    def counted(self: Any, table: KeyTable, keys: Any) -> dict[str, str]:
        if table == wanted:
            asked.append(list(keys))
        return select(self, table, keys)

    monkeypatch.setattr(kind, "select_keys", counted)
    return asked


def _refusal(write: Callable[[], object]) -> tuple[str | None, str]:
    """The field and reason of the one input ``write`` is refused for."""
    with pytest.raises(BatchRejectedError) as caught:
        write()
    ((field, reason),) = [(e.field, e.reason) for e in caught.value.errors]
    return field, reason


class TestVerifyReadsTheRepKeys:
    """`verify` holds the rep ids' forms (`ledger.rep_keys`, what the store
    refuses a second spelling against) to the log: a row edited, deleted or
    added there is named, as an edited payout claims index is."""

    @staticmethod
    def _enrolled(ledger: Ledger, db_url: str) -> tuple[Raw, dict[str, RepKey]]:
        """Lead-He and r9 enrolled, the read models caught up, verify clean:
        the raw store and each rep's claim."""
        seeded(ledger)
        ledger.import_lines(jsonl(enrol("Lead-He"), enrol("r9")), actor="hr-sync")
        Reports(ledger).catch_up()
        assert verify_views(ledger) == []
        claims = {r: RepKey.of(r, p) for r in ("Lead-He", "r9") for p in _enrolled_at(ledger, r)}
        return Raw(db_url), claims

    def test_a_deleted_row_is_missing(self, db_url: str, ledger: Ledger) -> None:
        """Without Lead-He's row the store would take lead-he: verify says so."""
        raw, claims = self._enrolled(ledger, db_url)
        with raw.cursor() as c:
            c.execute(raw.q(f"DELETE FROM {raw.rep_keys} WHERE key = ?"), ("lead-he",))
        assert verify_views(ledger) == [
            f"rep_keys {tuple(claims['Lead-He'])}: missing from the table"
        ]

    def test_a_row_no_enrolment_claims_is_named(self, db_url: str, ledger: Ledger) -> None:
        """A form claimed for a rep nobody enrolled would refuse that rep."""
        raw, claims = self._enrolled(ledger, db_url)
        forged = RepKey.of("ghost", claims["r9"].position)
        with raw.cursor() as c:
            c.execute(raw.q(f"INSERT INTO {raw.rep_keys} VALUES (?, ?, ?)"), forged)
        assert verify_views(ledger) == [
            f"rep_keys {tuple(forged)}: in the table but no enrolment claims it"
        ]

    @pytest.mark.parametrize(
        ("column", "value"), [("position", 1), ("rep_id", "lead-he")], ids=["position", "rep_id"]
    )
    def test_an_edited_row_differs_from_the_log(
        self, db_url: str, ledger: Ledger, column: str, value: object
    ) -> None:
        """A row moved to another position, or naming another spelling."""
        raw, claims = self._enrolled(ledger, db_url)
        with raw.cursor() as c:
            c.execute(
                raw.q(f"UPDATE {raw.rep_keys} SET {column} = ? WHERE key = ?"), (value, "lead-he")
            )
        edited = claims["Lead-He"]._replace(**{column: value})
        assert verify_views(ledger) == [
            f"rep_keys {tuple(edited)}: differs from the log's {tuple(claims['Lead-He'])}"
        ]


def _split_sale(sale_id: str, *order: tuple[str, str]) -> dict[str, Any]:
    """A sale of r1's split between the reps of ``order`` (rep id, share), in that order."""
    splits = [{"rep_id": rep, "share": share} for rep, share in order]
    return sale(sale_id, "r1", splits=splits)


class TestSplitsAreASet:
    """SPEC §2: a sale's splits are a set; the same sale re-sent with its splits
    in another order (a re-sorted CRM export) is the same fact, skipped."""

    @pytest.mark.parametrize(
        "stored_order",
        [
            pytest.param((("r2", "0.6"), ("r1", "0.4")), id="stored-unsorted"),
            pytest.param((("r1", "0.4"), ("r2", "0.6")), id="stored-sorted"),
        ],
    )
    def test_a_sale_resent_with_its_splits_reordered_is_skipped(
        self, ledger: Ledger, stored_order: tuple[tuple[str, str], ...]
    ) -> None:
        """Stored in either order — an unsorted one being what a ledger held
        before splits were compared as a set —, the sale is skipped when re-sent
        in the other order or its own, and stays stored as it came (its content,
        so its hash and the chain's links, unchanged)."""
        seeded(ledger, "r1", "r2")
        ledger.import_lines(jsonl(_split_sale("S1", *stored_order)), actor="crm")
        count = stored_count(ledger)
        for order in (stored_order[::-1], stored_order):
            again = ledger.import_lines(jsonl(_split_sale("S1", *order)), actor="crm")
            assert (again.stored, again.skipped) == (0, 1)
        assert stored_count(ledger) == count
        kept = stored_record(ledger, "SaleRecorded", sale_id="S1").data["splits"]
        assert [s["rep_id"] for s in kept] == [rep for rep, _ in stored_order]
        assert ledger.verify().ok

    @pytest.mark.parametrize("chunk_size", [1, 1000])
    def test_one_file_holding_both_orders_stores_the_sale_once(
        self, ledger: Ledger, chunk_size: int
    ) -> None:
        """Within one file too, in one chunk or across chunks (the streamed
        import's optimistic path, staged again when a key collides)."""
        seeded(ledger, "r1", "r2")
        lines = jsonl(
            _split_sale("S1", ("r2", "0.5"), ("r1", "0.5")),
            sale("S2", "r1"),
            _split_sale("S1", ("r1", "0.5"), ("r2", "0.5")),
        )
        result = ledger.import_lines(lines, actor="crm", chunk_size=chunk_size)
        assert (result.stored, result.skipped) == (2, 1)

    def test_other_shares_are_still_a_conflict(self, ledger: Ledger) -> None:
        """Only the order is forgiven: the same reps with other shares, or a
        reordered sale with another amount, is other content."""
        seeded(ledger, "r1", "r2")
        ledger.import_lines(jsonl(_split_sale("S1", ("r2", "0.6"), ("r1", "0.4"))), actor="crm")
        other_shares = _split_sale("S1", ("r1", "0.6"), ("r2", "0.4"))
        other_amount = {**_split_sale("S1", ("r1", "0.4"), ("r2", "0.6")), "amount": "999.00"}
        for resent in (other_shares, other_amount):
            error = _rejected(ledger, jsonl(resent))
            assert error.status == "conflict"
            assert "other content" in error.errors[0].reason

    def test_a_split_sale_resent_unsplit_is_a_conflict(self, ledger: Ledger) -> None:
        """A split sale and the same sale without splits are two facts."""
        seeded(ledger, "r1", "r2")
        ledger.import_lines(jsonl(_split_sale("S1", ("r2", "0.5"), ("r1", "0.5"))), actor="crm")
        assert _rejected(ledger, jsonl(sale("S1", "r1"))).status == "conflict"


_AT = "2026-07-14T10:00:00+08:00"
_SCORE = {"rep_id": "r1", "period": "2026-Q3", "kpi": "customer_satisfaction"}
_CASE = {"case_id": "C1", "rep_id": "r1", "code": "late", "severity": "minor", "description": "x"}


def _zero_lines(amount: str, score: str) -> list[str]:
    """A case whose money involved is ``amount`` and a score of ``score``."""
    return jsonl(
        line("ViolationRecorded", at=_AT, **_CASE, amount=amount),
        line("KpiScored", at=_AT, **_SCORE, score=score),
    )


class TestZeroIsUnsigned:
    """``"-0.00"`` and ``"0.00"`` are one value: one fact, not two contents."""

    def test_a_signed_zero_and_zero_are_one_fact(self, ledger: Ledger) -> None:
        """A case's ``"-0.00"`` re-sent as ``"0.00"`` is skipped (it was a
        conflict), a score of ``"-0"`` and one of ``"0"`` are stored once (they
        were stored twice), and what is stored reads ``0.00`` and ``0``."""
        seeded(ledger, "r1")
        first = ledger.import_lines(_zero_lines("-0.00", "-0"), actor="mgr")
        again = ledger.import_lines(_zero_lines("0.00", "0"), actor="mgr")
        assert (first.stored, again.stored, again.skipped) == (2, 0, 2)
        assert stored_record(ledger, "ViolationRecorded", case_id="C1").data["amount"] == "0.00"
        assert stored_record(ledger, "KpiScored", rep_id="r1").data["score"] == "0"

    def test_a_zero_stored_signed_before_is_the_same_fact(self, ledger: Ledger) -> None:
        """A store written before zero was unsigned holds ``"-0.00"`` and
        ``"-0"`` (under their own content hashes, never rewritten): the file
        sent again — or sent unsigned — is skipped, neither a conflict nor a
        second score."""
        seeded(ledger, "r1")
        at = datetime.fromisoformat(_AT)
        as_before = [  # what the earlier canonical form made of "-0.00" and "-0"
            ev.ViolationRecorded.model_construct(
                type="ViolationRecorded", occurred_at=at, **_CASE, amount=Decimal("-0.00")
            ),
            ev.KpiScored.model_construct(
                type="KpiScored", occurred_at=at, **_SCORE, score=Decimal("-0")
            ),
        ]
        assert ledger.record(as_before, actor="mgr").stored == 2
        assert stored_record(ledger, "ViolationRecorded", case_id="C1").data["amount"] == "-0.00"
        count = stored_count(ledger)
        for amount, score in (("-0.00", "-0"), ("0.00", "0"), ("0", "0.0")):
            again = ledger.import_lines(_zero_lines(amount, score), actor="mgr")
            assert (again.stored, again.skipped) == (0, 2)
        assert stored_count(ledger) == count
        error = _rejected(ledger, _zero_lines("0.01", "0")[:1])
        assert error.status == "conflict"  # another amount is still other content
        assert ledger.verify().ok


BAD_INPUTS: list[tuple[str, Any, str | None, str]] = [
    ("malformed JSON", '{"type": "SaleRecorded", ', None, "malformed JSON"),
    ("not an object", "[1, 2]", None, "JSON object"),
    (
        "a key given twice",  # last-one-wins would have stored 5.00
        json.dumps(sale("S9", "r1", amount="100.00"))[:-1] + ', "amount": "5.00"}',
        "amount",
        "appears twice in one object",
    ),
    (
        "a key given twice in a split",
        json.dumps(sale("S9", "r1", splits=[{"rep_id": "r1", "share": "1"}])).replace(
            '"share": "1"', '"share": "1", "share": "0.5"'
        ),
        "share",
        "appears twice in one object",
    ),
    (
        "unknown event type",
        line("SaleBooked", sale_id="S9"),
        "type",
        "unknown event type",
    ),
    (
        "ledger-only type",
        line("PayoutCalculated", run_id="R1"),
        "type",
        "never imported",
    ),
    (
        "missing field",
        {k: v for k, v in sale("S9", "r1").items() if k != "amount"},
        "amount",
        "missing",
    ),
    ("extra field", sale("S9", "r1", discount="5"), "discount", "unknown field"),
    ("float money", sale("S9", "r1", amount=1234.5), "amount", "not a JSON number"),
    ("negative money", sale("S9", "r1", amount="-10.00"), "amount", "greater than 0"),
    (
        "three decimals",
        sale("S9", "r1", amount="10.001"),
        "amount",
        "CNY money has at most 2 decimal places",
    ),
    (
        "naive timestamp",
        sale("S9", "r1") | {"occurred_at": "2026-07-14T10:00:00"},
        "occurred_at",
        "offset",
    ),
    ("unknown rep", sale("S9", "ghost"), "rep_id", "unknown rep"),
    (
        "unknown split rep",
        sale(
            "S9",
            "r1",
            splits=[
                {"rep_id": "r1", "share": "0.5"},
                {"rep_id": "ghost", "share": "0.5"},
            ],
        ),
        "splits[1].rep_id",
        "unknown rep",
    ),
    (
        "unknown sale",
        line("SaleCancelled", sale_id="S404", reason="x"),
        "sale_id",
        "unknown sale",
    ),
    (
        "bad period",
        line("KpiScored", rep_id="r1", period="2026-13", kpi="nps", score="0.5"),
        "period",
        "2026-Q3",
    ),
    (
        "wrong period kind",
        line("KpiScored", rep_id="r1", period="2026-07", kpi="nps", score="0.5"),
        "period",
        "pays by quarter",
    ),
    (
        "splits not summing to 1",
        sale(
            "S9",
            "r1",
            splits=[{"rep_id": "r1", "share": "0.5"}, {"rep_id": "r2", "share": "0.4"}],
        ),
        "splits",
        "sum to 1",
    ),
    (
        "wrong currency",
        sale("S9", "r1") | {"currency": "USD"},
        "currency",
        "pays in CNY",
    ),
    ("unknown plan", enrol("r9", plan_id="no-such-plan"), "plan_id", "unknown plan"),
    (
        "unknown case",
        line("ViolationOverturned", case_id="C404", reason="appeal"),
        "case_id",
        "unknown case",
    ),
    (
        "unknown subject",
        line("ApprovalGranted", subject_id="nothing"),
        "subject_id",
        "no target, case",
    ),
    (
        "a departure before the enrolment",  # prorated the bonus to 0 of 92 days
        line("RepLeft", at="2026-06-01T10:00:00+08:00", rep_id="r1", reason="resigned"),
        "occurred_at",
        "a departure cannot take effect before that",
    ),
    (
        "an adjustment of a period before the enrolment",  # approved, never paid
        line(
            "AdjustmentRequested",
            adjustment_id="A9",
            rep_id="r1",
            period="2026-Q1",
            amount="700.00",
            reason="r",
        ),
        "period",
        "no payout covers it",
    ),
    (
        "bad severity",
        line(
            "ViolationRecorded",
            case_id="C1",
            rep_id="r1",
            code="x",
            severity="major",
            description="d",
        ),
        "severity",
        "minor",
    ),
]


class TestBadInput:
    @pytest.mark.parametrize(
        ("name", "bad", "field", "reason"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
    )
    def test_is_named_and_nothing_is_stored(
        self, ledger: Ledger, name: str, bad: Any, field: str | None, reason: str
    ) -> None:
        """SPEC §7: a clear error naming line and field; the store is unchanged."""
        seeded(ledger, "r1", "r2")
        text = bad if isinstance(bad, str) else json.dumps(bad)
        error = _rejected(ledger, [json.dumps(sale("OK-1", "r1")), text])
        assert len(error.errors) == 1, error.errors
        bad_line = error.errors[0]
        assert bad_line.line == 2
        assert bad_line.field == field
        assert reason in bad_line.reason

    def test_an_adjustment_of_a_period_no_plan_version_covers(self, ledger: Ledger) -> None:
        """r1 enrolled in November 2025 on a plan in force from 2026: an
        adjustment of 2025-Q4 could never be on a statement, so never paid."""
        seeded(ledger)
        ledger.import_lines(jsonl(enrol("r1", at="2025-11-01T09:00:00+08:00")), actor="hr")
        adjustment = line(
            "AdjustmentRequested",
            adjustment_id="A9",
            rep_id="r1",
            period="2025-Q4",
            amount="5000.00",
            reason="r",
        )
        error = _rejected(ledger, jsonl(adjustment))
        assert error.errors[0].field == "period"
        assert "no version of rep r1's plan field-sales is in force for 2025-Q4" in (
            error.errors[0].reason
        )

    def test_an_adjustment_of_a_period_paid_under_an_earlier_plan(self, ledger: Ledger) -> None:
        """r1 moved on 1 October to a plan in force from then; an adjustment of
        2026-Q3, recorded in November, is for the plan that paid Q3 (it was
        refused: the new plan covers no Q3)."""
        seeded(ledger, "r1")
        later = PLAN_TOML.replace('id = "field-sales"', 'id = "field-sales-2027"')
        later = later.replace("effective_from = 2026-01-01", "effective_from = 2026-10-01")
        ledger.publish_plan(load_plan(later, "toml"), actor="admin")
        assigned = line(
            "RepPlanAssigned",
            at="2026-10-01T00:00:00+08:00",
            rep_id="r1",
            plan_id="field-sales-2027",
        )
        adjustment = line(
            "AdjustmentRequested",
            at="2026-11-05T10:00:00+08:00",
            adjustment_id="A1",
            rep_id="r1",
            period="2026-Q3",
            amount="800.00",
            reason="a missed SPIFF",
        )
        assert ledger.import_lines(jsonl(assigned, adjustment), actor="fin-amy").stored == 2

    def test_a_file_stored_before_a_rule_was_added_is_skipped_again(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A departure and a transfer stored identically are skipped on re-import
        before their checks run: a file accepted before a check was added (a
        departure, a transfer dated before the enrolment) is not refused when
        sent again."""
        seeded(ledger, "r1")
        lines = jsonl(
            line("RepTransferred", at="2026-06-01T10:00:00+08:00", rep_id="r1", team="east"),
            line("RepLeft", at="2026-06-02T10:00:00+08:00", rep_id="r1", reason="resigned"),
        )
        with monkeypatch.context() as before_the_rule:
            before_the_rule.setattr(rules, "_not_before_enrolment", lambda *_, **__: None)
            assert ledger.import_lines(lines, actor="hr").stored == 2
        assert ledger.import_lines(lines, actor="hr").skipped == 2


class TestApprovals:
    def _adjustment(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        ledger.import_lines(
            jsonl(
                line(
                    "AdjustmentRequested",
                    actor="fin-amy",
                    adjustment_id="A1",
                    rep_id="r1",
                    period="2026-Q3",
                    amount="-150.00",
                    reason="duplicate travel claim",
                )
            ),
            actor="x",
        )

    def test_self_approval_is_refused(self, ledger: Ledger) -> None:
        """Maker-checker: whoever recorded the subject cannot approve it."""
        self._adjustment(ledger)
        error = _rejected(ledger, jsonl(line("ApprovalGranted", actor="fin-amy", subject_id="A1")))
        assert error.status == "conflict"
        assert error.errors[0].field == "actor"
        assert "maker-checker" in error.errors[0].reason

    def test_a_second_decision_is_refused(self, ledger: Ledger) -> None:
        self._adjustment(ledger)
        ledger.import_lines(
            jsonl(line("ApprovalGranted", actor="fin-bob", subject_id="A1")), actor="x"
        )
        error = _rejected(ledger, jsonl(line("ApprovalRejected", actor="fin-cat", subject_id="A1")))
        assert error.errors[0].field == "subject_id"
        assert "already approved by fin-bob" in error.errors[0].reason

    def test_the_same_decision_resent_is_skipped(self, ledger: Ledger) -> None:
        self._adjustment(ledger)
        approval = jsonl(line("ApprovalGranted", actor="fin-bob", subject_id="A1", note="ok"))
        assert ledger.import_lines(approval, actor="x").stored == 1
        assert ledger.import_lines(approval, actor="x").skipped == 1

    def test_a_subject_that_needs_no_approval_is_refused(self, ledger: Ledger) -> None:
        """A target set and recorded before its period started counts without
        approval (a period months from now: one that began before today would
        need approval, however early the target's occurred_at, SPEC §2)."""
        seeded(ledger, "r1")
        period = period_of(datetime.now(UTC) + timedelta(days=200), "quarter")
        ledger.import_lines(
            jsonl(
                line(
                    "TargetSet",
                    actor="mgr",
                    at=f"{period.first_day - timedelta(days=5)}T10:00:00+08:00",
                    target_id="T1",
                    rep_id="r1",
                    period=str(period),
                    kpi="sales_amount",
                    value="100000",
                    reason="plan",
                )
            ),
            actor="x",
        )
        error = _rejected(ledger, jsonl(line("ApprovalGranted", actor="fin", subject_id="T1")))
        assert "needs no approval" in error.errors[0].reason

    def test_one_id_names_one_subject_across_kinds(self, ledger: Ledger) -> None:
        """An approval names its subject by id alone: an adjustment under an
        approved target's id was approved by that decision (fin-bob's own
        999,999 paid at once), a case under an open run's id left the run
        undecidable. Each is refused, naming its id field; in one file too."""
        self._adjustment(ledger)
        ledger.import_lines(
            jsonl(line("ApprovalGranted", actor="fin-bob", subject_id="A1")), actor="x"
        )
        reused = {
            "TargetSet": {
                "target_id": "A1",
                "period": "2026-Q3",
                "kpi": "sales_amount",
                "value": "1",
                "reason": "r",
            },
            "ViolationRecorded": {
                "case_id": "A1",
                "code": "x",
                "severity": "minor",
                "description": "d",
            },
        }
        for type_, fields in reused.items():
            error = _rejected(ledger, jsonl(line(type_, actor="mgr", rep_id="r1", **fields)))
            assert error.status == "conflict"
            assert error.errors[0].field == ("target_id" if type_ == "TargetSet" else "case_id")
            assert "'A1' already names another subject" in error.errors[0].reason
            assert "adjustment" not in error.errors[0].reason  # its writer may not read it
        same_file = jsonl(
            line(
                "ViolationRecorded",
                rep_id="r1",
                case_id="K1",
                code="x",
                severity="minor",
                description="d",
            ),
            line(
                "AdjustmentRequested",
                actor="fin-bob",
                adjustment_id="K1",
                rep_id="r1",
                period="2026-Q3",
                amount="999999.00",
                reason="mine",
            ),
        )
        error = _rejected(ledger, same_file)
        assert [(e.line, e.field) for e in error.errors] == [(2, "adjustment_id")]

    def test_a_payout_run_cannot_be_paid_unapproved(self, ledger: Ledger) -> None:
        seeded(ledger)
        with pytest.raises(BatchRejectedError) as caught:
            ledger.pay_run("R-404", actor="fin")
        assert caught.value.errors[0].field == "run_id"


class TestEvents:
    def test_a_stored_event_carries_the_ledger_stamps(self, ledger: Ledger) -> None:
        """event_id, occurred_at (own offset), recorded_at, actor, position, hash."""
        seeded(ledger, "r1")
        outcome = ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm").outcomes[0]
        assert outcome.event_id is not None
        record = ledger.event(outcome.event_id)
        assert record.position == outcome.position
        assert record.occurred_at.isoformat() == "2026-07-14T10:00:00+08:00"
        assert record.actor == "crm-sync"
        assert len(record.hash) == 64
        assert record.recorded_at.endswith("+00:00")
        assert record.data["amount"] == "1000.00"
        head = ledger.head()
        assert head is not None
        assert head.position == record.position
        assert head.hash == record.hash

    def test_recorded_at_never_goes_backwards(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        for i in range(5):
            ledger.import_lines(jsonl(sale(f"S{i}", "r1")), actor="crm")
        stamps = [e.recorded_at for e in ledger.read_log()]
        assert stamps == sorted(stamps)

    def test_as_of_a_timestamp_names_a_prefix_of_the_log(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        first = ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm").outcomes[0]
        ledger.import_lines(jsonl(sale("S2", "r1")), actor="crm")
        stamp = ledger.event(str(first.event_id)).recorded_at
        assert ledger.resolve_as_of(stamp) == first.position
        assert ledger.resolve_as_of(str(first.position)) == first.position
