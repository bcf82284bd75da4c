"""Parsing POST /events bodies: small ones here, large ones in a worker process.

A body of a thousand events costs its request thread about 10 ms of decoding,
validation and hashing (`ledger.writes.parse_body`), all of it under the
interpreter's lock that the group commit's threads need too: measured with
batches of 1,000 sales, a third of the API process's time. A large body is
therefore parsed by a worker process — on another core — and comes back in the
light form the import's parse worker uses; the answer is the same either way
(one function parses both, a test compares them). The worker is started on
the first large body; should it fail, bodies are parsed here again.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

import structlog

from ledger.errors import LineError
from ledger.writes import Input, inputs_from_wire, parse_body, parse_body_wire

__all__ = ["LARGE_BODY_BYTES", "BodyParser"]

log = structlog.get_logger("api")

# Bodies from this size on go to the worker (about 150 sales): below it, the
# round trip to another process costs more than it saves.
LARGE_BODY_BYTES = 32 * 1024


class BodyParser:
    """Parses request bodies into inputs, large ones in a worker process."""

    def __init__(self, *, large_body_bytes: int = LARGE_BODY_BYTES, workers: int = 1) -> None:
        self.large_body_bytes = large_body_bytes
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._failed = workers < 1

    async def parse(self, body: bytes, actor: str) -> tuple[list[Input], list[LineError]]:
        """`ledger.writes.parse_body`, wherever it runs."""
        if len(body) < self.large_body_bytes or self._failed:
            return parse_body(body, actor)
        try:
            pool = self._started()
            answer = await asyncio.get_running_loop().run_in_executor(
                pool, parse_body_wire, body, actor
            )
        except (BrokenProcessPool, OSError, RuntimeError):
            log.warning("api.body_parser_failed", exc_info=True)
            self._failed = True  # parse here from now on
            self.close()
            return parse_body(body, actor)
        return inputs_from_wire(answer)

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self._workers, mp_context=get_context("spawn"))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
