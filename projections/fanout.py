"""A rebuild's read-model rows computed on every core.

After the fold, each rep's rows (its statements, balances, history, ...) depend
only on the folded facts, which no longer change: processes *forked* from the
rebuilding one each take the next rep no other has taken, one at a time, until
none is left — one that drew a costly rep (10,000 sales) takes fewer. A fork
inherits the facts as they are in memory (copy-on-write: nothing folded is sent
anywhere), computes its reps' rows, encodes them into their stored form and
sends them back through a pipe. The rebuilding process writes each rep's rows
as they arrive, in its one transaction, and computes nothing but the runs'.
Before, it computed a share of the reps itself and took the rows in rep order:
each side waited for the other about a fifth of the time (measured on 200,000
events, docs/performance.md).

A worker computes and encodes, nothing else: it opens no connection, writes
no log line, leaves by ``os._exit`` (multiprocessing's fork) and collects no
garbage it inherited (`_compute_share`), so nothing of the parent — its store
connections, its logger — is touched by the copy; and
it exits once the parent is gone (the connection it inherited would otherwise
keep a killed rebuild's transaction, and its locks, open on the server). Forking
is only safe in a process that knows its threads: the ``rebuild`` command's own
(`projections.runner.rebuild`), never a server's (the API's background rebuild
computes in its own process, `rebuild_if_changed`).

By default a worker is forked only where the memory for it is there: each may
come to hold its own copy of most of what the rebuilding process holds (the
pages of the sales it reads get copied: ~340 MiB of a 450 MiB process at 1M
events), so the default counts the memory available to this process — the
host's, or less under a container's cgroup limit — as well as its cores.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import multiprocessing
import os
import pickle
import traceback
from collections.abc import Iterable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from operator import attrgetter
from pathlib import Path
from typing import Any, cast

from ledger.ingestion.workers import usable_cores, watch_parent
from projections.facts import LedgerFacts
from projections.statement import AsOf
from projections.storage.core import EncodedRows, Replacement, encode_replacements

__all__ = ["available_memory", "encoded_rows", "rebuild_workers", "resident_memory"]

# Reps per worker below which forking costs more than it saves.
_MIN_REPS_PER_WORKER = 4
# Each forked worker copies much of the folded log (~340 MiB at 1M events, as its
# reps' sales are interleaved with everyone's): the default stops at four.
_MAX_WORKERS = 4


_MEMINFO = Path("/proc/meminfo")
_CGROUP = Path("/sys/fs/cgroup")
# a cgroup's memory limit, use, and the stat of the page cache it can drop
# first: v2's files, else v1's
_CGROUP_MEMORY = (
    ("memory.max", "memory.current", "memory.stat", "inactive_file"),
    (
        "memory/memory.limit_in_bytes",
        "memory/memory.usage_in_bytes",
        "memory/memory.stat",
        "total_inactive_file",
    ),
)
_STATM = Path("/proc/self/statm")


def available_memory(meminfo: Path = _MEMINFO, cgroup: Path = _CGROUP) -> int | None:
    """Bytes this process could still take: the host's ``MemAvailable``, less where
    its cgroup's limit leaves less (a container's ``mem_limit``: cgroup v2's
    ``memory.max``, or v1's ``limit_in_bytes``); None where neither can be read
    (not Linux)."""
    available: int | None = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024  # "MemAvailable:  123 kB"
                break
    for limit_file, usage_file, stat_file, inactive in _CGROUP_MEMORY:
        with contextlib.suppress(OSError, ValueError):
            limit = (cgroup / limit_file).read_text(encoding="ascii").strip()
            used = int((cgroup / usage_file).read_text(encoding="ascii"))
            used -= _stat(cgroup / stat_file, inactive)  # page cache it can drop
            if limit != "max":  # v1 says "no limit" with a huge number instead
                left = max(int(limit) - used, 0)
                available = left if available is None else min(available, left)
            break
    return available


def _stat(path: Path, name: str) -> int:
    """The figure ``name`` of a cgroup's ``memory.stat`` (0 when it is not there)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in path.read_text(encoding="ascii").splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    return 0


