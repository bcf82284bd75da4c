"""No payouts on a broken chain (SPEC §6), on SQLite and PostgreSQL: after a
stored event is edited with SQL, `payout run`, the approval of a run, `payout
pay` and `payout export` refuse — ledger, CLI and HTTP — naming the first broken
position, and store nothing; `rebuild` reports the break and exits nonzero. The
check reads from a watermark kept in the database: only what came since."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import BatchRejectedError, BrokenChainError
from projections.service import Reports
from tests.builders import jsonl, line, payouts, sale, seeded, stored_count
from tests.integration.test_audit_chain import Raw
from tests.payout_scenes import Scene, api_over, cli, head_of, paid_scene


def _tampered(db_url: str, ledger: Ledger) -> tuple[Scene, int]:
    """A paid Q3 run and an open Q4 one, then a sale whose stored row is edited
    (its amount) behind the ledger's back; the sale's position."""
    scene = paid_scene(ledger, "r1", "r2")
    ledger.import_lines(jsonl(sale("S-late", "r1")), actor="crm")
    position = head_of(ledger)
    raw = Raw(db_url)
    edited = raw.state(position).replace(b'"1000.00"', b'"9000.00"')
    assert edited != raw.state(position)
    raw.set_state(position, edited)
    assert raw.state(position) == edited
    return scene, position


class TestRefusedOnABrokenChain:
    def test_the_ledger_refuses_every_payout_step(self, db_url: str, ledger: Ledger) -> None:
        scene, broken = _tampered(db_url, ledger)
        reports = scene.reports
        before = stored_count(ledger)
        steps: list[Callable[[], Any]] = [
            lambda: payouts(reports).payout_run("2027-Q2", actor="fin-amy"),
            lambda: payouts(reports).decide_run(scene.open_run, actor="fin-bob"),
            lambda: payouts(reports).pay_run(scene.approved_run, actor="fin-amy"),
            lambda: reports.export_csv(scene.paid_run),
            reports.rebuild,
        ]
        for step in steps:
            with pytest.raises(BrokenChainError, match=f"broken at position {broken}") as refused:
                step()
            assert refused.value.position == broken
        assert stored_count(ledger) == before
        # rejecting a run pays nobody: never held up (finance may want just that)
        payouts(reports).decide_run(scene.open_run, actor="fin-bob", granted=False)
        assert stored_count(ledger) == before + 1

    def test_the_write_rules_refuse_too(self, db_url: str, ledger: Ledger) -> None:
        """However a payout event arrives — an approval in an import or a POST
        /events body, a pay straight through the ledger — its rule checks the
        chain first; an approval of anything else is not a payout step."""
        scene, broken = _tampered(db_url, ledger)
        before = stored_count(ledger)
        approval = line("ApprovalGranted", actor="fin-bob", subject_id=scene.open_run)
        with pytest.raises(BatchRejectedError, match=f"broken at position {broken}"):
            ledger.import_lines(jsonl(approval), actor="fin-bob")
        with pytest.raises(BatchRejectedError, match=f"broken at position {broken}"):
            ledger.pay_run(scene.approved_run, actor="fin-amy")
        assert stored_count(ledger) == before
        target = line(
            "TargetSet",
            at="2026-08-01T10:00:00+08:00",
            actor="mgr",
            target_id="T-1",
            rep_id="r1",
            period="2026-Q3",
            kpi="sales_amount",
            value="1000.00",
            reason="mid-quarter change",
        )
        ledger.import_lines(jsonl(target), actor="mgr")
        decision = line("ApprovalGranted", actor="fin-bob", subject_id="T-1")
        ledger.import_lines(jsonl(decision), actor="fin-bob")
        assert stored_count(ledger) == before + 2

    def test_the_cli_refuses_and_rebuild_exits_nonzero(self, db_url: str, ledger: Ledger) -> None:
        scene, broken = _tampered(db_url, ledger)
        before = stored_count(ledger)
        for args in (
            ["payout", "run", "--period", "2027-Q2", "--actor", "fin-amy"],
            ["payout", "approve", scene.open_run, "--actor", "fin-bob"],
            ["payout", "pay", scene.approved_run, "--actor", "fin-amy"],
            ["payout", "export", scene.paid_run, "--format", "csv"],
            ["rebuild"],
        ):
            result = cli(*args, "--db", db_url)
            assert result.exit_code == 1, (args, result.output)
            assert f"broken at position {broken}" in result.output, (args, result.output)
        assert stored_count(ledger) == before

    def test_http_refuses(self, db_url: str, ledger: Ledger) -> None:
        scene, broken = _tampered(db_url, ledger)
        before = stored_count(ledger)
        with api_over(ledger, db_url) as api:
            answers = [
                api.client.post("/payouts/2027-Q2/runs", headers=api.as_("finance")),
                api.client.post(
                    "/approvals",
                    json={"subject_id": scene.open_run, "decision": "grant"},
                    headers=api.as_("finance2"),
                ),
                api.client.post(
                    f"/payouts/runs/{scene.approved_run}/pay", headers=api.as_("finance")
                ),
                api.client.get(
                    f"/payouts/runs/{scene.paid_run}/export.csv", headers=api.as_("finance")
                ),
            ]
        for answer in answers:
            assert answer.status_code == 409, answer.text
            assert f"broken at position {broken}" in answer.json()["detail"], answer.text
        assert stored_count(ledger) == before


class TestTheRunItself:
    def test_a_run_edited_below_the_watermark_is_refused(self, db_url: str, ledger: Ledger) -> None:
        """An incremental check does not read a verified event again; the run's
        own PayoutCalculated — what approve, pay and export act on — is checked
        against its link wherever it lies."""
        scene = paid_scene(ledger, "r1", "r2")
        assert ledger.check_chain().ok  # the watermark is past every run now
        runs = {
            r.data["run_id"]: r.position for r in ledger.iter_log() if r.type == "PayoutCalculated"
        }
        raw = Raw(db_url)
        for run_id in (scene.paid_run, scene.approved_run, scene.open_run):
            position = runs[run_id]
            raw.set_state(position, raw.state(position).replace(b'"total"', b'"total" '))
        assert ledger.check_chain().ok  # below the watermark: not read again
        before = stored_count(ledger)
        for step, position in (
            (
                lambda: payouts(scene.reports).decide_run(scene.open_run, actor="fin-bob"),
                runs[scene.open_run],
            ),
            (
                lambda: payouts(scene.reports).pay_run(scene.approved_run, actor="fin-amy"),
                runs[scene.approved_run],
            ),
            (lambda: scene.reports.export_csv(scene.paid_run), runs[scene.paid_run]),
        ):
            with pytest.raises(BrokenChainError, match=f"broken at position {position}"):
                step()
        with api_over(ledger, db_url) as api:
            answer = api.client.post(
                "/approvals",
                json={"subject_id": scene.open_run, "decision": "grant"},
                headers=api.as_("finance2"),
            )
        assert answer.status_code == 409, answer.text
        assert f"broken at position {runs[scene.open_run]}" in answer.json()["detail"]
        assert stored_count(ledger) == before


class TestWatermark:
    def test_a_check_reads_only_what_came_since_the_last(
        self, ledger: Ledger, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The watermark is kept in the database: a second ledger (another
        process) starts from it too."""
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(*(sale(f"S{i}", "r1") for i in range(5))), actor="crm")
        first = ledger.check_chain()
        assert (first.ok, first.checked) == (True, head_of(ledger))
        ledger.import_lines(jsonl(*(sale(f"T{i}", "r1") for i in range(3))), actor="crm")
        other = make_ledger()
        read = _count_reads(other, monkeypatch)
        second = other.check_chain()
        assert (second.ok, second.checked) == (True, 3)
        assert read == [3]  # the three new events' rows, nothing before them
        read.clear()
        third = other.check_chain()
        assert (third.ok, third.checked, read) == (True, 0, [])

    def test_an_edited_watermark_link_is_caught(self, db_url: str, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        ledger.check_chain()
        mark = head_of(ledger)
        raw = Raw(db_url)
        with raw.cursor() as c:
            c.execute(
                raw.q(f"UPDATE {raw.chain} SET hash = ? WHERE position = ?"), ("f" * 64, mark)
            )
        report = ledger.check_chain()
        assert (report.ok, report.broken_position) == (False, mark)
        assert "last verified link was changed" in str(report.reason)

    def test_a_failed_check_moves_nothing(self, db_url: str, ledger: Ledger) -> None:
        _, broken = _tampered(db_url, ledger)
        for _ in range(2):
            report = ledger.check_chain()
            assert (report.ok, report.broken_position) == (False, broken)

    def test_rebuild_checks_the_whole_chain_not_from_the_watermark(
        self, db_url: str, ledger: Ledger
    ) -> None:
        """An edit below the watermark is past an incremental check (SPEC §6 keeps
        it incremental); rebuild, which replays every event, checks them all."""
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")
        sale_at = head_of(ledger)
        assert ledger.check_chain().ok
        raw = Raw(db_url)
        raw.set_state(sale_at, raw.state(sale_at).replace(b'"1000.00"', b'"9000.00"'))
        assert ledger.check_chain().ok  # below the watermark: not read again
        with pytest.raises(BrokenChainError, match=f"broken at position {sale_at}"):
            Reports(ledger).rebuild()


class TestWhileOthersWrite:
    def test_checks_beside_a_stream_of_writes_find_no_break(
        self, ledger: Ledger, make_ledger: Callable[..., Ledger]
    ) -> None:
        """A check reads up to the head it found first: events committed while
        it reads (their links read apart from them) wait for the next check,
        never look like a deleted or unlinked event."""
        seeded(ledger, "r1")
        done = threading.Event()
        reports: list[Any] = []

        def check() -> None:
            checker = make_ledger()
            while not done.is_set():
                reports.append(checker.check_chain())

        thread = threading.Thread(target=check)
        thread.start()
        try:
            for batch in range(30):
                ledger.import_lines(
                    jsonl(*(sale(f"S{batch}-{i}", "r1") for i in range(20))), actor="crm"
                )
        finally:
            done.set()
            thread.join(timeout=120)
        assert reports
        assert [r for r in reports if not r.ok] == []
        final = ledger.check_chain()
        assert final.ok
        assert final.head is not None
        assert final.head.position == head_of(ledger)


def _count_reads(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many event rows each read of the chain check returns."""
    read: list[int] = []
    select = ledger.chain.select_event_rows

    def counted(after: int, limit: int) -> Any:
        rows = select(after, limit)
        if rows:
            read.append(len(rows))
        return rows

    monkeypatch.setattr(ledger.chain, "select_event_rows", counted)
    return read
