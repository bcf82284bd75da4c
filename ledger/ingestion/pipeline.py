"""An import, streamed: parse ahead, check the rules, append — all or nothing.

`import_lines` (what `Ledger.import_lines` runs): the file is read once, a chunk
at a time; each chunk is parsed (in a worker process, ahead of the checks),
staged against the store and every earlier line (`ledger.writes.Staging`, the
catalogue's rules), and appended inside one write transaction that holds the
writer lock from the first line to the last. Any bad line rolls the whole import
back and every bad line is named.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any, Self, TypedDict

import orjson
from eventsourcing.persistence import InterfaceError, OperationalError

from ledger.actors import checked_actor
from ledger.backends.base import AppendSession
from ledger.chain import ChainLink
from ledger.errors import BatchRejectedError, LineError, StoreUnavailableError
from ledger.import_format import not_utf8
from ledger.ingestion.parse import parse_chunk, parse_lines
from ledger.ingestion.workers import parse_workers_for, usable_cores, watch_parent
from ledger.limits import MAX_BODY_BYTES, depth_error, exceeds_depth, line_too_long
from ledger.records import bulk
from ledger.results import Outcome, RecordResult, outcomes_of, warnings_of
from ledger.writes import Input, StagedInput, Staging
from policies.pay_warnings import PayWarning

if TYPE_CHECKING:
    from ledger.application import Ledger, Notice

__all__ = ["bounded", "import_lines", "parse_within_limits"]

_MAX_ATTEMPTS = 8
_CHUNK = 5_000
_PARSE_AHEAD = 2  # chunks parsed ahead of the checks (bounds memory)
# How long an import's write may wait for its next lines (the store's own limit,
# 5 s on PostgreSQL, is for a stuck client; an import's input may be slow).
_IMPORT_IDLE_SECONDS = 600.0
_ANALYZE_AFTER = 10_000  # events appended by one import: refresh planner statistics


class ImportOptions(TypedDict, total=False):
    """The options of `import_lines` (``Ledger.import_lines`` passes them on)."""

    on_progress: Callable[[int], None] | None
    chunk_size: int | None
    keep_outcomes: bool
    parse_workers: int | None
    max_line_bytes: int
    idle_seconds: float | None


def import_lines(
    ledger: Ledger,
    lines: Iterable[str],
    *,
    actor: str,
    on_progress: Callable[[int], None] | None = None,
    chunk_size: int | None = None,
    keep_outcomes: bool = True,
    parse_workers: int | None = None,
    max_line_bytes: int = MAX_BODY_BYTES,
    idle_seconds: float | None = None,
) -> RecordResult:
    """SPEC §2 import: the whole file or nothing, streamed.

    The file is read once, ``chunk_size`` lines at a time: each chunk is
    parsed, checked against the store and every earlier line, and appended
    inside one write transaction that holds the writer lock from the first
    line to the last (`AppendSession`). Any bad line rolls the whole import
    back and every bad line is named. Memory stays bounded by the chunk:
    aggregates of earlier chunks are dropped and read back through the
    session when a later line needs them. A crash mid-import leaves nothing.

    ``keep_outcomes=False`` keeps only the counts (a 1M-line import need
    not hold a million outcomes). ``parse_workers`` processes parse the
    chunks ahead of the checks (default: one when the machine has more than
    one core and the file more than one chunk; 0: parse in this process).
    The worker is started by multiprocessing's "spawn", which imports the
    program's main module again: a script that imports through this method
    must keep its top level behind ``if __name__ == "__main__":`` (the CLI
    and the API do), or pass ``parse_workers=0``.
    On a dropped connection the import is run again when ``lines`` can be
    read again (a list, or a seekable file). ``lines`` may be slow (a stream
    from another system): the write waits up to ``idle_seconds`` (default
    `_IMPORT_IDLE_SECONDS`) for the next chunk, holding the writer lock
    meanwhile.

    SPEC §7's limits apply to each line: one over ``max_line_bytes`` (never
    read whole: see `bounded`) or nested deeper than `MAX_JSON_DEPTH` is a
    bad line, named like any other.
    """
    actor = checked_actor(actor)  # SPEC §2: before a line is read
    for attempt in range(_MAX_ATTEMPTS):
        if attempt:
            _rewind(lines)
        try:
            with bulk():
                return _import(
                    ledger,
                    lines,
                    actor=actor,
                    on_progress=on_progress,
                    chunk_size=chunk_size or _CHUNK,
                    keep_outcomes=keep_outcomes,
                    parse_workers=parse_workers,
                    max_line_bytes=max_line_bytes,
                    idle_seconds=_IMPORT_IDLE_SECONDS if idle_seconds is None else idle_seconds,
                )
        except _Interrupted as interrupted:
            if not _rewindable(lines):
                raise StoreUnavailableError(
                    "the connection to the store dropped during the import and "
                    "the input cannot be read again; nothing was stored: re-run it"
                ) from interrupted.__cause__
    raise StoreUnavailableError(
        "the import kept losing its connection to the store; nothing was stored: re-run it"
    )


def _import(
    ledger: Ledger,
    lines: Iterable[str],
    *,
    actor: str,
    on_progress: Callable[[int], None] | None,
    chunk_size: int,
    keep_outcomes: bool,
    parse_workers: int | None,
    max_line_bytes: int,
    idle_seconds: float,
) -> RecordResult:
    errors: list[LineError] = []
    totals = _Totals(keep_outcomes)
    try:
        with (
            ledger.chain.append_session(idle_seconds=idle_seconds) as session,
            ThreadPoolExecutor(1, thread_name_prefix="import-append") as writer,
            _Parser(actor, errors, workers=parse_workers, notice=ledger.notice) as parser,
        ):
            began = session.head.position if session.head is not None else 0
            staging = ledger.staging(session, optimistic=True)
            parsed = parser.parse(_chunks(lines, chunk_size, max_line_bytes, errors))
            for chunk, in_flight in _pipeline(session, staging, writer, parsed):
                # settled up to its links, which are written while the next
                # chunk is staged; counted once they are
                totals.settle(_finish(session, staging, writer, in_flight, errors))
                if on_progress is not None:
                    on_progress(chunk)
            totals.settle(None)
            if errors:
                raise BatchRejectedError(sorted(errors, key=lambda e: e.line))
    except (InterfaceError, OperationalError) as exc:
        if totals.last is None or not ledger.is_committed(totals.last):
            raise _Interrupted from exc
        # The commit went through; only its reply was lost.
    ended = totals.last.position if totals.last is not None else began
    ledger.note_stored(totals.types, (began, ended))
    if totals.stored >= _ANALYZE_AFTER:
        analyze = getattr(ledger.chain, "analyze", None)
        if analyze is not None:
            analyze()
    return RecordResult(
        totals.outcomes,
        stored=totals.stored,
        skipped=totals.skipped,
        warnings=totals.warnings,
    )


class _Interrupted(Exception):  # noqa: N818 - internal signal, never escapes
    """The store's connection dropped before the import committed."""


