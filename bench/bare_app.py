"""The HTTP ceiling: a bare FastAPI endpoint doing one INSERT per request into a
scratch table, served the same way as the ledger (`uvicorn`, one worker).

Run by `bench.http`: `BARE_DSN=postgresql://... uvicorn bench.bare_app:app`.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI, Request
from psycopg_pool import ConnectionPool

app = FastAPI()
_pool = ConnectionPool(
    os.environ.get("BARE_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    min_size=4,
    max_size=8,
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
    with _pool.connection() as conn:
        conn.execute("INSERT INTO bench_bare VALUES (%s, %s)", (uuid.uuid4(), body))
    return {"stored": 1}
