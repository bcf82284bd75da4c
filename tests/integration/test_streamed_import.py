"""The streamed import (SPEC §2 all-or-nothing, issue 5 memory): a file is checked
and appended chunk by chunk inside one transaction. Lines must see every earlier
line across chunk boundaries, a bad line anywhere stores nothing, and the
optimistic "new keys are new" shortcut must give the same outcome as looking up
every key — on both stores."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.backends.postgres import PostgresAppendSession
from ledger.backends.sqlite import SQLiteAppendSession
from ledger.errors import BatchRejectedError, StoreUnavailableError
from ledger.ingestion import pipeline
from tests.builders import enrol, jsonl, line, sale, seeded, stored_count


def _cancel(sale_id: str, at: str = "2026-07-20T10:00:00+08:00") -> dict[str, Any]:
    return line("SaleCancelled", at=at, sale_id=sale_id, reason="customer withdrew")


def _file(n: int) -> list[str]:
    """n sales; every fifth is cancelled a few lines later (often in a later chunk)."""
    events: list[dict[str, Any]] = []
    for i in range(n):
        events.append(sale(f"S{i}", "r1" if i % 2 else "r2", f"{100 + i}.00"))
        if i >= 3 and (i - 3) % 5 == 0:
            events.append(_cancel(f"S{i - 3}"))
    return jsonl(*events)


class TestChunks:
    def test_lines_see_earlier_lines_across_chunks(self, ledger: Ledger) -> None:
        seeded(ledger, "r1", "r2")
        lines = _file(60)
        result = ledger.import_lines(lines, actor="crm", chunk_size=7)
        assert (result.stored, result.skipped) == (len(lines), 0)
        cancelled = {r.data["sale_id"] for r in ledger.iter_log() if r.type == "SaleCancelled"}
        assert cancelled == {f"S{i}" for i in range(0, 57, 5)}
        assert ledger.verify().ok

    def test_outcomes_name_each_line_s_event_in_order(self, ledger: Ledger) -> None:
        """A chunk's links are written while the next is staged: every line still
        gets its own event id and position, in input order, as the log has them."""
        seeded(ledger, "r1", "r2")
        lines = _file(50)
        result = ledger.import_lines(lines, actor="crm", chunk_size=4)
        assert [o.line for o in result.outcomes] == list(range(1, len(lines) + 1))
        logged = [r for r in ledger.iter_log() if r.type in {"SaleRecorded", "SaleCancelled"}]
        assert [(o.event_id, o.position) for o in result.outcomes] == [
            (r.event_id, r.position) for r in logged
        ]
        assert ledger.verify().ok

    def test_a_failure_writing_a_chunk_s_links_stores_nothing(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The links of one chunk fail to be written while the next is staged:
        the import fails, and nothing of it is stored."""
        from ledger.chain import ChainHasher

        seeded(ledger, "r1", "r2")
        before = stored_count(ledger)
        real = ChainHasher.extend
        calls = []

        def failing(self: ChainHasher, *args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError("the disk filled up")
            return real(self, *args, **kwargs)

        monkeypatch.setattr(ChainHasher, "extend", failing)
        with pytest.raises(RuntimeError, match="disk filled up"):
            ledger.import_lines(_file(40), actor="crm", chunk_size=5, parse_workers=0)
        monkeypatch.undo()
        assert stored_count(ledger) == before
        assert ledger.import_lines(_file(40), actor="crm", chunk_size=5).skipped == 0
        assert ledger.verify().ok

    def test_a_re_import_with_other_chunks_skips_every_line(self, ledger: Ledger) -> None:
        seeded(ledger, "r1", "r2")
        lines = _file(40)
        result = ledger.import_lines(lines, actor="crm", chunk_size=3)
        again = ledger.import_lines(lines, actor="crm", chunk_size=1_000)
        assert (again.stored, again.skipped) == (0, result.stored)
        assert [o.status for o in again.outcomes] == ["skipped"] * len(lines)

    def test_a_bad_line_in_the_last_chunk_stores_nothing(self, ledger: Ledger) -> None:
        seeded(ledger, "r1", "r2")
        lines = [*_file(30), json.dumps(sale("S-bad", "nobody"))]
        before = stored_count(ledger)
        with pytest.raises(BatchRejectedError) as caught:
            ledger.import_lines(lines, actor="crm", chunk_size=4)
        assert [(e.line, e.field) for e in caught.value.errors] == [(len(lines), "rep_id")]
        assert stored_count(ledger) == before

    def test_a_cancellation_of_a_sale_from_a_bad_chunk_is_not_an_extra_error(
        self, ledger: Ledger
    ) -> None:
        """A chunk with a bad line is still appended (then rolled back with the
        rest), so later lines are judged against it: one bad line, one error."""
        seeded(ledger, "r1")
        lines = jsonl(
            sale("S1", "r1"),
            {**sale("S2", "r1"), "amount": "-5.00"},
            sale("S3", "r1"),
            _cancel("S1"),
            _cancel("S3"),
        )
        with pytest.raises(BatchRejectedError) as caught:
            ledger.import_lines(lines, actor="crm", chunk_size=2)
        assert [(e.line, e.field) for e in caught.value.errors] == [(2, "amount")]

    def test_a_chunk_checked_again_is_appended_after_the_writer_is_done(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A chunk with a bad line is checked again and appended by the import
        itself: on the session's cursor the writer thread may still be copying
        the chunk before's links with (PostgreSQL writes them after the events),
        so two threads ran statements on one cursor at once. It is appended on
        the writer thread now, after what was handed to it before."""
        seeded(ledger, "r1")
        busy: list[int] = []  # the writer thread, while in an optimistic append
        overlapped: list[bool] = []
        came = threading.Event()
        sessions = (SQLiteAppendSession, PostgresAppendSession)
        early = {kind: kind.try_append_early for kind in sessions}
        append = {kind: kind.append for kind in sessions}

        def held_early(session: Any, events: Any, on_visible: Any) -> Any:
            def visible(appended: bool) -> None:
                on_visible(appended)
                came.wait(2)  # the links still to write, a while

            busy.append(threading.get_ident())
            try:
                return early[type(session)](session, events, visible)
            finally:
                busy.clear()

        def watched_append(session: Any, events: Any) -> Any:
            if threading.get_ident() not in busy:  # not within the writer's own
                overlapped.append(bool(busy))
                came.set()
            return append[type(session)](session, events)

        for kind in sessions:
            monkeypatch.setattr(kind, "try_append_early", held_early)
            monkeypatch.setattr(kind, "append", watched_append)
        lines = jsonl(sale("S1", "r1"), sale("S2", "r1"), sale("S3", "nobody"), sale("S4", "r1"))
        with pytest.raises(BatchRejectedError):
            ledger.import_lines(lines, actor="crm", chunk_size=2, parse_workers=0)
        assert overlapped == [False]

    @pytest.mark.parametrize("chunk_size", [1_000, 2], ids=["one-chunk", "two-chunks"])
    def test_a_key_given_twice_across_chunks_is_said_given_twice(
        self, ledger: Ledger, chunk_size: int
    ) -> None:
        """A sale id (and a sale's cancellation, a fact that happens once) given
        twice in one file with other content, the two lines in different chunks:
        it was refused as "already stored" — as if an earlier import stored it —
        though nothing was; said as within one chunk, naming both lines, and the
        whole file still refused."""
        seeded(ledger, "r1")
        lines = jsonl(
            sale("S1", "r1", "1000.00"),
            sale("S2", "r1"),
            sale("S1", "r1", "2000.00"),
            _cancel("S2"),
            _cancel("S2", at="2026-07-21T10:00:00+08:00"),
        )
        before = stored_count(ledger)
        with pytest.raises(BatchRejectedError) as caught:
            ledger.import_lines(lines, actor="crm", chunk_size=chunk_size, parse_workers=0)
        assert stored_count(ledger) == before
        said = [e.describe("line") for e in caught.value.errors]
        assert [s.split(", with other content")[0] for s in said] == [
            "line 3, field sale_id: sale S1 is given twice in this file, at line 1 and line 3",
            (
                "line 5, field sale_id: the cancellation of sale S2 is given twice in this "
                "file, at line 4 and line 5"
            ),
        ]
        assert not any("already" in s for s in said), said
        assert caught.value.status == "conflict"

    @pytest.mark.parametrize("chunk_size", [1_000, 2], ids=["one-chunk", "two-chunks"])
    def test_a_key_stored_before_and_given_again_is_still_said_stored(
        self, ledger: Ledger, chunk_size: int
    ) -> None:
        """A key an earlier import stored, given again identically (skipped) and
        then with other content in a later chunk: a conflict with what is stored,
        as before; and a line repeated as it is, across chunks, is skipped."""
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S1", "r1", "1000.00")), actor="crm")
        repeated = jsonl(sale("S1", "r1", "1000.00"), sale("S2", "r1"), sale("S2", "r1"))
        result = ledger.import_lines(repeated, actor="crm", chunk_size=chunk_size)
        assert (result.stored, result.skipped) == (1, 2)
        lines = [*repeated, *jsonl(sale("S3", "r1"), sale("S1", "r1", "2000.00"))]
        with pytest.raises(BatchRejectedError) as caught:
            ledger.import_lines(lines, actor="crm", chunk_size=chunk_size, parse_workers=0)
        [refused] = caught.value.errors
        assert (refused.line, refused.twice) == (5, None)
        assert "sale S1 is already stored with other content" in refused.reason


class TestOptimisticKeys:
    def test_a_partly_stored_file_stores_the_rest(self, ledger: Ledger) -> None:
        """Re-importing a file whose first half is stored: chunks that collide are
        checked again key by key; the rest is appended; nothing twice."""
        seeded(ledger, "r1", "r2")
        lines = _file(40)
        half = len(lines) // 2
        ledger.import_lines(lines[:half], actor="crm", chunk_size=5)
        result = ledger.import_lines(lines, actor="crm", chunk_size=5)
        assert (result.stored, result.skipped) == (len(lines) - half, half)
        sales = [r.data["sale_id"] for r in ledger.iter_log() if r.type == "SaleRecorded"]
        assert len(sales) == len(set(sales)) == 40
        assert ledger.verify().ok

    def test_a_stored_key_with_other_content_is_a_conflict_on_its_line(
        self, ledger: Ledger
    ) -> None:
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")
        before = stored_count(ledger)
        lines = jsonl(sale("S0", "r1"), sale("S1", "r1", "999.00"), sale("S2", "r1"))
        with pytest.raises(BatchRejectedError) as caught:
            ledger.import_lines(lines, actor="crm")
        assert [(e.line, e.field, e.status) for e in caught.value.errors] == [
            (2, "sale_id", "conflict")
        ]
        assert stored_count(ledger) == before

    def test_a_cancellation_before_a_resent_sale_in_one_chunk(self, ledger: Ledger) -> None:
        """The cancel names a stored sale that the same chunk also re-sends: assumed
        new, the cancel would look unknown; the careful re-check gets it right."""
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")
        result = ledger.import_lines(jsonl(_cancel("S1"), sale("S1", "r1")), actor="crm")
        assert (result.stored, result.skipped) == (1, 1)
        assert [o.status for o in result.outcomes] == ["stored", "skipped"]

    def test_counts_without_outcomes(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        result = ledger.import_lines(
            jsonl(enrol("r9"), sale("S1", "r1")), actor="crm", keep_outcomes=False
        )
        assert (result.stored, result.skipped, result.outcomes) == (2, 0, [])


def _slow(lines: Iterable[str], *, after: int, seconds: float) -> Iterator[str]:
    """``lines``, pausing ``seconds`` after the first ``after`` (a slow source)."""
    for i, text in enumerate(lines):
        if i == after:
            time.sleep(seconds)
        yield text


class TestSlowInput:
    """An import's write transaction waits for its input: PostgreSQL's limit on
    idle transactions (5 s, for stuck clients) must not end an import whose
    source is slow, and an import that does overrun its own limit says so."""

    def test_a_pause_longer_than_the_stores_idle_limit_imports_everything(
        self, pg_schema_url: str
    ) -> None:
        ledger = Ledger(pg_schema_url)
        try:
            seeded(ledger, "r1", "r2")
            before = stored_count(ledger)
            lines = _slow(_file(6), after=3, seconds=6)  # the store's own limit is 5 s
            result = ledger.import_lines(lines, actor="crm", chunk_size=2, parse_workers=0)
            assert (result.stored, result.skipped) == (7, 0)
            assert stored_count(ledger) == before + 7
        finally:
            ledger.close()

    def test_a_pause_beyond_the_imports_limit_stores_nothing_and_says_why(
        self, pg_schema_url: str
    ) -> None:
        """The short limit is given to the slow import alone: set for the whole
        module, it also bound the second import, whose parse worker may take
        longer than that to start on a busy machine (the test failed under load)."""
        ledger = Ledger(pg_schema_url)
        try:
            seeded(ledger, "r1", "r2")
            before = stored_count(ledger)
            lines = _slow(_file(6), after=3, seconds=2)
            with pytest.raises(StoreUnavailableError, match=r"idle for longer than 0\.5 s"):
                ledger.import_lines(
                    lines, actor="crm", chunk_size=2, parse_workers=0, idle_seconds=0.5
                )
            assert stored_count(ledger) == before
            # The pooled connection PostgreSQL ended is not handed out again. Parsed
            # here: a parse worker would start under the shortened idle limit, and
            # on a busy machine its start alone outlasts 0.5 s.
            result = ledger.import_lines(_file(6), actor="crm", chunk_size=2, parse_workers=0)
            assert result.stored == 7
        finally:
            ledger.close()


def _die(chunk: list[tuple[int, str]], actor: str) -> bytes:
    """Stands in for the parse worker's function: the worker process dies."""
    os._exit(1)


def _facts(ledger: Ledger) -> list[tuple[str, str, str, dict[str, Any]]]:
    """What the imports stored (the seeded plan and reps are dated now)."""
    return [
        (r.type, r.occurred_at.isoformat(), r.actor, r.data)
        for r in ledger.iter_log()
        if r.type not in {"PlanPublished", "RepEnrolled"}
    ]


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[Ledger]:
    """A second ledger whose imports parse every line in this process."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'reference.db'}")
    yield ledger
    ledger.close()


class TestParseWorker:
    """An import of more than one chunk is parsed ahead by a worker process
    (`parse_workers`); what is stored and every error must be what parsing in
    the importing process gives."""

    def test_a_worker_stores_what_parsing_here_stores(
        self, ledger: Ledger, reference: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        submitted: list[int] = []

        class Counting(ProcessPoolExecutor):
            def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
                submitted.append(len(args[0]))
                return super().submit(fn, *args, **kwargs)

        monkeypatch.setattr(pipeline, "ProcessPoolExecutor", Counting)
        lines = [
            *_file(30),
            json.dumps(
                {
                    **sale("S-split", "r1", "300.00"),
                    "splits": [
                        {"rep_id": "r1", "share": "0.5"},
                        {"rep_id": "r2", "share": "0.5"},
                    ],
                }
            ),
            json.dumps({**sale("S-own-actor", "r2"), "actor": "someone-else"}),
            json.dumps(
                {**sale("S-offset", "r1"), "occurred_at": "2026-07-14T23:30:00.123456-05:00"}
            ),
        ]
        results = []
        for target, workers in ((ledger, 1), (reference, 0)):
            seeded(target, "r1", "r2")
            results.append(
                target.import_lines(lines, actor="crm", chunk_size=4, parse_workers=workers)
            )
        ours, theirs = results
        assert sum(submitted) == len(lines) - 4  # all but the first chunk, parsed here
        assert (ours.stored, ours.skipped) == (theirs.stored, theirs.skipped) == (len(lines), 0)
        assert [(o.line, o.type, o.status) for o in ours.outcomes] == [
            (o.line, o.type, o.status) for o in theirs.outcomes
        ]
        assert _facts(ledger) == _facts(reference)
        assert ledger.verify().ok

    @pytest.mark.parametrize(("cores", "pools"), [(1, 0), (2, 1)])
    def test_by_default_a_worker_only_when_a_second_core_is_usable(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, cores: int, pools: int
    ) -> None:
        """The default counts the cores this process may use (a container's CPU
        quota, its affinity), not the host's: on one, the import parses here."""
        started: list[int] = []

        class Counting(ProcessPoolExecutor):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                started.append(1)
                super().__init__(*args, **kwargs)

        monkeypatch.setattr(pipeline, "ProcessPoolExecutor", Counting)
        monkeypatch.setattr(pipeline, "usable_cores", lambda: cores)
        seeded(ledger, "r1", "r2")
        lines = _file(12)
        result = ledger.import_lines(lines, actor="crm", chunk_size=4)
        assert len(started) == pools
        assert (result.stored, result.skipped) == (len(lines), 0)

    def test_a_worker_names_the_same_bad_lines(self, ledger: Ledger, reference: Ledger) -> None:
        good = _file(12)
        lines = [
            good[0],
            "{not json",
            *good[1:6],
            json.dumps({**sale("S-float", "r1"), "amount": 12.5}),
            json.dumps(sale("S-nobody", "nobody")),
            *good[6:],
            json.dumps({"type": "SaleRecorded"}),
            "[]",
        ]
        caught = []
        for target, workers in ((ledger, 1), (reference, 0)):
            seeded(target, "r1", "r2")
            before = stored_count(target)
            with pytest.raises(BatchRejectedError) as rejected:
                target.import_lines(lines, actor="crm", chunk_size=3, parse_workers=workers)
            assert stored_count(target) == before
            caught.append(rejected.value.errors)
        assert caught[0] == caught[1]
        assert {e.line for e in caught[0]} == {2, 8, 9, len(lines) - 1, len(lines)}

    def test_a_worker_that_dies_leaves_the_import_to_this_process(
        self, ledger: Ledger, reference: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(pipeline, "parse_within_limits", _die)
        lines = _file(25)
        for target in (ledger, reference):
            seeded(target, "r1", "r2")
        notices: list[str] = []
        ledger.notice = lambda event, **_: notices.append(event)
        result = ledger.import_lines(lines, actor="crm", chunk_size=5, parse_workers=1)
        assert notices == ["import.parse_worker_failed"]  # once, then here
        reference.import_lines(lines, actor="crm", chunk_size=5, parse_workers=0)
        assert (result.stored, result.skipped) == (len(lines), 0)
        assert _facts(ledger) == _facts(reference)
        assert ledger.verify().ok
