"""No payout on a broken chain (SPEC §6): the incremental check and its watermark.

`payout run`, the decision on a run, `payout pay` and `payout export` first
check the audit chain *from the last verified position*: the watermark — the
position and hash of the last link a check verified — is kept in the database
(``ledger_state``, key ``chain_watermark``), so a check reads only what was
appended since. It verifies that the watermark's link is still there with the
same hash (a rewrite, or a log cut short below it, is caught there), then
recomputes every link after it from the one before, exactly as `verify` does
from the first. A check that passes moves the watermark to the head it
verified; one that fails names the first broken position and moves nothing.

What an incremental check cannot see: a row edited *below* the watermark after
it was verified. That takes the full `verify` (or an anchor); `rebuild`, which
replays every event anyway, runs the full check first. A paid statement's own
run event is checked against its link whenever it is served (`check_event`).

Pure logic over a `ChainReader`: the recorder, or an open append session
(whose reads see the chain as the session holds it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol
from uuid import UUID

from ledger.chain import (
    CURRENT_LINKS,
    ChainHasher,
    ChainLink,
    ChainReport,
    LogRow,
    merge_rows,
    verify_links,
)
from ledger.errors import ChainLinksError, ChainModeError

__all__ = [
    "BOUNDED_CHECK_POSITIONS",
    "CHAIN_MODE",
    "WATERMARK",
    "ChainReader",
    "check_event",
    "check_from_watermark",
    "end_of",
    "ensure_chain_mode",
    "log_rows",
    "resolve_links",
    "watermark",
]

WATERMARK = "chain_watermark"
CHAIN_MODE = "chain_mode"  # the mode (and key id) of the chain's links: `ensure_chain_mode`
# ... and the version of their content (`ledger.chain`; absent: links 1)
LINKS = "links"

# Positions past the watermark that a check made for a reader, not a payout
# step, goes at most (a `/metrics` scrape, the finance dashboard): ~1 s of
# checking, however much was imported since (the whole check of 1M new events
# took 10-18 s); the next such check goes on from where it stopped.
BOUNDED_CHECK_POSITIONS = 100_000
_PAGE = 5_000
_NO_END = 2**63 - 1  # the largest position either store can hold


class ChainReader(Protocol):
    """What a chain check reads."""

    def get_state(self, key: str) -> dict[str, Any] | None: ...

    def last_position(self) -> int: ...

    def link_at_or_before(self, position: int) -> ChainLink | None: ...

    def select_links(self, after: int, limit: int) -> Sequence[ChainLink]: ...

    def select_event_rows(
        self, after: int, limit: int
    ) -> Sequence[tuple[int, UUID, int, str, bytes]]: ...


def log_rows(
    reader: ChainReader, after: int = 0, page: int = _PAGE, *, stop: int | None = None
) -> Iterator[LogRow]:
    """Every stored event and link after position ``after`` (up to ``stop``),
    merged, in order."""
    last_position = stop if stop is not None else _NO_END

    def events() -> Iterator[tuple[int, UUID, int, str, bytes]]:
        last = after
        while rows := reader.select_event_rows(last, page):
            for row in rows:
                if row[0] > last_position:
                    return
                yield row
            last = rows[-1][0]

    def links() -> Iterator[ChainLink]:
        last = after
        while found := reader.select_links(last, page):
            for link in found:
                if link.position > last_position:
                    return
                yield link
            last = found[-1].position

    return merge_rows(events(), links())


def end_of(reader: ChainReader) -> int:
    """How far a check that starts now reads: the last position stored, read
    first. Commits append events and links together, in position order, so
    everything up to it is complete; what is committed while the check reads —
    or appended and not yet linked by the append session it reads through —
    lies beyond, for the next check (read separately, events and links
    committed meanwhile would seem to have lost each other)."""
    return reader.last_position()


def watermark(reader: ChainReader) -> tuple[int, str] | None:
    """The last verified (position, hash), if a check ever passed."""
    kept = reader.get_state(WATERMARK)
    if kept is None:
        return None
    return int(kept["position"]), str(kept["hash"])


def check_from_watermark(
    reader: ChainReader, hasher: ChainHasher, *, limit: int | None = None
) -> ChainReport:
    """The chain from the watermark to the head (SPEC §6), as `verify` would
    find it; ``checked`` counts the events read after the watermark. ``limit``:
    no further than that many positions past the watermark (the report's head
    says how far it got; a check with no limit is a payout step's)."""
    resolve_links(reader, hasher)
    end = end_of(reader)
    kept = watermark(reader)
    start: ChainLink | None = None
    if kept is not None:
        position, digest = kept
        link = reader.link_at_or_before(position)
        if link is None or link.position != position:
            return _broken(
                hasher,
                position,
                "the last verified event's link is gone: the log was cut short or rewritten",
            )
        if link.hash != digest:
            return _broken(
                hasher, position, "the last verified link was changed: history was rewritten"
            )
        start = link
    after = start.position if start else 0
    if limit is not None:
        end = min(end, after + limit)
    return verify_links(hasher, log_rows(reader, after, stop=end), start=start)


def check_event(
    reader: ChainReader, hasher: ChainHasher, position: int
) -> tuple[ChainReport, LogRow | None]:
    """The event at ``position`` against its chain link, and the link after it
    against that one (so that editing the event *and* rehashing its link is
    caught too, short of rewriting every later link: an anchor's or the key's
    job). Returns the report and the event's row (None when it is gone)."""
    resolve_links(reader, hasher)
    end = end_of(reader)
    before = reader.link_at_or_before(position - 1) if position > 1 else None
    rows: list[LogRow] = []
    for row in log_rows(reader, before.position if before else 0, page=2, stop=end):
        rows.append(row)
        if row.position > position:
            break
    found = next((r for r in rows if r.position == position), None)
    return verify_links(hasher, rows, start=before), found


def resolve_links(reader: ChainReader, hasher: ChainHasher) -> ChainHasher:
    """``hasher`` set to the version of links the store's chain is written with
    (recorded with its mode; a store with events and no record: links 1),
    read once; a store with nothing in it leaves it to its first writer."""
    if not hasher.links_known:
        stored = reader.get_state(CHAIN_MODE)
        if stored is not None:
            _use_links(hasher, stored.get(LINKS, 1))
        elif (head := reader.last_position()) > 0:
            _links_of_head(reader, hasher, head)
    return hasher


def _links_of_head(reader: ChainReader, hasher: ChainHasher, head: int) -> bool:
    """A store with events and no record of its chain's mode (written before the
    record existed, or the record lost): ``hasher`` set to the links its head
    verifies as — links 1, the only ones there were then, else the current —
    and whether it verified as either (links 1 when neither)."""
    for links in (1, CURRENT_LINKS):
        hasher.use_links(links)
        if check_event(reader, hasher, head)[0].ok:
            return True
    hasher.use_links(1)
    return False


def _broken(hasher: ChainHasher, position: int, reason: str) -> ChainReport:
    return ChainReport(
        ok=False, mode=hasher.mode, checked=0, head=None, broken_position=position, reason=reason
    )


class ModeSession(ChainReader, Protocol):
    """An append session, as `ensure_chain_mode` reads and writes through it."""

    head: ChainLink | None

    def put_state(self, key: str, doc: dict[str, Any]) -> None: ...


class ModeRecorder(Protocol):
    """A recorder: its hasher, and the hasher whose mode was found the chain's."""

    hasher: ChainHasher
    mode_checked: ChainHasher | None


def ensure_chain_mode(session: ModeSession, recorder: ModeRecorder) -> None:
    """Refuse to extend the chain in another mode than it was written in.

    A writer whose ``LEDGER_CHAIN_KEY`` differs from the one the chain was
    written with (set, unset, or another key) would write links that no check
    in either mode accepts: the chain broken for good, payouts refused from then
    on. The store records the mode (and a key id, never the key) of its first
    writer (`CHAIN_MODE`); a writer in another mode is refused with
    `ChainModeError`. A store written before the record existed is checked once:
    its head event against its link in this writer's mode, then recorded. Run
    in the append session, before anything is appended, under the writer lock;
    once a process (and key): ``recorder.mode_checked`` remembers the hasher.
    """
    hasher = recorder.hasher
    if recorder.mode_checked is hasher:
        return
    if _check_mode(session, hasher):
        # only a record read back is settled: one this session wrote is rolled
        # back with it if the append fails, and the next session writes it again
        recorder.mode_checked = hasher


def _check_mode(session: ModeSession, hasher: ChainHasher) -> bool:
    """Check the writer's mode against the store's record (or its head); True
    when the record was there, False when this session writes it."""
    mine = hasher.identity()
    stored = session.get_state(CHAIN_MODE)
    if stored is not None:
        if {k: v for k, v in stored.items() if k != LINKS} != mine:
            raise ChainModeError(_mismatch(stored, mine))
        _use_links(hasher, stored.get(LINKS, 1))
        return True
    head = session.head
    if head is None:  # a new chain: the current links, recorded with its mode
        hasher.use_links(CURRENT_LINKS)
        session.put_state(CHAIN_MODE, {**mine, LINKS: CURRENT_LINKS})
        return False
    # written before the record existed (links 1), or the record lost
    if not _links_of_head(session, hasher, head.position):
        raise ChainModeError(
            f"the chain's head (position {head.position}) does not verify as "
            f"{hasher.mode}: it was written {_other_mode(hasher)}"
        )
    session.put_state(CHAIN_MODE, {**mine, LINKS: hasher.links} if hasher.links > 1 else mine)
    return False


def _use_links(hasher: ChainHasher, links: object) -> None:
    """The recorded version of links, or a clear refusal of one this code does
    not know (a store written by a newer version)."""
    if isinstance(links, bool) or not isinstance(links, int) or links not in {1, CURRENT_LINKS}:
        raise ChainLinksError(links, f"1 and {CURRENT_LINKS}")
    hasher.use_links(links)


def _mismatch(stored: dict[str, Any], mine: dict[str, str]) -> str:
    if stored.get("mode") != mine["mode"]:
        if mine["mode"] == "sha256":
            return "the chain is keyed (HMAC-SHA-256) and LEDGER_CHAIN_KEY is not set"
        return "the chain is plain SHA-256 and LEDGER_CHAIN_KEY is set"
    return "the chain is keyed with another LEDGER_CHAIN_KEY than this one"


def _other_mode(hasher: ChainHasher) -> str:
    if hasher.mode == "sha256":
        return "with a key (set the LEDGER_CHAIN_KEY it was written with)"
    return "without this key (plain SHA-256, or another key)"
