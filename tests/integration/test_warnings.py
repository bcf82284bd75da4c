"""Warn, don't guess (issue 16), on SQLite and PostgreSQL: an unknown KPI, a
category that differs from the plan's only by case or spacing, a sale whose own
rep is not among its splits are accepted as written — and said, in the write's
answer (per input) and on the statement (code, values, event ids, words)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.application import Ledger
from ledger.catalogue import EVENT_ADAPTER
from ledger.errors import BatchRejectedError
from ledger.results import RecordResult
from policies.plan import Plan, load_plan, plan_document
from policies.wording import render_warning
from projections.runner import verify_views
from projections.service import Reports
from tests.builders import PLAN_TOML, enrol, jsonl, line, pipelined, sale, seeded


def _kpi(kind: str, kpi: str, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"rep_id": "r1", "period": "2026-Q3", "kpi": kpi}
    if kind == "KpiScored":
        fields["score"] = "0.9"
    else:
        fields |= {"target_id": f"T-{kpi}", "value": "5", "reason": "plan"}
    return line(kind, actor="mgr-zhao", **fields, **extra)


def _said_and_stored(result: Any, english: str, *, stored: int, index: int = 0) -> None:
    """The answer's ``index``-th warning reads ``english`` (and in Chinese names
    its rep id, the first of its values), and every input was stored as written."""
    warning = result.warnings[index][1]
    assert render_warning(warning, "en") == english
    assert next(iter(warning.values.values())) in render_warning(warning, "zh-CN")
    assert result.stored == stored


def _event_ids(ledger: Ledger, result: Any) -> list[str]:
    return [str(o.event_id) for o in result.outcomes]


class TestUnknownKpi:
    def test_accepted_and_said_in_the_answer_and_on_the_statement(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        result = ledger.import_lines(
            jsonl(
                _kpi("KpiScored", "customer_satisfaction"),
                _kpi("KpiScored", "nsp"),
                _kpi("TargetSet", "nsp", at="2026-06-20T10:00:00+08:00"),
            ),
            actor="mgr-zhao",
        )
        assert result.stored == 3
        assert [(line_, w.code, w.field) for line_, w in result.warnings] == [
            (2, "unknown_kpi", "kpi"),
            (3, "unknown_kpi", "kpi"),
        ]
        assert [len(o.warnings) for o in result.outcomes] == [0, 1, 1]
        values = result.warnings[0][1].values
        assert values["kpi"] == "nsp"
        assert values["plan_kpis"] == "sales_amount, customer_satisfaction, market_feedback"

        statement = Reports(ledger).statement("r1", "2026-Q3")
        (warning,) = statement["warnings"]
        assert warning["code"] == "unknown_kpi"
        assert warning["values"]["kpi"] == "nsp"
        assert warning["event_ids"] == _event_ids(ledger, result)[1:]
        assert warning["text"] == (
            "KPI nsp is not in plan field-sales v1 (its KPIs: sales_amount, "
            "customer_satisfaction, market_feedback): its targets and scores weigh "
            "nothing in the score"
        )
        zh = Reports(ledger).statement(
            "r1", "2026-Q3", as_of=ledger.head().position, locale="zh-CN"
        )  # type: ignore[union-attr]
        assert zh["warnings"][0]["text"].startswith("KPI nsp 不在方案 field-sales 第 1 版中")


class TestCategoryLookalike:
    def test_case_and_spacing_warn_other_categories_do_not(self, ledger: Ledger) -> None:
        """``Software`` and ``Soft_Ware`` earn the default 0.05, not software's 0.08:
        said; ``software`` itself, ``hardware`` (no rate of its own) and no
        category are not."""
        seeded(ledger, "r1")
        result = ledger.import_lines(
            jsonl(
                sale("S1", "r1", category="Software"),
                sale("S2", "r1", category="software"),
                sale("S3", "r1", category="hardware"),
                sale("S4", "r1", category="Soft_Ware"),
                sale("S5", "r1"),
                sale("S6", "r1", category="Software"),
            ),
            actor="crm",
        )
        assert [(line_, w.code, w.values["category"]) for line_, w in result.warnings] == [
            (1, "category_lookalike", "Software"),
            (4, "category_lookalike", "Soft_Ware"),
            (6, "category_lookalike", "Software"),
        ]
        ids = _event_ids(ledger, result)
        statement = Reports(ledger).statement("r1", "2026-Q3")
        assert [(w["values"]["category"], w["event_ids"]) for w in statement["warnings"]] == [
            ("Software", [ids[0], ids[5]]),
            ("Soft_Ware", [ids[3]]),
        ]
        assert statement["warnings"][0]["text"] == (
            "Category Software differs from the plan's software only by case or spacing: "
            "its 2 sale(s) earn the default rate 0.0500, not 0.0800"
        )
        # accepted as written: Software pays the default rate (1000 × 0.05)
        commission = next(x for x in statement["lines"] if x["kind"] == "commission")
        assert commission["amount"] == "330.00"  # 80 (software) + 5 × 50

    def test_a_version_published_elsewhere_is_read_before_warning(self, make_ledger: Any) -> None:
        """A writer whose plans were read before another process published a
        version that gives ``Software`` a rate of its own does not warn from its
        stale copy."""
        writer = make_ledger()
        seeded(writer, "r1")
        writer.import_lines(jsonl(sale("S1", "r1", category="software")), actor="crm")
        document = PLAN_TOML.replace("version = 1", "version = 2").replace(
            "rates = { software = 0.08 }", 'rates = { software = 0.08, "Software" = 0.09 }'
        )
        make_ledger().publish_plan(load_plan(document, "toml"), actor="admin")
        result = writer.import_lines(jsonl(sale("S2", "r1", category="Software")), actor="crm")
        assert result.warnings == []


class TestRepNotInSplits:
    def test_said_on_the_answer_and_on_every_statement_it_touches(self, ledger: Ledger) -> None:
        seeded(ledger, "r1", "r2", "r3")
        splits = [{"rep_id": "r2", "share": "0.5"}, {"rep_id": "r3", "share": "0.5"}]
        result = ledger.import_lines(jsonl(sale("S1", "r1", splits=splits)), actor="crm")
        ((line_, warning),) = result.warnings
        assert (line_, warning.code, warning.field) == (1, "rep_not_in_splits", "splits")
        assert warning.values == {
            "sale_id": "S1",
            "rep_id": "r1",
            "splits": "r2 0.5000, r3 0.5000",
        }
        reports = Reports(ledger)
        for rep in ("r1", "r2", "r3"):
            statement = reports.statement("r1" if rep == "r1" else rep, "2026-Q3")
            assert [w["code"] for w in statement["warnings"]] == ["rep_not_in_splits"], rep
            assert statement["warnings"][0]["event_ids"] == _event_ids(ledger, result)
        r1 = reports.statement("r1", "2026-Q3")
        assert next(x for x in r1["lines"] if x["kind"] == "commission")["amount"] == "0.00"
        assert r1["warnings"][0]["text"] == (
            "Sale S1 is recorded for r1, who is not among its splits (r2 0.5000, r3 0.5000): "
            "r1 is credited nothing for it"
        )
        reports.catch_up()
        assert verify_views(ledger) == []
        rebuilt = reports.rebuild()
        assert rebuilt.applied > 0
        assert reports.statement("r1", "2026-Q3")["warnings"] == r1["warnings"]


class TestNoPlanInForce:
    def test_a_sale_before_the_plans_first_version_is_said_at_the_boundary(
        self, ledger: Ledger
    ) -> None:
        """The seed plan is in force from 1 January 2026: a sale on 31 December
        2025 (in its own offset) falls in 2025-Q4, which no statement can be made
        of — accepted as written, and said; one at the first instant of 2026 is
        not."""
        seeded(ledger, "r1")
        result = ledger.import_lines(
            jsonl(
                sale("S-LATE-2025", "r1") | {"occurred_at": "2025-12-31T23:59:59+08:00"},
                sale("S-2026", "r1") | {"occurred_at": "2026-01-01T00:00:00+08:00"},
            ),
            actor="crm",
        )
        assert result.stored == 2
        said = [(n, w.code, w.field, dict(w.values)) for n, w in result.warnings]
        values = {"sale_id": "S-LATE-2025", "plan_id": "field-sales", "period": "2025-Q4"}
        assert said == [(1, "no_plan_in_force", "occurred_at", values)]
        warning = result.warnings[0][1]
        assert render_warning(warning).startswith(
            "Sale S-LATE-2025 falls in 2025-Q4, before any version of plan field-sales is in force"
        )
        assert render_warning(warning, "zh-CN").startswith("销售 S-LATE-2025 属于 2025-Q4")


class TestManagerLookalike:
    def test_a_reps_id_in_another_spelling_warns_its_own_and_other_ids_do_not(
        self, ledger: Ledger
    ) -> None:
        """``Lead-He`` for rep ``lead-he``: lead-he manages r2 (scope compares
        actors) but would earn no override on r2's sales (overrides compare the
        ids as written) — said, at enrolment and at a transfer. ``lead-he``
        itself, and ``Mgr-Zhao`` (a manager who is no rep), are not."""
        seeded(ledger)
        result = ledger.import_lines(
            jsonl(
                enrol("lead-he"),
                enrol("r2", manager_id="Lead-He"),
                enrol("r3", manager_id="lead-he"),
                enrol("r4", manager_id="Mgr-Zhao"),
                line("RepTransferred", actor="hr-sync", rep_id="r3", manager_id="LEAD-HE"),
            ),
            actor="hr-sync",
        )
        assert [(n, w.code, w.values, w.field) for n, w in result.warnings] == [
            (
                2,
                "manager_lookalike",
                {"rep_id": "r2", "manager_id": "Lead-He", "manager_rep": "lead-he"},
                "manager_id",
            ),
            (
                5,
                "manager_lookalike",
                {"rep_id": "r3", "manager_id": "LEAD-HE", "manager_rep": "lead-he"},
                "manager_id",
            ),
        ]
        _said_and_stored(
            result,
            "manager_id Lead-He is rep lead-he's id in another spelling: lead-he manages r2, "
            "but an override is paid only to a manager_id written as the manager's rep id, so "
            "lead-he earns none on r2's sales; write it as lead-he",
            stored=5,
        )


class TestManagerLeft:
    def test_a_rep_put_under_a_manager_after_the_day_they_left_is_said(
        self, ledger: Ledger
    ) -> None:
        """m (a rep) left on 31 August: r2 enrolled under m on 10 September and
        r3 moved under m on 1 September are said; r4 moved under m on 31
        August itself is not (the day they left is still theirs)."""
        seeded(ledger)
        leaving = line("RepLeft", at="2026-08-31T18:00:00+08:00", rep_id="m", reason="resigned")
        moved = {"actor": "hr-sync", "manager_id": "m"}
        result = ledger.import_lines(
            jsonl(
                enrol("m"),
                enrol("r3"),
                enrol("r4"),
                leaving,
                enrol("r2", at="2026-09-10T09:00:00+08:00", manager_id="m"),
                line("RepTransferred", at="2026-09-01T09:00:00+08:00", rep_id="r3", **moved),
                line("RepTransferred", at="2026-08-31T20:00:00+08:00", rep_id="r4", **moved),
            ),
            actor="hr-sync",
        )
        assert [
            (n, w.code, w.values["rep_id"], w.values["left_on"]) for n, w in result.warnings
        ] == [
            (5, "manager_left", "r2", "2026-08-31"),
            (6, "manager_left", "r3", "2026-08-31"),
        ]
        assert render_warning(result.warnings[0][1], "en") == (
            "r2 is put under m, who left on 2026-08-31: they report to a manager who has "
            "gone, who earns no override on their sales from then on"
        )
        assert result.stored == 7  # accepted as written


def test_a_clean_statement_has_no_warnings(ledger: Ledger) -> None:
    seeded(ledger, "r1")
    ledger.import_lines(jsonl(sale("S1", "r1", category="software")), actor="crm")
    assert Reports(ledger).statement("r1", "2026-Q3")["warnings"] == []


class TestTransfersAtOneInstant:
    def test_two_transfers_of_a_rep_at_the_same_instant_are_said(self, ledger: Ledger) -> None:
        """r1 moved to m1 and to m2 at one instant (09:00 in Shanghai is 01:00
        UTC): which one is in force is the one recorded last — said, naming the
        field they disagree on. A team-only move at that instant agrees with
        both (it names no manager), and a move at another instant is not said."""
        seeded(ledger)
        ledger.import_lines(jsonl(enrol("m1"), enrol("m2"), enrol("r1")), actor="hr-sync")
        moved = {"actor": "hr-sync", "rep_id": "r1"}
        result = ledger.import_lines(
            jsonl(
                line("RepTransferred", at="2026-09-01T09:00:00+08:00", manager_id="m1", **moved),
                line("RepTransferred", at="2026-09-01T09:00:00+08:00", team="north", **moved),
                line("RepTransferred", at="2026-09-01T01:00:00+00:00", manager_id="m2", **moved),
                line("RepTransferred", at="2026-09-02T09:00:00+08:00", manager_id="m1", **moved),
            ),
            actor="hr-sync",
        )
        at = "2026-09-01T01:00:00+00:00"  # the instant as the third transfer wrote it
        said = {"rep_id": "r1", "occurred_at": at, "fields": "manager_id"}
        assert [(n, w.code, w.values) for n, w in result.warnings] == [
            (3, "transfer_same_instant", said)
        ]
        _said_and_stored(
            result,
            "Another transfer of r1 takes effect at the same instant "
            "(2026-09-01T01:00:00+00:00) with another manager_id: the one recorded last "
            "is in force from then on; date them apart if both should count, in order",
            stored=4,
        )


class TestKpiRescored:
    def test_a_second_score_for_one_kpi_and_period_says_which_counts(self, ledger: Ledger) -> None:
        """A second customer_satisfaction score of r1 for 2026-Q3 is said: dated
        at or after the one stored it replaces it; dated before, it is stored
        but does not count (README: the latest by occurred_at counts). Another
        KPI, another period or the same score re-sent are not said."""
        seeded(ledger, "r1")
        first = _kpi("KpiScored", "customer_satisfaction", at="2026-09-20T10:00:00+08:00")
        result = ledger.import_lines(
            jsonl(
                first,
                _kpi("KpiScored", "market_feedback"),
                first,  # the same fact again: skipped
                _kpi("KpiScored", "customer_satisfaction", at="2026-09-20T10:00:00+08:00")
                | {"score": "0.95"},
                _kpi("KpiScored", "customer_satisfaction", at="2026-09-01T10:00:00+08:00")
                | {"score": "0.5"},
                _kpi("KpiScored", "customer_satisfaction", at="2026-10-02T10:00:00+08:00")
                | {"period": "2026-Q4"},
            ),
            actor="mgr-zhao",
        )
        said = {
            "rep_id": "r1",
            "kpi": "customer_satisfaction",
            "period": "2026-Q3",
            "other_at": "2026-09-20T10:00:00+08:00",
        }
        assert [(n, w.code, w.values, w.field) for n, w in result.warnings] == [
            (4, "kpi_score_replaces", said, "occurred_at"),
            (5, "kpi_score_outdated", said, "occurred_at"),
        ]
        _said_and_stored(
            result,
            "r1 already has a customer_satisfaction score for 2026-Q3 (dated "
            "2026-09-20T10:00:00+08:00): this one, dated at or after it, replaces it",
            stored=5,  # the re-sent score skipped
        )
        _said_and_stored(
            result,
            "r1 already has a customer_satisfaction score for 2026-Q3 dated later "
            "(2026-09-20T10:00:00+08:00): this one is stored but does not count — the "
            "latest by occurred_at counts; date a correction at or after the score it corrects",
            stored=5,
            index=1,
        )


def _target(target_id: str, at: str, **extra: Any) -> dict[str, Any]:
    return _kpi("TargetSet", "sales_amount", at=at, **extra) | {"target_id": target_id}


class TestSecondTarget:
    def test_a_second_target_for_one_kpi_and_period_says_which_counts(self, ledger: Ledger) -> None:
        """A second sales_amount target of r1 for 2026-Q3 is said against the
        latest stored, whether that was stored earlier or in the same write:
        dated at or after it, it replaces it once it counts (T4, set after the
        quarter started, awaits approval); dated before, it does not count
        while that one does. A rejected target is no longer said against (it
        never counts); another KPI's target, or one re-sent, is not said."""
        seeded(ledger, "r1")
        first = _target("T1", "2026-06-25T10:00:00+08:00")
        other_kpi = _kpi("TargetSet", "market_feedback", at="2026-06-25T10:00:00+08:00")
        assert ledger.import_lines(jsonl(first, other_kpi), actor="mgr-zhao").warnings == []
        result = ledger.import_lines(
            jsonl(
                _target("T2", "2026-06-28T10:00:00+08:00"),
                _target("T3", "2026-06-20T10:00:00+08:00"),
                first,  # the same target again: skipped
                _target("T4", "2026-08-01T10:00:00+08:00"),
            ),
            actor="mgr-zhao",
        )
        said = {"rep_id": "r1", "kpi": "sales_amount", "period": "2026-Q3"}
        t1 = said | {"other_id": "T1", "other_at": "2026-06-25T10:00:00+08:00"}
        t2 = said | {"other_id": "T2", "other_at": "2026-06-28T10:00:00+08:00"}
        assert [(n, w.code, w.values, w.field) for n, w in result.warnings] == [
            (1, "target_replaces", t1, "occurred_at"),
            (2, "target_outdated", t2, "occurred_at"),
            (4, "target_replaces", t2, "occurred_at"),
        ]
        _said_and_stored(
            result,
            "r1 already has a sales_amount target for 2026-Q3 dated later (T2, "
            "2026-06-28T10:00:00+08:00): this one is stored but does not count while that "
            "one does (approved, or needing no approval) — the latest by occurred_at counts; "
            "date a change at or after the target it changes",
            stored=3,
            index=1,
        )
        _said_and_stored(
            result,
            "r1 already has a sales_amount target for 2026-Q3 (T2, dated "
            "2026-06-28T10:00:00+08:00): this one, dated at or after it, replaces it from "
            "when this one counts — at once if it needs no approval, else once approved",
            stored=3,
            index=2,
        )
        rejected = line("ApprovalRejected", actor="fin-amy", subject_id="T4", note="no")
        later = ledger.import_lines(
            jsonl(rejected, _target("T5", "2026-07-15T10:00:00+08:00")), actor="fin-amy"
        )
        assert [(n, w.code, w.values["other_id"]) for n, w in later.warnings] == [
            (2, "target_replaces", "T2")
        ]


