"""Parsing POST /events bodies: small ones here, large ones in a worker process.

A body of a thousand events costs its request thread about 10 ms of decoding,
validation and hashing (`ledger.ingestion.parse.parse_body`), all of it under the
interpreter's lock that the group commit's threads need too: measured with
batches of 1,000 sales, a third of the API process's time. A large body is
therefore parsed by a worker process — on another core — and comes back in the
light form the import's parse worker uses; the answer is the same either way
(one function parses both, a test compares them). The worker is started on
the first large body; should it fail, bodies are parsed here again.

The limits of SPEC §7 are checked where the body is parsed, before it is
decoded: JSON nested deeper than `MAX_JSON_DEPTH` (422) and more than
``max_events`` events (413). On the hot path — a single event — that is two
substring counts (`ledger.limits.exceeds_depth`, and a comma count).
The worker process exits when the API process is gone (`watch_parent`).
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

import orjson
import structlog

from ledger.errors import InvalidInputError, LedgerError, LineError, TooLargeError
from ledger.ingestion.parse import inputs_from_wire, parse_body, parse_body_wire
from ledger.ingestion.workers import parse_workers_for, usable_cores, watch_parent
from ledger.limits import MAX_EVENTS, MAX_JSON_DEPTH, depth_error, exceeds_depth
from ledger.writes import Input

__all__ = ["LARGE_BODY_BYTES", "BodyParser", "check_limits", "parse_limited"]

log = structlog.get_logger("api")

# Bodies from this size on go to the worker (about 150 sales): below it, the
# round trip to another process costs more than it saves.
LARGE_BODY_BYTES = 32 * 1024


class BodyParser:
    """Parses request bodies into inputs, large ones in a worker process."""

    def __init__(
        self,
        *,
        large_body_bytes: int = LARGE_BODY_BYTES,
        workers: int | None = None,
        max_events: int = MAX_EVENTS,
        max_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.large_body_bytes = large_body_bytes
        self.max_events = max_events
        self.max_depth = max_depth
        if workers is None:
            workers = parse_workers_for(usable_cores())
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._failed = workers < 1

    async def parse(self, body: bytes, actor: str) -> tuple[list[Input], list[LineError]]:
        """`ledger.ingestion.parse.parse_body` within the limits, wherever it runs; a body
        over them raises `TooLargeError` (413) or `InvalidInputError` (422)."""
        if len(body) < self.large_body_bytes or self._failed:
            check_limits(body, max_events=self.max_events, max_depth=self.max_depth)
            return parse_body(body, actor)
        try:
            pool = self._started()
            answer = await asyncio.get_running_loop().run_in_executor(
                pool, parse_limited, body, actor, self.max_events, self.max_depth
            )
        except (BrokenProcessPool, OSError, RuntimeError):
            log.warning("api.body_parser_failed", exc_info=True)
            self._failed = True  # parse here from now on
            self.close()
            check_limits(body, max_events=self.max_events, max_depth=self.max_depth)
            return parse_body(body, actor)
        if isinstance(answer, tuple):  # refused by a limit, in the worker
            raise _refusal(*answer)
        return inputs_from_wire(answer)

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._workers,
                mp_context=get_context("spawn"),
                initializer=watch_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def check_limits(body: bytes, *, max_events: int, max_depth: int) -> None:
    """SPEC §7's limits on a body, before it is decoded: 422 for JSON nested
    deeper than ``max_depth`` (decoding it would recurse), 413 for more than
    ``max_events`` events (counted only when the body has that many commas: a
    list of n events has at least n - 1)."""
    if exceeds_depth(body, max_depth):
        raise InvalidInputError(depth_error(max_depth), field="body")
    if body.count(b",") >= max_events:
        count = _events_in(body)
        if count > max_events:
            raise TooLargeError(
                f"{count} events in one request; at most {max_events}: send them in parts "
                "(or import them)",
                field="body",
            )


def _events_in(body: bytes) -> int:
    """How many events a body holds (a list, or one); 0 when it does not decode
    (its parse names the error). Its depth is checked: decoding cannot recurse far."""
    try:
        decoded: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            decoded = json.loads(body)
        except ValueError:
            return 0
    return len(decoded) if isinstance(decoded, list) else 1


def parse_limited(
    body: bytes, actor: str, max_events: int, max_depth: int
) -> bytes | tuple[str, str, str | None]:
    """`check_limits` and `parse_body_wire`, in the worker process: the wire
    answer, or a refusal as (status, reason, field) for `_refusal`."""
    try:
        check_limits(body, max_events=max_events, max_depth=max_depth)
    except LedgerError as exc:
        return exc.status, exc.reason, exc.field
    return parse_body_wire(body, actor)


def _refusal(status: str, reason: str, field: str | None) -> LedgerError:
    if status == TooLargeError.status:
        return TooLargeError(reason, field=field)
    return InvalidInputError(reason, field=field)