def resident_memory(statm: Path = _STATM) -> int | None:
    """Bytes this process holds in memory now (its resident set); None where
    that cannot be read."""
    try:
        return int(statm.read_text(encoding="ascii").split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def rebuild_workers(reps: int, workers: int | None = None) -> int:
    """How many processes compute ``reps`` reps' rows: 1, this one alone, or that
    many processes forked from this one (which then only writes what they send).

    ``workers`` None: one per usable core (`usable_cores`, at most `_MAX_WORKERS`)
    when the fork start method exists (Linux), as long as each gets a few reps
    and the memory is there for each forked one to copy all this process holds
    (`available_memory`, `resident_memory`); a single forked process would only
    add a copy, so fewer than two is this one alone. A number asked for is used
    as is."""
    if workers is None:
        cores = usable_cores()
        forkable = "fork" in multiprocessing.get_all_start_methods()
        workers = min(cores, _MAX_WORKERS) if forkable else 1
        workers = min(workers, reps // _MIN_REPS_PER_WORKER)
        available, resident = available_memory(), resident_memory()
        if available is not None and resident:
            workers = min(workers, available // resident)
        if workers < 2:  # noqa: PLR2004 - one fork is no faster than this process
            workers = 1
    return max(workers, 1)


def encoded_rows(
    facts: LedgerFacts,
    as_of: AsOf,
    reps: Iterable[str],
    runs: Iterable[str],
    *,
    workers: int | None = None,
) -> Iterator[EncodedRows]:
    """The rows of ``reps`` and ``runs`` (`projections.runner.compute_rows`),
    encoded, computed by `rebuild_workers` processes.

    With more than one, they are forked from this one and each takes the next
    rep not yet taken (`_Claims`) until none is left, so a process that drew
    the costly reps takes fewer; this process writes the rows in the order
    they arrive — a rep's rows together — and computes the runs' rows, few and
    cheap. A generator: rows come a rep at a time, as the store writes them. A
    worker that fails or dies fails the rebuild (its transaction rolls back).
    """
    from projections.runner import compute_rows  # noqa: PLC0415 - the runner imports this module

    wanted = sorted(r for r in reps if r in facts.reps)
    count = rebuild_workers(len(wanted), workers)
    if count == 1:
        yield from encode_replacements(compute_rows(facts, as_of, wanted, runs))
        return
    context = multiprocessing.get_context("fork")
    claims = _Claims(context, wanted, count)
    ends: list[Connection] = []
    processes: list[multiprocessing.process.BaseProcess] = []
    try:
        with _collector_paused() as collecting:
            for share in range(count):
                receive, send = context.Pipe(duplex=False)
                process = context.Process(
                    target=_compute_share,
                    args=(facts, as_of, claims, share, send),
                    kwargs={
                        "inherited": (*ends, receive),
                        "parent_pid": os.getpid(),
                        "collecting": collecting,
                    },
                    name=f"rebuild-rows-{share}",
                    daemon=True,
                )
                process.start()
                send.close()  # the worker's end: EOF here when it is gone
                ends.append(receive)
                processes.append(process)
        answers = {end: share for share, end in enumerate(ends)}  # the workers not done
        while answers:
            for ready in wait(list(answers)):
                answer = cast("Connection", ready)
                rows = _received(answer, claims.taken_by(answers[answer]))
                if rows is None:  # that worker is done
                    del answers[answer]
                else:
                    yield from rows
        yield from encode_replacements(compute_rows(facts, as_of, (), runs))
        for worker in processes:
            worker.join()
    finally:
        for worker in processes:
            if worker.is_alive():
                worker.kill()
                worker.join()
        for receive in ends:
            receive.close()


@contextlib.contextmanager
def _collector_paused() -> Iterator[bool]:
    """The collector paused while workers are forked, so that none collects
    before it freezes what it inherited (`_compute_share`); yields whether
    it ran, for them to run it as this process does."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield collecting
    finally:
        if collecting:
            gc.enable()


class _Claims:
    """Which rep each forked worker takes next: an index into the reps shared by
    the workers (under its lock), and the rep each one took last (to name the
    rep a worker was computing when it died)."""

    def __init__(self, context: Any, reps: Sequence[str], workers: int) -> None:
        self.reps = reps
        self._next = context.Value("q", 0)
        self._taken = context.RawArray("q", [-1] * workers)

    def take(self, share: int) -> Iterator[str]:
        """In worker ``share``: the reps it takes, one at a time, in rep order."""
        while True:
            with self._next.get_lock():
                index = self._next.value
                self._next.value = index + 1
            if index >= len(self.reps):
                return
            self._taken[share] = index
            yield self.reps[index]

    def taken_by(self, share: int) -> str | None:
        """The rep worker ``share`` took last (None: none yet)."""
        index = self._taken[share]
        return self.reps[index] if index >= 0 else None


def _per_rep(replacements: Iterable[Replacement]) -> Iterator[list[EncodedRows]]:
    """Replacements of one rep after another, encoded, a rep's at a time (every
    row of a rep is scoped by its id)."""
    for _, rows in itertools.groupby(replacements, key=attrgetter("scope")):
        yield list(encode_replacements(rows))


def _received(answer: Connection, rep_id: str | None) -> list[EncodedRows] | None:
    """A worker's next rep's rows, or None once it has computed all it took."""
    try:
        message = answer.recv_bytes()
    except EOFError:
        msg = f"the worker computing the rows of rep {rep_id!r} exited without answering"
        raise RuntimeError(msg) from None
    # (None, the rep's rows), (None, None) when done, or (what failed, the rep it failed on)
    failure, answered = pickle.loads(message)  # noqa: S301 - from a process forked from this one
    if failure is not None:
        msg = f"computing the rows of rep {answered!r} failed in a worker:\n{failure}"
        raise RuntimeError(msg)
    rows: list[EncodedRows] | None = answered
    return rows


def _compute_share(
    facts: LedgerFacts,
    as_of: AsOf,
    claims: _Claims,
    share: int,
    send: Connection,
    *,
    inherited: Sequence[Connection],
    parent_pid: int,
    collecting: bool,
) -> None:
    """In a forked worker: the rows of each rep it takes, one message per rep,
    then a last message saying it is done.

    The worker never outlives the rebuild: it closes the read ends it inherited
    (its own pipe's among them, so a write to a parent that is gone fails
    instead of waiting for a reader), and exits once the parent is gone. It
    inherited the parent's database connection too, inside the rebuild's open
    transaction: a worker left waiting after the parent was killed held that
    connection, so the server never rolled the transaction back and every
    projection write waited on its locks.

    What it inherited is the parent's to finalise: garbage the parent had not
    collected yet (a cycle holding a store connection) was collected here too,
    its finaliser run in the worker — an sqlite3 connection closed, a psycopg
    one ending its session on the server. So the collector, paused
    across the fork, leaves every inherited object alone (`gc.freeze`) and
    then collects only the worker's own, as the parent did (``collecting``)."""
    from projections.runner import compute_rows  # noqa: PLC0415 - see `encoded_rows`

    gc.freeze()
    if collecting:
        gc.enable()
    watch_parent(parent_pid)
    for end in inherited:
        end.close()
    try:
        for rows in _per_rep(compute_rows(facts, as_of, claims.take(share), ())):
            _send(send, None, rows)
        _send(send, None, None)
    except BaseException:  # noqa: BLE001 - any failure is the parent's to raise
        _send(send, traceback.format_exc(), claims.taken_by(share))
    finally:
        send.close()


def _send(send: Connection, failure: str | None, answer: object) -> None:
    send.send_bytes(pickle.dumps((failure, answer), protocol=pickle.HIGHEST_PROTOCOL))
