"""The audit hash chain (SPEC §6).

Each committed event gets a *link*: ``hash = H(previous hash, canonical content)``.
``H`` is SHA-256, or HMAC-SHA-256 with ``LEDGER_CHAIN_KEY`` when one is configured.
The canonical content comes in two versions, recorded with the chain's mode
(`ledger.chain_guard`):

- links 1 (stores begun before 2026-12-05): the event's position, id,
  ``recorded_at``, stream id, stream version, topic and the SHA-256 of its
  stored bytes;
- links 2 (every store begun since): the position, ``recorded_at`` and the
  event's *digest* — the SHA-256 of its id, stream id, version, topic and the
  SHA-256 of its stored bytes (`event_digest`). The chain proves the same; an
  audit bundle can then show another rep's event as its position, time and
  digest alone, where links 1 had to show its stream (a UUIDv5 of a natural
  key anyone can compute: ``case:CASE-102``) and its type.

What each mode detects:

- plain SHA-256: editing any byte of a stored event, deleting one, swapping two
  (or renumbering) — a recomputed link no longer matches the stored one. A
  rewrite of every later link, a cut-off tail or a forged append go unseen,
  unless a chain head published earlier (an *anchor*) is checked: statements,
  payout runs and exports carry the head they were made at.
- HMAC-SHA-256 with a key kept outside the database: additionally, whoever can
  write the database but lacks the key cannot compute a valid link, so a forged
  append and a rewrite-and-rehash are detected without an anchor. Truncation
  still needs an anchor.

This module is pure: the recorders (`ledger.backends`) write links inside the
insert transaction; `verify_links` checks rows the recorders read back.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple
from uuid import UUID

from ledger.domain import event_id_bytes_of, event_id_text

__all__ = [
    "CURRENT_LINKS",
    "GENESIS",
    "Anchor",
    "ChainHasher",
    "ChainLink",
    "ChainReport",
    "LogRow",
    "event_digest",
    "merge_rows",
    "parse_anchor",
    "verify_links",
]

_HASH_HEX_LENGTH = 64
GENESIS = "0" * _HASH_HEX_LENGTH
# What a seal's material starts with: never a link's (those start with a hash).
_SEAL_PREFIX = b"incentive-ledger sealed document\n"
# The version of the links a new store's chain is written with (see above).
CURRENT_LINKS = 2


def event_digest(
    event_id: str, stream_hex: str, originator_version: int, topic: str, content_sha256: str
) -> str:
    """Links 2: what a link hashes of one event besides its position and time."""
    material = f"{event_id}\n{stream_hex}\n{originator_version}\n{topic}\n{content_sha256}"
    return hashlib.sha256(material.encode()).hexdigest()


class ChainLink(NamedTuple):
    """One committed event's place in the chain (a named tuple: one is made per
    event appended)."""

    position: int
    event_id: str
    recorded_at: str
    hash: str


@dataclass(frozen=True)
class LogRow:
    """A stored event as read back for verification, with its link if it has one.

    ``event`` is None for a link whose event row is gone; ``link`` is None for an
    event row that has no link.
    """

    position: int
    originator_id: UUID | None
    originator_version: int | None
    topic: str | None
    state: bytes | None
    link: ChainLink | None


class Anchor(NamedTuple):
    """A chain head published earlier: ``POSITION:HASH``."""

    position: int
    hash: str

    def __str__(self) -> str:
        return f"{self.position}:{self.hash}"


def parse_anchor(text: str) -> Anchor:
    """Parse ``POSITION:HASH``; raises ValueError naming what is wrong."""
    position_text, sep, hash_text = text.partition(":")
    if not sep or not position_text.isdigit():
        msg = f"an anchor is POSITION:HASH, e.g. 1234:9f86d0…, got {text!r}"
        raise ValueError(msg)
    hash_text = hash_text.strip().lower()
    if len(hash_text) != _HASH_HEX_LENGTH or any(c not in "0123456789abcdef" for c in hash_text):
        msg = "an anchor's hash is 64 hexadecimal characters"
        raise ValueError(msg)
    return Anchor(int(position_text), hash_text)


class ChainHasher:
    """Computes links; keyed (HMAC) when a chain key is configured; ``links``: the
    version of their content (1 or 2, see above), ``links_known`` once it was
    read from (or recorded in) the store (`ledger.chain_guard`)."""

    def __init__(self, key: bytes | None = None, *, links: int = 1) -> None:
        self._key = key or None
        self.links = links
        self.links_known = False

    def use_links(self, links: int) -> None:
        """The store's chain is written with links ``links`` (1 or 2)."""
        if links not in {1, CURRENT_LINKS}:
            msg = f"links {links} are not a version this code knows (1, {CURRENT_LINKS})"
            raise ValueError(msg)
        self.links, self.links_known = links, True

    @property
    def mode(self) -> str:
        return "hmac-sha256" if self._key else "sha256"

    def identity(self) -> dict[str, str]:
        """The mode and, keyed, an id of the key (an HMAC of a fixed text: it
        tells two keys apart and reveals nothing of either) — what a store
        records of the chain its first writer began (`ledger.chain_guard`)."""
        if not self._key:
            return {"mode": self.mode}
        key_id = hmac.new(self._key, b"incentive-ledger chain key id", hashlib.sha256)
        return {"mode": self.mode, "key_id": key_id.hexdigest()[:16]}

    def link_hash(
        self,
        previous_hash: str,
        *,
        position: int,
        event_id: str,
        recorded_at: str,
        originator_id: UUID,
        originator_version: int,
        topic: str,
        state: bytes,
    ) -> str:
        return self.link_hash_of_content(
            previous_hash,
            position=position,
            event_id=event_id,
            recorded_at=recorded_at,
            stream_hex=originator_id.hex,
            originator_version=originator_version,
            topic=topic,
            content_sha256=hashlib.sha256(state).hexdigest(),
        )

    def row_hash(self, previous_hash: str, row: LogRow) -> str:
        """`link_hash` of an event read back with its link: the link gives its id
        and ``recorded_at``, the row the rest."""
        link = row.link
        assert link is not None, "a row without a link has no hash"
        assert row.originator_id is not None, "a link without its event has no hash"
        assert row.originator_version is not None
        assert row.topic is not None
        assert row.state is not None
        return self.link_hash(
            previous_hash,
            position=row.position,
            event_id=link.event_id,
            recorded_at=link.recorded_at,
            originator_id=row.originator_id,
            originator_version=row.originator_version,
            topic=row.topic,
            state=row.state,
        )

    def link_hash_of_content(
        self,
        previous_hash: str,
        *,
        position: int,
        event_id: str,
        recorded_at: str,
        stream_hex: str,
        originator_version: int,
        topic: str,
        content_sha256: str,
    ) -> str:
        """`link_hash` from the SHA-256 of the event's stored bytes rather than
        the bytes: what an audit bundle (links 1) keeps of an event it does not
        disclose."""
        if self.links >= CURRENT_LINKS:
            digest = event_digest(event_id, stream_hex, originator_version, topic, content_sha256)
            return self.link_hash_of_digest(
                previous_hash, position=position, recorded_at=recorded_at, digest=digest
            )
        material = "\n".join(
            (
                previous_hash,
                str(position),
                event_id,
                recorded_at,
                stream_hex,
                str(originator_version),
                topic,
                content_sha256,
            )
        ).encode()
        return self._mac(material)

    def link_hash_of_digest(
        self, previous_hash: str, *, position: int, recorded_at: str, digest: str
    ) -> str:
        """Links 2: a link from the event's digest (`event_digest`) — what an audit
        bundle keeps of an event it does not disclose."""
        return self._mac(f"{previous_hash}\n{position}\n{recorded_at}\n{digest}".encode())

    def seal(self, document: bytes) -> str | None:
        """Keyed: an HMAC of a whole document the ledger vouches for (an audit
        bundle), kept apart from every link by its prefix (a link's material
        starts with a 64-hex hash); plain: None, since a plain SHA-256 anyone
        can recompute would prove nothing."""
        if not self._key:
            return None
        return hmac.new(self._key, _SEAL_PREFIX + document, hashlib.sha256).hexdigest()

    def _mac(self, material: bytes) -> str:
        if self._key:
            return hmac.new(self._key, material, hashlib.sha256).hexdigest()
        return hashlib.sha256(material).hexdigest()

    def extend(
        self,
        previous: ChainLink | None,
        events: Sequence[tuple[int, UUID, int, str, bytes]],
        now: datetime | None = None,
        *,
        event_ids: list[bytes] | None = None,
    ) -> list[ChainLink]:
        """Links for newly inserted events ``(position, stream id, version, topic, state)``.

        ``recorded_at`` never goes backwards along the chain, so "as of a
        timestamp" always names a prefix of the log. ``event_ids``, when given,
        receives each event id's 16 bytes (what a binary COPY writes).
        """
        moment = (now or datetime.now(UTC)).isoformat(timespec="microseconds")
        if previous is not None and previous.recorded_at > moment:
            moment = previous.recorded_at
        previous_hash = previous.hash if previous else GENESIS
        previous_position = previous.position if previous else 0
        links = []
        sha256, key, digested = hashlib.sha256, self._key, self.links >= CURRENT_LINKS
        for position, originator_id, version, topic, state in events:
            assert position > previous_position, "positions strictly increase"
            # `link_hash` and `event_id_text`, inlined: once per event appended
            stream = originator_id.hex
            id_bytes = event_id_bytes_of(stream, version)
            h = id_bytes.hex()
            event_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            content = sha256(state).hexdigest()
            if digested:  # links 2: `event_digest`, then `link_hash_of_digest`
                of_event = sha256(
                    f"{event_id}\n{stream}\n{version}\n{topic}\n{content}".encode()
                ).hexdigest()
                material = f"{previous_hash}\n{position}\n{moment}\n{of_event}".encode()
            else:
                material = (
                    f"{previous_hash}\n{position}\n{event_id}\n{moment}\n{stream}\n"
                    f"{version}\n{topic}\n{content}"
                ).encode()
            digest = (
                hmac.new(key, material, sha256).hexdigest() if key else sha256(material).hexdigest()
            )
            links.append(ChainLink(position, event_id, moment, digest))
            if event_ids is not None:
                event_ids.append(id_bytes)
            previous_hash, previous_position = digest, position
        return links