class TestSecondTargetUnderLoad:
    """The API's group commit stages a group while the one before it is being
    committed: what that one staged is said against as if it were stored."""

    def test_a_target_rejected_by_the_group_before_is_said_against_no_more(
        self, ledger: Ledger
    ) -> None:
        """T4 (dated after T2, awaiting approval) is rejected in one request;
        T5, dated between them, comes in the next group: it replaces T2 — T4
        never counts — and was said to not count while T4 does."""
        seeded(ledger, "r1")
        ledger.import_lines(
            jsonl(
                _target("T2", "2026-06-28T10:00:00+08:00"),
                _target("T4", "2026-08-01T10:00:00+08:00"),
            ),
            actor="mgr-zhao",
        )
        rejected = line("ApprovalRejected", actor="fin-amy", subject_id="T4", note="no")
        decided, later = pipelined(ledger, [rejected], [_target("T5", "2026-07-15T10:00:00+08:00")])
        assert isinstance(decided, RecordResult)
        assert isinstance(later, RecordResult)
        assert [(n, w.code, w.values["other_id"]) for n, w in later.warnings] == [
            (1, "target_replaces", "T2")
        ]

    def test_a_target_set_by_the_group_before_is_said_against(self, ledger: Ledger) -> None:
        """T1 in one request, T2 for the same KPI and period in the next group:
        T2 replaces T1 — it was stored with nothing said."""
        seeded(ledger, "r1")
        first, second = pipelined(
            ledger,
            [_target("T1", "2026-06-25T10:00:00+08:00")],
            [_target("T2", "2026-06-28T10:00:00+08:00")],
        )
        assert isinstance(first, RecordResult)
        assert isinstance(second, RecordResult)
        assert (first.warnings, second.stored) == ([], 1)
        assert [(n, w.code, w.values["other_id"]) for n, w in second.warnings] == [
            (1, "target_replaces", "T1")
        ]


