"""``?offset=&limit=`` on a rep's own lists that answer a JSON array (SPEC §5:
every list is paged): ``GET /reps/{rep_id}/disputes`` and ``/history``.

They answered the whole array before paging existed, and clients read it as
one: it stays an array — the window of the list, whole by default (a rep's
disputes and disciplinary history are short; the default is the largest page
of every list, `MAX_LIMIT`) — and ``X-Total-Count`` says how long the list is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from api.routes.events import as_json
from projections.queues import MAX_LIMIT
from projections.summary import MAX_OFFSET, check_window

__all__ = ["TOTAL_HEADER", "ArrayPage", "ArrayPageDep"]

TOTAL_HEADER = "X-Total-Count"


@dataclass(frozen=True)
class ArrayPage:
    """A window of a stably sorted list answered as an array."""

    offset: int = 0
    limit: int = MAX_LIMIT

    def __post_init__(self) -> None:
        check_window(self.offset, self.limit, MAX_LIMIT)

    def answer(self, items: Sequence[Any]) -> JSONResponse:
        """The window of ``items`` as a JSON array, the list's length in `TOTAL_HEADER`."""
        response = as_json(list(items[self.offset : self.offset + self.limit]))
        response.headers[TOTAL_HEADER] = str(len(items))
        return response


async def _array_page(
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_LIMIT,
            description=f"Items to return, at most {MAX_LIMIT} (the default); "
            f"the list's length is in {TOTAL_HEADER}.",
        ),
    ] = MAX_LIMIT,
) -> ArrayPage:
    return ArrayPage(offset, limit)


ArrayPageDep = Annotated[ArrayPage, Depends(_array_page)]
