"""Where a CRM import keeps what it converts while it converts it: on disk, in
a private temporary SQLite database (deleted when closed; its page cache, and
so its share of the import's memory, bounded by `_CACHE_KIB`), never in a list
the size of the file.

A sale's split rows may lie anywhere in an export, so the rows of sales wait
here until every row is read, and come back a sale at a time (`sale_groups`);
each line, once made, is kept under its place in the import (a section —
sales, then cancellations, then payments — and the row that places it in
it), so `texts` reads them back in that order, from the first line to the
last, as often as the import asks (it reads again after a dropped connection).

Text is kept as UTF-8 bytes with ``surrogatepass``: whatever a cell held comes
back as it was.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter
from typing import Any

from ledger.crm.readers import Row

__all__ = ["CANCELLATION", "PAYMENT", "SALE", "Spill"]

SALE, CANCELLATION, PAYMENT = 0, 1, 2
_PLACES = 1 << 40  # a line's key: section * _PLACES + the row that places it
_CACHE_KIB = 16 * 1024
_BATCH = 2_000  # rows inserted at a time

_SCHEMA = """
CREATE TABLE sale_rows (sale BLOB NOT NULL, row INTEGER NOT NULL, kind TEXT NOT NULL,
                        cells BLOB NOT NULL);
CREATE TABLE lines (key INTEGER PRIMARY KEY, text BLOB NOT NULL, meta BLOB NOT NULL);
CREATE TABLE cancelled (sale BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE ignored (row INTEGER PRIMARY KEY, sale BLOB NOT NULL, said BLOB NOT NULL);
"""


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


class Spill:
    """The disk a conversion spills to (module docstring); `close` removes it."""

    def __init__(self) -> None:
        # "": a private database in a temporary file, removed when closed
        self._db = sqlite3.connect("", isolation_level=None)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = FILE"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        self._db.executescript(_SCHEMA)
        self._db.execute("BEGIN")  # never committed: the database goes with the connection
        self._sale_rows: list[tuple[bytes, int, str, bytes]] = []
        self._lines: list[tuple[int, bytes, bytes]] = []
        self.count = 0  # lines kept

    def close(self) -> None:
        self._db.close()

    # -- the rows of sales, until every row is read

    def add_sale_row(self, sale_id: str, kind: str, row: Row) -> None:
        cells = pickle.dumps((row.cells, row.unreadable, row.hidden, row.overflow, row.numbers))
        self._sale_rows.append((_bytes(sale_id), row.number, kind, cells))
        if len(self._sale_rows) >= _BATCH:
            self._flush()

    def sale_groups(self) -> Iterator[tuple[str, list[tuple[str, Row]]]]:
        """Each sale's id and its rows (kind, row), in the order of the rows;
        one sale held at a time."""
        self._flush()
        found = self._db.execute("SELECT sale, row, kind, cells FROM sale_rows ORDER BY sale, row")
        for sale, rows in groupby(found, key=itemgetter(0)):
            # written by this process a moment ago, to a file no other can name
            yield (
                _text(sale),
                [
                    (kind, Row(number, *pickle.loads(cells)))  # noqa: S301
                    for _, number, kind, cells in rows
                ],
            )

    # -- the lines, in their places

    def add_line(self, section: int, row: int, text: str, meta: Any) -> None:
        """Keep a line: its JSON ``text`` and what else it is (``meta``, pickled)
        at its place, ``row`` in ``section`` (one line per place)."""
        assert 0 < row < _PLACES
        self._lines.append((section * _PLACES + row, _bytes(text), pickle.dumps(meta)))
        self.count += 1
        if len(self._lines) >= _BATCH:
            self._flush()

    def add_cancelled(self, sale_id: str) -> None:
        """A sale this very export cancels."""
        self._db.execute("INSERT OR IGNORE INTO cancelled VALUES (?)", (_bytes(sale_id),))

    def lines(self) -> Iterator[tuple[str, Any]]:
        """Every line's text and meta, in order."""
        self._flush()
        for text, meta in self._db.execute("SELECT text, meta FROM lines ORDER BY key"):
            yield _text(text), pickle.loads(meta)  # noqa: S301 - see sale_groups

    def lines_at(self, numbers: set[int]) -> dict[int, tuple[str, Any]]:
        """The lines numbered ``numbers`` (from 1, in order), read in one pass."""
        found: dict[int, tuple[str, Any]] = {}
        if not numbers:
            return found
        last = max(numbers)
        for number, line in enumerate(self.lines(), start=1):
            if number in numbers:
                found[number] = line
            if number >= last:
                break
        return found

    def texts(self) -> _Texts:
        self._flush()
        return _Texts(self._db)

    # -- ignored rows that name a sale

    def add_ignored(self, row: int, sale_id: str, said: str) -> None:
        self._db.execute(
            "INSERT INTO ignored VALUES (?, ?, ?)", (row, _bytes(sale_id), _bytes(said))
        )

    def ignored(self) -> Iterator[tuple[int, str, str]]:
        """The ignored rows (row, sale id, what its kind cell says) whose sale this
        export does not cancel, in order."""
        found = self._db.execute(
            "SELECT row, sale, said FROM ignored WHERE sale NOT IN (SELECT sale FROM cancelled) "
            "ORDER BY row"
        )
        for row, sale, said in found:
            yield row, _text(sale), _text(said)

    def ignored_sale_ids(self) -> Iterator[str]:
        """The sales of `ignored`, each once."""
        found = self._db.execute(
            "SELECT DISTINCT sale FROM ignored WHERE sale NOT IN (SELECT sale FROM cancelled)"
        )
        for (sale,) in found:
            yield _text(sale)

    def _flush(self) -> None:
        if self._sale_rows:
            self._db.executemany("INSERT INTO sale_rows VALUES (?, ?, ?, ?)", self._sale_rows)
            self._sale_rows.clear()
        if self._lines:
            self._db.executemany("INSERT INTO lines VALUES (?, ?, ?)", self._lines)
            self._lines.clear()


class _Texts:
    """The lines' texts in order; read again from the first by each iteration
    (`seek` is what `Ledger.import_lines` asks of an input it may re-read)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __iter__(self) -> Iterator[str]:
        for (text,) in self._db.execute("SELECT text FROM lines ORDER BY key"):
            yield _text(text)

    def seek(self, offset: int) -> int:
        assert offset == 0, "read again from the first line only"
        return 0
