"""The typed read side: what a read model's row is, and a page of a list.

Every read model's row is a `Row` declared beside the code that computes it
(`projections.disputes.RepRow`, `projections.payout_runs.RunRow`, ...), and the
work queues answer `ListPage`s of typed items (`projections.queues`). They are
encoded once, at the edge (`Row.doc`, then the API's JSON or the CLI's table),
into the same bytes the untyped rows gave.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ListPage", "Row"]


class Row(BaseModel):
    """A read model's row as its readers get it. A stored row's fields are
    declared in the order of their names: the order the stored documents (keys
    sorted) have always been served in, so the JSON at the edges stays byte for
    byte the same. A stored row of another shape fails loudly: that is a read
    model whose version was not raised with its code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def doc(self) -> dict[str, Any]:
        """The row as JSON-ready data (what is stored, and what the edges send),
        its fields under their aliases (a diff's ``from``)."""
        return self.model_dump(mode="json", by_alias=True)


class ListPage(Row):
    """A window of a stably sorted list: its items, how many the whole list
    holds, and where the window starts (``?offset=&limit=``). Each list
    declares its own ``items`` (and what else it answers, after them)."""

    items: list[Any]
    total: int = Field(description="items in the whole list")
    offset: int
    limit: int
