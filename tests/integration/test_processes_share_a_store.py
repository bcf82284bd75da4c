"""Several processes over one store (docker-compose: the API's workers, the
projection worker, the CLI beside them): a write rule that rests on what a
process keeps of the log — the plans' versions above all — checks each write
against the log as stored, whatever another process appended since. Each
`Ledger` here is one process: two on the same store, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.catalogue import EVENT_ADAPTER
from ledger.errors import BatchRejectedError
from ledger.results import RecordResult
from ledger.writes import Input
from policies.plan import Plan, load_plan
from tests.builders import PLAN_TOML, jsonl, line, pipelined, sale, seeded, stored_count
from tests.unit.shapes import plan_toml

MakeLedger = Callable[..., Ledger]

_DROPS_SATISFACTION = (
    '[{ kpi = "sales_amount", weight = 0.8 }, { kpi = "market_feedback", weight = 0.2 }]'
)


def _version_2(text: str, kpis: str | None = None) -> Plan:
    """``text``'s plan as version 2 (in force from the same day), weighing ``kpis``."""
    text = text.replace("version = 1", "version = 2")
    if kpis is not None:
        start, end = text.index("kpis = ["), text.index("tiers = [")
        text = f"{text[:start]}kpis = {kpis}\n{text[end:]}"
    return load_plan(text, "toml")


def _score(kpi: str) -> dict[str, Any]:
    return line("KpiScored", actor="mgr-zhao", rep_id="r1", period="2026-Q3", kpi=kpi, score="0.9")


def _two_processes(make_ledger: MakeLedger) -> tuple[Ledger, Ledger]:
    """This process, which has read the plans (it seeded r1 under field-sales v1
    and scored a KPI), and another one on the same store."""
    here = seeded(make_ledger(), "r1")
    here.import_lines(jsonl(_score("market_feedback")), actor="mgr-zhao")
    return here, make_ledger()


class TestAVersionPublishedByAnotherProcess:
    """Version 2 of field-sales, published by another process, weighs no
    customer_satisfaction: a score of it weighs nothing. This process's plans'
    cache was read again only for a plan id it lacked or a warning found
    against it, so it checked the score against version 1 and took it with
    nothing said, until it was started again."""

    def test_a_record_checks_against_it(self, make_ledger: MakeLedger) -> None:
        """A `POST /events` (the group commit) says the score weighs nothing."""
        here, there = _two_processes(make_ledger)
        there.publish_plan(_version_2(PLAN_TOML, _DROPS_SATISFACTION), actor="admin")
        scored = here.record(
            [EVENT_ADAPTER.validate_python(_score("customer_satisfaction"))], actor="mgr-zhao"
        )
        assert [(n, w.code) for n, w in scored.warnings] == [(1, "unknown_kpi")]

    def test_an_import_checks_against_it(self, make_ledger: MakeLedger) -> None:
        """An import says it too."""
        here, there = _two_processes(make_ledger)
        there.publish_plan(_version_2(PLAN_TOML, _DROPS_SATISFACTION), actor="admin")
        scored = here.import_lines(jsonl(_score("customer_satisfaction")), actor="mgr-zhao")
        assert [(n, w.code) for n, w in scored.warnings] == [(1, "unknown_kpi")]

    def test_a_dry_run_checks_against_it(self, make_ledger: MakeLedger) -> None:
        """A what-if (nothing recorded) says it too."""
        here, there = _two_processes(make_ledger)
        there.publish_plan(_version_2(PLAN_TOML, _DROPS_SATISFACTION), actor="admin")
        item = EVENT_ADAPTER.validate_python(_score("customer_satisfaction"))
        _, warnings = here.dry_run_warned([item], actor="mgr-zhao")
        assert [w.code for w in warnings] == ["unknown_kpi"]

    def test_a_group_staged_on_its_last_commit_checks_against_it(
        self, make_ledger: MakeLedger
    ) -> None:
        """The API's group commit stages a group on what its last commit left
        (the chain head it stood on): the version published by another process
        in between is read before the group is checked."""
        here, there = _two_processes(make_ledger)
        first = here.record(
            [EVENT_ADAPTER.validate_python(_score("sales_amount"))], actor="mgr-zhao"
        )
        assert first.stored == 1
        there.publish_plan(_version_2(PLAN_TOML, _DROPS_SATISFACTION), actor="admin")
        second, scored = pipelined(
            here, [_score("market_feedback") | {"score": "0.8"}], [_score("customer_satisfaction")]
        )
        assert isinstance(second, RecordResult)
        assert isinstance(scored, RecordResult)
        assert [(n, w.code) for n, w in scored.warnings] == [(1, "unknown_kpi")]

    def test_a_version_published_after_the_group_was_staged_is_read_under_the_lock(
        self, make_ledger: MakeLedger
    ) -> None:
        """Staged outside the writer lock before the other process published:
        appended under the lock, the group is checked again against the
        version as stored (the chain head moved)."""
        here, there = _two_processes(make_ledger)
        item = EVENT_ADAPTER.validate_python(_score("customer_satisfaction"))
        prepared = here.prepare_group([[Input.of(item, "mgr-zhao")]])
        there.publish_plan(_version_2(PLAN_TOML, _DROPS_SATISFACTION), actor="admin")
        [scored] = here.commit_group(prepared).results
        assert isinstance(scored, RecordResult)
        assert [(n, w.code) for n, w in scored.warnings] == [(1, "unknown_kpi")]


