"""Group commit: concurrent writers share one transaction.

Every append takes the store's writer lock, extends the chain and commits; done
once per HTTP request that is a handful of round trips each, with every other
writer waiting on the lock. A `GroupCommitter` hands requests to one writer
thread that takes whatever has queued up since its last commit and appends it
all in one transaction (`Ledger.record_many`), each request still all or
nothing on its own. Under load the groups grow by themselves; an idle ledger
commits a lone request at once (no timer, no added latency).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from ledger.application import Ledger, RecordResult
from ledger.errors import LedgerError
from ledger.events import EventIn
from ledger.writes import Input

__all__ = ["GroupCommitter"]

_MAX_GROUP_EVENTS = 5_000


@dataclass
class _Request:
    inputs: list[Input]
    future: Future[RecordResult] = field(default_factory=Future)


class GroupCommitter:
    """One writer thread committing queued `record` requests together."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def submit(self, items: Sequence[EventIn], *, actor: str) -> Future[RecordResult]:
        """Queue a request; the future resolves to its result or its `LedgerError`.

        Its inputs are made here, on the caller's thread (payload, content hash),
        so that the one writer thread only checks the rules and appends."""
        request = _Request([Input.of(item, actor) for item in items])
        self._queue.put(request)
        return request.future

    def record(self, items: Sequence[EventIn], *, actor: str) -> RecordResult:
        """`Ledger.record`, committed with whatever else is queued."""
        return self.submit(items, actor=actor).result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
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
            self._commit(group)

    def _commit(self, group: list[_Request]) -> None:
        try:
            results = self._ledger.record_inputs([r.inputs for r in group])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request
            for request in group:
                request.future.set_exception(exc)
            return
        for request, result in zip(group, results, strict=True):
            if isinstance(result, LedgerError):
                request.future.set_exception(result)
            else:
                request.future.set_result(result)
