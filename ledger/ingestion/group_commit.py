"""Group commit: concurrent writers share one transaction.

Every append takes the store's writer lock, extends the chain and commits; done
once per HTTP request that is a handful of round trips each, with every other
writer waiting on the lock. A `GroupCommitter` hands requests to one thread that
takes whatever has queued up since the last group and commits it all in one
transaction, each request still all or nothing on its own. Under load the groups
grow by themselves; an idle ledger commits a lone request at once (no timer, no
added latency).

The groups are pipelined: a group is staged (the rules checked, its events made)
outside the writer lock (`Ledger.prepare_group`) while the group before it is
being appended and committed by a second thread (`Ledger.commit_group`), on the
reps and plans that group staged, and the targets, decisions and plan
versions it staged (`ledger.writes.HandOff`: what a warning is said against). When that group
went in as staged and no one else appended meanwhile, the next one goes in as
staged too; otherwise it is staged again under the lock — the outcomes are
those of committing the groups one after the other.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ledger.application import Ledger
from ledger.errors import LedgerError
from ledger.events import EventIn
from ledger.ingestion.batch import STALE, UNSETTLED, CommittedGroup, PreparedGroup, Warm
from ledger.results import RecordResult
from ledger.writes import HandOff, Input

__all__ = ["GroupCommitter"]

_MAX_GROUP_EVENTS = 2_000


@dataclass
class _Request:
    inputs: list[Input]
    future: Future[RecordResult] = field(default_factory=Future)


@dataclass
class _InFlight:
    """A group being committed on the writer thread."""

    requests: list[_Request]
    prepared: PreparedGroup
    committed: Future[CommittedGroup]


class GroupCommitter:
    """Commits queued `record` requests together, a group at a time."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="group-commit-write")
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def submit(self, items: Sequence[EventIn], *, actor: str) -> Future[RecordResult]:
        """Queue a request; the future resolves to its result or its `LedgerError`.

        Its inputs are made here, on the caller's thread (payload, content hash),
        so that the group commit's threads only check the rules and append."""
        return self.submit_inputs([Input.of(item, actor) for item in items])

    def submit_inputs(self, inputs: list[Input]) -> Future[RecordResult]:
        """`submit` of inputs already made (`Input.of`, or parsed by a worker)."""
        request = _Request(inputs)
        self._queue.put(request)
        return request.future

    def record(self, items: Sequence[EventIn], *, actor: str) -> RecordResult:
        """`Ledger.record`, committed with whatever else is queued."""
        return self.submit(items, actor=actor).result()

    def close(self, timeout: float = 60.0) -> bool:
        """Commit what is queued, then stop. False if the threads were still at
        work after ``timeout`` seconds (a store not answering): the store must
        then stay open under them (closing a connection in use can crash the
        process), and the caller leaves it for the process's exit."""
        self._queue.put(None)
        self._thread.join(timeout=timeout)
        if self._thread.is_alive():
            return False
        self._writer.shutdown(wait=True)
        return True

    def _run(self) -> None:
        flight: _InFlight | None = None
        warm: Warm | None = None  # what the last group committed as staged left
        while True:
            if flight is None:
                first = self._queue.get()
            else:
                try:
                    first = self._queue.get_nowait()
                except queue.Empty:  # nothing waiting: settle the group in flight first
                    warm = self._settle(flight)
                    flight = None
                    continue
            if first is None:
                if flight is not None:
                    self._settle(flight)
                return
            group = self._gather(first)
            inputs = [r.inputs for r in group]
            if flight is not None and flight.prepared.staged is not None:
                # staged on the group in flight, as it will be once committed
                before = flight.prepared
                prepared = self._prepare(inputs, (UNSETTLED, before.kept), before.handed_on)
                committed = self._wait(flight)
                prepared.follows(committed)
            else:
                if flight is not None:
                    warm = self._settle(flight)
                prepared = self._prepare(inputs, warm)
                warm = None  # the group's to change now
            committed_later = self._writer.submit(self._ledger.commit_group, prepared)
            flight = _InFlight(group, prepared, committed_later)

    def _gather(self, first: _Request) -> list[_Request]:
        group, size = [first], len(first.inputs)
        while size < _MAX_GROUP_EVENTS:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                self._queue.put(None)  # finish this group, then stop
                break
            group.append(more)
            size += len(more.inputs)
        return group

    def _prepare(
        self, inputs: list[list[Input]], warm: Warm | None, after: HandOff | None = None
    ) -> PreparedGroup:
        try:
            return self._ledger.prepare_group(inputs, warm, after)
        except Exception:  # noqa: BLE001 - the store unreachable, say: staged under the lock
            return PreparedGroup(inputs, None, {}, STALE)

    def _wait(self, flight: _InFlight) -> CommittedGroup:
        """Wait for the group in flight and hand its requests their outcomes."""
        try:
            committed = flight.committed.result()
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request
            for request in flight.requests:
                request.future.set_exception(exc)
            return CommittedGroup([], None, None)
        for request, result in zip(flight.requests, committed.results, strict=True):
            if isinstance(result, LedgerError):
                request.future.set_exception(result)
            else:
                request.future.set_result(result)
        return committed

    def _settle(self, flight: _InFlight) -> Warm | None:
        """`_wait`, and what the next group may stage on."""
        return self._wait(flight).warm