def _chunks(
    lines: Iterable[str], size: int, max_line_bytes: int, errors: list[LineError]
) -> Iterator[list[tuple[int, str]]]:
    """Non-blank lines, numbered from 1 as in the file, ``size`` at a time; a
    line over ``max_line_bytes``, or holding a byte that is no UTF-8 (a file
    read with ``errors=UNDECODABLE``), goes to ``errors`` instead (SPEC §7)."""
    chunk: list[tuple[int, str]] = []
    for number, text in enumerate(bounded(lines, max_line_bytes), start=1):
        if text is None or line_too_long(text, max_line_bytes):
            errors.append(LineError(number, None, f"the line is over {max_line_bytes} bytes"))
        elif (undecodable := not_utf8(text)) is not None:
            errors.append(LineError(number, None, undecodable))
        elif text.strip():
            chunk.append((number, text))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


_DRAIN_CHARACTERS = 1 << 20


def bounded(lines: Iterable[str], max_bytes: int) -> Iterator[str | None]:
    """The lines of ``lines``; from a file, a line longer than ``max_bytes`` is
    never held whole: it is read in pieces, dropped, and given as None.

    A text file's ``readline`` counts characters; a line of more than
    ``max_bytes`` characters is more than that many bytes too (a shorter one
    is measured in bytes by `line_too_long`).
    """
    readline = getattr(lines, "readline", None)
    if not callable(readline):
        yield from lines
        return
    while text := readline(max_bytes + 1):
        if len(text) <= max_bytes or text.endswith("\n"):
            yield text
            continue
        while (rest := readline(_DRAIN_CHARACTERS)) and not rest.endswith("\n"):
            pass
        yield None


def _rewindable(lines: Iterable[str]) -> bool:
    return isinstance(lines, Sequence) or callable(getattr(lines, "seek", None))


def _rewind(lines: Iterable[str]) -> None:
    seek = getattr(lines, "seek", None)
    if callable(seek):
        seek(0)


