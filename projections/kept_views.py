"""Statement views kept as the bytes served (SPEC §4's summary and pages of the
full view), so that a repeated read is a lookup rather than a decode of a
statement explaining thousands of sales.

A kept body is keyed by everything that decides it but the position of the
read — rep, period, view, locale, offset and limit, and the position an
``as_of`` names (None: now) — and holds the position it was made at. A body
made as of a position never changes (the log only grows). A body made "now"
holds while no event that can change the rep's statements has been projected
since (`Reports` asks the replay index); its ``as_of`` and ``chain_head`` are
then those of the current position, spliced in where they stood
(`KeptView.stamped`). Bounded: least recently served first out, by count and
by bytes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["KeptView", "KeptViews", "ViewKey"]

# rep, period (as asked), view, locale, offset, limit, as_of position (None: now)
ViewKey = tuple[str, str, str, str, int | None, int | None, int | None]


@dataclass(frozen=True)
class KeptView:
    """A view's bytes as made at ``position``; ``stamp`` is where its
    ``"as_of":...,"chain_head":...`` members lie in ``body`` (start, end)."""

    position: int
    body: bytes
    stamp: tuple[int, int]

    @classmethod
    def of(cls, position: int, body: bytes, stamp: bytes) -> KeptView | None:
        """``body`` made at ``position``, whose members ``stamp`` (a JSON object
        of ``as_of`` and ``chain_head``) are found once in it; None otherwise
        (then it cannot be stamped anew, and is not kept)."""
        members = stamp[1:-1]
        start = body.find(members)
        if start < 0 or body.find(members, start + 1) >= 0:
            return None
        return cls(position, body, (start, start + len(members)))

    def stamped(self, position: int, stamp: bytes) -> KeptView:
        """The same view served at ``position``, with ``stamp``'s members."""
        start, end = self.stamp
        members = stamp[1:-1]
        body = self.body[:start] + members + self.body[end:]
        return KeptView(position, body, (start, start + len(members)))


class KeptViews:
    """The views a process keeps: at most ``max_entries`` bodies, at most
    ``max_bytes`` in all, the least recently served dropped first. Safe to
    share between threads (the API's event loop and its worker threads)."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        assert max_entries > 0, max_entries
        assert max_bytes > 0, max_bytes
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[ViewKey, KeptView] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """The bytes of the bodies kept."""
        return self._bytes

    def get(self, key: ViewKey) -> KeptView | None:
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None:
                self._entries.move_to_end(key)
            return kept

    def put(self, key: ViewKey, kept: KeptView) -> None:
        """Keep ``kept`` under ``key`` (in place of what was there); a body
        larger than a quarter of the budget is not kept: it would push out
        many others."""
        if len(kept.body) * 4 > self.max_bytes:
            self.drop(key)
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._entries[key] = kept
            self._bytes += len(kept.body)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped.body)

    def drop(self, key: ViewKey) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