@dataclass(frozen=True)
class ChainReport:
    """What `verify` found."""

    ok: bool
    mode: str
    checked: int
    head: ChainLink | None
    broken_position: int | None = None
    reason: str | None = None
    anchors_checked: tuple[str, ...] = ()

    @classmethod
    def broken(
        cls, mode: str, checked: int, head: ChainLink | None, position: int, reason: str
    ) -> ChainReport:
        """The chain breaks at ``position`` for ``reason``, after ``checked`` events."""
        return cls(
            ok=False, mode=mode, checked=checked, head=head, broken_position=position, reason=reason
        )

    @property
    def verified_position(self) -> int:
        """How far the chain is known intact: the head checked when it held, else 0
        (a bounded check's head is as far as it got)."""
        return self.head.position if self.ok and self.head else 0

    def summary(self) -> str:
        head = f"{self.head.position}:{self.head.hash}" if self.head else "(empty)"
        if self.ok:
            anchors = (
                f", anchors {', '.join(self.anchors_checked)} hold" if self.anchors_checked else ""
            )
            return f"chain intact ({self.mode}): {self.checked} events, head {head}{anchors}"
        return f"chain BROKEN at position {self.broken_position}: {self.reason}"


def _check_row(hasher: ChainHasher, row: LogRow, previous_hash: str) -> tuple[str | None, str]:
    """The reason ``row`` breaks the chain (or None), and the hash to carry on with."""
    link = row.link
    if link is None:
        return (
            "event has no chain link: it was written around the ledger",
            previous_hash,
        )
    if row.state is None or row.originator_id is None or row.originator_version is None:
        return "the event at this position is missing: deleted", link.hash
    assert row.topic is not None
    if link.event_id != event_id_text(row.originator_id, row.originator_version):
        return "the event at this position is not the one the chain recorded", link.hash
    expected = hasher.row_hash(previous_hash, row)
    if not hmac.compare_digest(expected, link.hash):
        reason = (
            "hash mismatch: the event's content, its order or the link itself was "
            "changed (or the link was made without the chain key)"
        )
        return reason, link.hash
    return None, link.hash