@dataclass
class _InFlight:
    """A chunk staged optimistically, its append running (``future``) or not tried.

    ``visible`` settles first: whether the chunk's events were appended (True:
    readable through the session while their links are written) or collided.
    """

    parsed: list[tuple[int, Input]]
    staged: list[StagedInput]
    future: Future[list[ChainLink] | None] | None
    visible: Future[bool] | None = None


@dataclass
class _Totals:
    keep_outcomes: bool
    stored: int = 0
    skipped: int = 0
    last: ChainLink | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    warnings: list[tuple[int, PayWarning]] = field(default_factory=list)
    types: set[str] = field(default_factory=set)  # of the events stored
    _unsettled: (
        tuple[list[StagedInput], Future[list[ChainLink] | None] | list[ChainLink]] | None
    ) = None

    def add(self, staged: list[StagedInput], appended: list[ChainLink]) -> None:
        self.stored += len(appended)
        self.skipped += len(staged) - len(appended)
        if appended:
            self.last = appended[-1]
            self.types.update(s.type for s in staged if s.stored)
        self.warnings += warnings_of(staged)
        if self.keep_outcomes:
            self.outcomes.extend(outcomes_of(staged, appended))

    def settle(
        self,
        chunk: tuple[list[StagedInput], Future[list[ChainLink] | None] | list[ChainLink]] | None,
    ) -> None:
        """Count the chunk before ``chunk`` (its links written by now), keep ``chunk``
        for the next call; None: count the last one."""
        if self._unsettled is not None:
            staged, appended = self._unsettled
            links = appended.result() if isinstance(appended, Future) else appended
            assert links is not None, "a chunk whose events were appended has links"
            self.add(staged, links)
        self._unsettled = chunk


def _pipeline(
    session: AppendSession,
    staging: Staging,
    writer: ThreadPoolExecutor,
    parsed: Iterable[tuple[int, list[tuple[int, Input]]]],
) -> Iterator[tuple[int, _InFlight]]:
    """Stage parsed chunks and start their appends; yields (lines, chunk) to settle.

    A chunk's append runs on the writer thread in two steps: its events, then
    their chain links (hashing and copying them in). A chunk is settled
    (`_finish`) before the next one is staged, since staging reads what was
    appended — but only up to its events: the links are written while the next
    chunk is staged (measured on 300k events: the import waited a third of its
    time for a whole append before staging the next chunk).
    """
    in_flight: tuple[int, _InFlight] | None = None
    for size, inputs in parsed:
        if in_flight is not None:
            yield in_flight
        staged, rule_errors = staging.apply_all(inputs)
        if rule_errors:  # settled at once, carefully (see `_finish`)
            in_flight = (size, _InFlight(inputs, staged, None))
        else:
            visible: Future[bool] = Future()
            future = writer.submit(
                session.try_append_early, staging.take_pending(), visible.set_result
            )
            in_flight = (size, _InFlight(inputs, staged, future, visible))
    if in_flight is not None:
        yield in_flight