class TestAPlanPaidOnCollectionByAnotherProcess:
    """Version 2 of field-sales (CNY), published by another process, pays on
    collection: a rep who follows it keeps its currency (a sale booked under it
    releases CNY as the customer pays), so r1's move to a USD plan is refused.
    This process, whose cache held version 1 only, took the move."""

    @pytest.mark.parametrize("how", ["record", "import"], ids=["record", "import"])
    def test_a_move_to_another_currency_is_refused(self, make_ledger: MakeLedger, how: str) -> None:
        """Refused naming plan_id, by a record and an import; nothing stored."""
        here = seeded(make_ledger(), "r1")
        usd = PLAN_TOML.replace('id = "field-sales"', 'id = "usd-sales"')
        here.publish_plan(load_plan(usd.replace('"CNY"', '"USD"'), "toml"), actor="admin")
        collection = _version_2(plan_toml(commission='basis = "collection"\n'))
        make_ledger().publish_plan(collection, actor="admin")
        move = line(
            "RepPlanAssigned",
            at="2026-10-01T00:00:00+08:00",
            actor="hr-sync",
            rep_id="r1",
            plan_id="usd-sales",
        )
        before = stored_count(here)
        write: Callable[[], object] = (
            (lambda: here.record([EVENT_ADAPTER.validate_python(move)], actor="hr-sync"))
            if how == "record"
            else (lambda: here.import_lines(jsonl(move), actor="hr-sync"))
        )
        with pytest.raises(BatchRejectedError) as refused:
            write()
        ((field, reason),) = [(e.field, e.reason) for e in refused.value.errors]
        assert field == "plan_id"
        assert "pays on collection in CNY" in reason
        assert stored_count(here) == before


def test_the_versions_read_for_a_page_include_another_process_s(make_ledger: MakeLedger) -> None:
    """A page shows a statement's tier ladder from the version it was computed
    with (`Ledger.plan_versions`): one published by another process was
    missing from this process's list (its plan id known) until it restarted."""
    here, there = _two_processes(make_ledger)
    assert [p.version for p in here.plan_versions("field-sales")] == [1]
    there.publish_plan(_version_2(PLAN_TOML, _DROPS_SATISFACTION), actor="admin")
    assert [p.version for p in here.plan_versions("field-sales")] == [1, 2]


def test_writes_standing_on_this_process_s_last_commit_read_no_plans(
    make_ledger: MakeLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking each write against the versions as stored costs the common
    write nothing: one standing on the head this process's own last commit
    left reads no plan versions (only those published since it was there)."""
    here = seeded(make_ledger(), "r1")
    reads: list[list[str]] = []
    notifications = here._notifications  # the reads counted

    def counted(types: Any, *args: Any) -> Any:
        reads.append(list(types))
        return notifications(types, *args)

    monkeypatch.setattr(here, "_notifications", counted)
    for kpi in ("sales_amount", "market_feedback"):
        here.record([EVENT_ADAPTER.validate_python(_score(kpi))], actor="mgr-zhao")
    here.import_lines(jsonl(_score("customer_satisfaction")), actor="mgr-zhao")
    here.record([EVENT_ADAPTER.validate_python(_score("nsp"))], actor="mgr-zhao")
    assert ["PlanPublished"] not in reads
    make_ledger().publish_plan(_version_2(PLAN_TOML, _DROPS_SATISFACTION), actor="admin")
    here.record(
        [EVENT_ADAPTER.validate_python(_score("sales_amount") | {"score": "1.1"})],
        actor="mgr-zhao",
    )
    assert reads.count(["PlanPublished"]) == 1


class TestTheOtherListsAreReadAgain:
    """The write side's other lists of the log, kept per process — the FX
    rates, the targets — are read again where an answer depends on them (a
    rate before a sale is refused for want of one; the targets once per unit
    of work): what another process stored since is seen."""

    def test_a_rate_set_by_another_process_lets_a_sale_in(self, make_ledger: MakeLedger) -> None:
        """A USD sale refused for want of a rate goes in once another process sets one."""
        here = seeded(make_ledger(), "r1")
        usd = sale("S1", "r1") | {"currency": "USD"}
        with pytest.raises(BatchRejectedError):  # no rate yet: the rates were read
            here.import_lines(jsonl(usd), actor="crm-sync")
        rate = line("FxRateSet", at="2026-07-01T00:00:00+08:00", actor="fin-amy")
        make_ledger().import_lines(
            jsonl(rate | {"base": "USD", "quote": "CNY", "rate": "7.1"}), actor="fin-amy"
        )
        assert here.import_lines(jsonl(usd), actor="crm-sync").stored == 1

    def test_a_target_set_by_another_process_is_said_against(self, make_ledger: MakeLedger) -> None:
        """T3 is said to replace T2, which another process set after this one read T1."""
        here = seeded(make_ledger(), "r1")

        def target(target_id: str, day: str) -> dict[str, Any]:
            """r1's sales_amount target for 2026-Q3, set on a day of June."""
            kpi = {k: v for k, v in _score("sales_amount").items() if k != "score"}
            at = f"2026-06-{day}T10:00:00+08:00"
            fields = {"target_id": target_id, "value": "5000", "reason": "plan"}
            return kpi | fields | {"type": "TargetSet", "occurred_at": at}

        assert here.import_lines(jsonl(target("T1", "21")), actor="mgr-zhao").warnings == []
        make_ledger().import_lines(jsonl(target("T2", "22")), actor="mgr-zhao")
        result = here.record([EVENT_ADAPTER.validate_python(target("T3", "23"))], actor="mgr-zhao")
        assert [(w.code, w.values["other_id"]) for _, w in result.warnings] == [
            ("target_replaces", "T2")
        ]
