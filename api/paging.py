"""``?offset=&limit=`` on a rep's own lists that answer a JSON array (SPEC §5:
every list is paged): ``GET /reps/{rep_id}/disputes`` and ``/history``.

They answered the whole array before paging existed, and clients read it as
one: it stays an array — the window of the list, whole by default (a rep's
disputes and disciplinary history are short; the default is the largest page
of every list, `MAX_LIMIT`) — and ``X-Total-Count`` says how long the list is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from api.routes.events import as_json
from projections.queues import MAX_LIMIT, Page
from projections.summary import MAX_OFFSET

__all__ = ["TOTAL_HEADER", "ArrayPageDep", "answer"]

TOTAL_HEADER = "X-Total-Count"


def answer(page: Page, items: Sequence[Any]) -> JSONResponse:
    """The window ``page`` of ``items`` as a JSON array, the list's length in
    `TOTAL_HEADER`."""
    response = as_json(list(items[page.offset : page.offset + page.limit]))
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
) -> Page:
    return Page(offset, limit)


ArrayPageDep = Annotated[Page, Depends(_array_page)]