class _Parser:
    """Parses an import's chunks into `Input`s, in order, ahead of the checks.

    Parsing (JSON, validation, canonical payload, content hash) is about a third
    of an import's CPU time and needs nothing from the store, so with
    ``workers`` it runs in other processes, `_PARSE_AHEAD` chunks ahead, while
    this one checks the rules and appends: a second core does it instead of
    waiting. The first chunk is parsed here while the worker starts, and a file
    of one chunk never starts one. A chunk the worker fails on (it died, say)
    is parsed here instead, with the same result.
    """

    def __init__(
        self, actor: str, errors: list[LineError], *, workers: int | None, notice: Notice
    ) -> None:
        self._notice = notice
        self._actor = actor
        self._errors = errors
        if workers is None:
            workers = parse_workers_for(usable_cores())
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:  # done: the worker exits; failed: it is not waited for
            failed = exc_info[0] is not None
            self._pool.shutdown(wait=not failed, cancel_futures=failed)

    def parse(
        self, chunks: Iterable[list[tuple[int, str]]]
    ) -> Iterator[tuple[int, list[tuple[int, Input]]]]:
        """(lines read, inputs parsed) per chunk; parse errors go to ``errors``."""
        chunks = iter(chunks)
        head = list(itertools.islice(chunks, 2))
        if not head:
            return
        if self._workers < 1 or len(head) == 1:  # a file of one chunk starts no worker
            for chunk in itertools.chain(head, chunks):
                yield len(chunk), self._here(chunk)
            return
        first, second = head
        self._pool = ProcessPoolExecutor(
            self._workers,
            mp_context=get_context("spawn"),
            initializer=watch_parent,  # a killed import leaves no worker behind
            initargs=(os.getpid(),),
        )
        ahead = deque([(second, self._submit(second))])
        yield len(first), self._here(first)
        for chunk in chunks:
            ahead.append((chunk, self._submit(chunk)))
            if len(ahead) > _PARSE_AHEAD:
                yield self._settle(*ahead.popleft())
        while ahead:
            yield self._settle(*ahead.popleft())

    def _submit(self, chunk: list[tuple[int, str]]) -> Future[tuple[bytes, list[LineError]]] | None:
        if self._pool is None:
            return None
        try:
            return self._pool.submit(parse_within_limits, chunk, self._actor)
        except BrokenProcessPool:
            return None

    def _here(self, chunk: list[tuple[int, str]]) -> list[tuple[int, Input]]:
        chunk, refused = _within_depth(chunk)
        self._errors.extend(refused)
        inputs, errors = parse_lines(chunk, self._actor)
        self._errors.extend(errors)
        return inputs

    def _settle(
        self,
        chunk: list[tuple[int, str]],
        future: Future[tuple[bytes, list[LineError]]] | None,
    ) -> tuple[int, list[tuple[int, Input]]]:
        if future is None:
            return len(chunk), self._here(chunk)
        try:
            answer, refused = future.result()
            inputs, errors = orjson.loads(answer)
        except Exception:  # noqa: BLE001 - any failure of the worker: parse here from now on
            if self._pool is not None:  # said once, for the chunks already sent too
                self._notice("import.parse_worker_failed", lines=len(chunk), exc_info=True)
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            return len(chunk), self._here(chunk)
        self._errors.extend(refused)
        self._errors.extend(LineError(*e) for e in errors)
        return len(chunk), [(wire[0], Input.from_wire(wire)) for wire in inputs]


def _within_depth(
    chunk: list[tuple[int, str]],
) -> tuple[list[tuple[int, str]], list[LineError]]:
    """The lines of a chunk that nest no deeper than SPEC §7 allows, and an
    error for each other one (never decoded: decoding it would recurse)."""
    if not any(exceeds_depth(text) for _, text in chunk):
        return chunk, []
    kept = [(n, text) for n, text in chunk if not exceeds_depth(text)]
    refused = [LineError(n, None, depth_error()) for n, text in chunk if exceeds_depth(text)]
    return kept, refused


def parse_within_limits(chunk: list[tuple[int, str]], actor: str) -> tuple[bytes, list[LineError]]:
    """`parse_chunk` in the worker, after `_within_depth`: the parse, and the
    lines refused for their depth."""
    kept, refused = _within_depth(chunk)
    return parse_chunk(kept, actor), refused


def _finish(
    session: AppendSession,
    staging: Staging,
    writer: ThreadPoolExecutor,
    chunk: _InFlight,
    errors: list[LineError],
) -> tuple[list[StagedInput], Future[list[ChainLink] | None] | list[ChainLink]]:
    """Settle a chunk: its optimistic append, as far as its events (its links may
    still be being written: the returned future); or, when that collided (a key
    assumed new is stored: a re-import) or a line broke a rule, check the chunk
    again looking up every key, so each line gets its true outcome, and append
    it then — on the writer thread, after the appends handed to it before: the
    chunk before's links may still be being written on the session's cursor,
    which one thread at a time may use."""
    if chunk.visible is not None and chunk.future is not None:
        if _settled(chunk.visible, chunk.future):
            staging.forget()
            return chunk.staged, chunk.future
        chunk.future.result()  # collided: the writer is done with the session
    staging.reset()
    staging.optimistic = False
    staged, rule_errors = staging.apply_all(chunk.parsed)
    staging.optimistic = True
    errors.extend(rule_errors)
    # Appended even after an error, so later lines are checked against
    # everything before them; the rollback drops it all.
    appended = writer.submit(session.append, staging.take_pending()).result()
    staging.forget()
    return staged, appended


def _settled(visible: Future[bool], future: Future[list[ChainLink] | None]) -> bool:
    """Whether the chunk's events were appended; raises what its append raised
    (a failure before it could tell)."""
    waited: list[Future[Any]] = [visible, future]
    done = wait(waited, return_when=FIRST_COMPLETED).done
    if visible in done:
        return visible.result()
    future.result()  # raises: the append failed before telling
    return visible.result()