def _version_2(kpis: str) -> dict[str, Any]:
    """A PlanPublished line: the seed plan's version 2, in force from its first
    version's date, weighing ``kpis`` (TOML) instead of the seed's three."""
    text = PLAN_TOML.replace("version = 1", "version = 2")
    start, end = text.index("kpis = ["), text.index("tiers = [")
    document = plan_document(load_plan(f"{text[:start]}kpis = {kpis}\n{text[end:]}", "toml"))
    return line("PlanPublished", actor="admin", plan=document)


class TestPlanUnderLoad:
    """A group staged while the one before it is being committed says what it
    says against the plan versions that one published (`HandOff`): neither the
    plans' cache nor the store holds them yet."""

    def test_a_kpi_the_version_before_dropped_is_said(self, ledger: Ledger) -> None:
        """Version 2, published in one request, weighs no customer_satisfaction;
        a score of it in the next group weighs nothing — it was stored with
        nothing said (checked against version 1, which weighs it)."""
        seeded(ledger, "r1")
        v2 = _version_2(
            '[{ kpi = "sales_amount", weight = 0.8 }, { kpi = "market_feedback", weight = 0.2 }]'
        )
        published, scored = pipelined(ledger, [v2], [_kpi("KpiScored", "customer_satisfaction")])
        assert isinstance(published, RecordResult)
        assert isinstance(scored, RecordResult)
        assert [(n, w.code, w.values["kpi"]) for n, w in scored.warnings] == [
            (1, "unknown_kpi", "customer_satisfaction")
        ]
        assert "field-sales v2" in render_warning(scored.warnings[0][1], "en")

    def test_a_kpi_the_version_before_added_is_not_said(self, ledger: Ledger) -> None:
        """Version 2 weighs nsp; a score of nsp in the next group was said to
        weigh nothing (version 1 has no nsp, and the store, read again before
        saying so, did not hold version 2 yet)."""
        seeded(ledger, "r1")
        v2 = _version_2('[{ kpi = "sales_amount", weight = 0.8 }, { kpi = "nsp", weight = 0.2 }]')
        published, scored = pipelined(ledger, [v2], [_kpi("KpiScored", "nsp")])
        assert isinstance(published, RecordResult)
        assert isinstance(scored, RecordResult)
        assert (scored.warnings, scored.stored) == ([], 1)