def verify_links(
    hasher: ChainHasher,
    rows: Iterable[LogRow],
    anchors: Sequence[Anchor] = (),
    *,
    start: ChainLink | None = None,
) -> ChainReport:
    """Recompute the chain over ``rows`` (in position order) and check ``anchors``.

    ``start``: the link the rows follow, verified before (an incremental check
    from a watermark, `ledger.chain_guard`); by default the rows start the chain.
    """
    pending = {a.position: a for a in anchors}
    previous_hash = start.hash if start is not None else GENESIS
    head: ChainLink | None = start
    checked = 0
    for row in rows:
        reason, previous_hash = _check_row(hasher, row, previous_hash)
        if reason is None and row.position in pending:
            anchor = pending.pop(row.position)
            if row.link is not None and row.link.hash != anchor.hash:
                reason = (
                    f"anchor {anchor} no longer holds: the chain's hash at position "
                    f"{row.position} is {row.link.hash}, so history was rewritten — unless "
                    "the anchor was miscopied: compare it with where it was published"
                )
        if reason is not None:
            return ChainReport.broken(hasher.mode, checked, head, row.position, reason)
        checked += 1
        head = row.link
    for anchor in sorted(pending.values(), key=lambda a: a.position):
        last = head.position if head else 0
        reason = (
            f"anchor {anchor} is past the end of the chain (head {last}): the log was truncated"
            if anchor.position > last
            else f"anchor {anchor} names no event: history was rewritten"
        )
        return ChainReport.broken(hasher.mode, checked, head, anchor.position, reason)
    return ChainReport(
        ok=True,
        mode=hasher.mode,
        checked=checked,
        head=head,
        anchors_checked=tuple(str(a) for a in anchors),
    )


def merge_rows(
    events: Iterable[tuple[int, UUID, int, str, bytes]], links: Iterable[ChainLink]
) -> Iterator[LogRow]:
    """Merge two position-ordered streams (event rows, links) into LogRows."""
    event_iter, link_iter = iter(events), iter(links)
    event = next(event_iter, None)
    link = next(link_iter, None)
    while event is not None or link is not None:
        if link is None or (event is not None and event[0] < link.position):
            assert event is not None
            yield LogRow(event[0], event[1], event[2], event[3], event[4], None)
            event = next(event_iter, None)
        elif event is None or link.position < event[0]:
            yield LogRow(link.position, None, None, None, None, link)
            link = next(link_iter, None)
        else:
            yield LogRow(event[0], event[1], event[2], event[3], event[4], link)
            event, link = next(event_iter, None), next(link_iter, None)
