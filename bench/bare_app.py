"""The HTTP ceiling: a bare FastAPI endpoint doing one INSERT per request into a
scratch table, served the same way as the ledger (`uvicorn`, one worker).

The INSERT (and its commit) runs on FastAPI's thread pool, with a connection for
each concurrent client (``BARE_POOL``; `bench.http` passes its ``--concurrency``),
as a plain endpoint would: on the event loop itself, or with fewer connections,
requests wait for one another's commits and the figure measures the database's
commit latency rather than the framework. Measured at 32 clients on a morning when
a flush took 0.5 ms: 1,316 req/s on the loop with 8 connections, 1,540 on the
thread pool with 8, 1,991 with 32.

Run by `bench.http`: `BARE_DSN=postgresql://... uvicorn bench.bare_app:app`.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from psycopg_pool import ConnectionPool

app = FastAPI()
_POOL_SIZE = int(os.environ.get("BARE_POOL", "32"))
_pool = ConnectionPool(
    os.environ.get("BARE_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    min_size=_POOL_SIZE,
    max_size=_POOL_SIZE,
    open=False,
)


@app.on_event("startup")
def _open() -> None:
    _pool.open()
    with _pool.connection() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_bare (id uuid PRIMARY KEY, body bytea)")


@app.post("/events", status_code=201)
async def post(request: Request) -> dict[str, Any]:
    body = await request.body()
    await run_in_threadpool(_insert, body)
    return {"stored": 1}


def _insert(body: bytes) -> None:
    with _pool.connection() as conn:
        conn.execute("INSERT INTO bench_bare VALUES (%s, %s)", (uuid.uuid4(), body))