class TestAPlanPublishedHere:
    """A plan version this ledger published is what its next checks say things
    against: its plans' cache was read again only for a plan id it lacked or a
    warning found against it, so a KPI the new version drops was said nothing
    until the process started again (another process's ledger said it)."""

    _DROPS_SATISFACTION = (
        '[{ kpi = "sales_amount", weight = 0.8 }, { kpi = "market_feedback", weight = 0.2 }]'
    )

    def test_by_an_import(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(_version_2(self._DROPS_SATISFACTION)), actor="admin")
        scored = ledger.import_lines(
            jsonl(_kpi("KpiScored", "customer_satisfaction")), actor="mgr-zhao"
        )
        assert [(n, w.code) for n, w in scored.warnings] == [(1, "unknown_kpi")]

    def test_by_a_group_commit(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        version = _version_2(self._DROPS_SATISFACTION)
        ledger.publish_plan(Plan.model_validate(version["plan"]), actor="admin")
        scored = ledger.record(
            [EVENT_ADAPTER.validate_python(_kpi("KpiScored", "customer_satisfaction"))],
            actor="mgr-zhao",
        )
        assert [(n, w.code) for n, w in scored.warnings] == [(1, "unknown_kpi")]


def _reads(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The event types ``ledger`` reads from the log as the write side's lists
    (rates, targets, enrolments: `Ledger._read_since`), one entry a read."""
    reads: list[str] = []
    read_since = ledger._read_since  # the reads counted

    def counted(type_: str, *args: Any) -> int:
        reads.append(type_)
        return read_since(type_, *args)

    monkeypatch.setattr(ledger, "_read_since", counted)
    return reads


def test_an_import_into_an_empty_ledger_reads_the_stored_targets_once(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The targets a second one is said against are read from the store once
    per unit of work, also when the ledger is empty: its head reads 0 to other
    readers until the import's one transaction commits, and "read up to 0" was
    taken for "never read" — every target of a first import read the log again
    (1,680 reads, 14 of its 34 s, on the benchmark's 200,000 events)."""
    reads = _reads(ledger, monkeypatch)
    targets = [
        _target(f"T{year}{q}", "2026-06-25T10:00:00+08:00") | {"period": f"{year}-Q{q}"}
        for year in (2027, 2028, 2029)
        for q in range(1, 5)
    ]
    plan = line("PlanPublished", actor="admin", plan=plan_document(load_plan(PLAN_TOML, "toml")))
    ledger.import_lines(jsonl(plan, enrol("r1"), *targets), actor="mgr-zhao")
    assert reads.count("TargetSet") == 1


def test_an_import_into_an_empty_ledger_reads_the_stored_rates_once_unless_asked_afresh(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for the FX rates: in an import into an empty ledger, a lookup
    of the stored rates that does not ask for them afresh reads the store the
    first time only (never read) — "read up to 0" was taken for "never read",
    and every such lookup read the log again. (A lookup asks afresh before a
    sale in a foreign currency is refused for want of a rate, SPEC §3.1.)"""
    reads = _reads(ledger, monkeypatch)
    moments = ledger._fx_moments  # the lookups, each followed by the reads it made

    def looked_up(base: str, quote: str, fresh: bool) -> list[Any]:
        reads.append(f"lookup fresh={fresh}")
        return moments(base, quote, fresh)

    monkeypatch.setattr(ledger, "_fx_moments", looked_up)
    plan = line("PlanPublished", actor="admin", plan=plan_document(load_plan(PLAN_TOML, "toml")))
    sales = [sale(f"S{n}", "r1") | {"currency": "USD"} for n in range(1, 4)]
    with pytest.raises(BatchRejectedError) as refused:
        ledger.import_lines(jsonl(plan, enrol("r1"), *sales), actor="crm-sync")
    assert [(e.line, e.field) for e in refused.value.errors] == [
        (3, "currency"),
        (4, "currency"),
        (5, "currency"),
    ]
    not_afresh = [i for i, what in enumerate(reads) if what == "lookup fresh=False"]
    assert len(not_afresh) >= len(sales)
    read_then = [i for i in not_afresh if reads[i + 1 : i + 2] == ["FxRateSet"]]
    assert read_then == not_afresh[:1]
