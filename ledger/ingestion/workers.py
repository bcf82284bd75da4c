"""Worker processes that never outlive the process that started them.

The parse workers (an import's, `ledger.ingestion.pipeline._Parser`; the API's,
`api.body_parser`) are started by multiprocessing's "spawn" and wait for work
on a queue whose pipe they hold both ends of: when their parent is killed
(SIGKILL: no chance to shut its pool down) nothing ever tells them, and they
would wait for good. `watch_parent`, their pool's initializer, starts a thread
that notices the parent is gone and ends the worker.

`usable_cores` says how many such processes are worth starting: the cores this
process may really run on (an import's parse worker; a rebuild's rows workers,
`projections.fanout`).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from pathlib import Path

__all__ = ["WATCH_SECONDS", "parse_workers_for", "usable_cores", "watch_parent"]

WATCH_SECONDS = 0.5  # how often a worker looks for its parent
# cgroup v2's CPU limit of this process ("max 100000": none), as a container has it.
_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores(cpu_max: Path = _CPU_MAX) -> int:
    """The cores this process may run on: those it is pinned to, fewer when its
    cgroup's quota allows less (a container's ``cpus:``), where ``os.cpu_count``
    gives the host's."""
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    with contextlib.suppress(OSError, ValueError):
        quota, period = cpu_max.read_text(encoding="ascii").split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    return max(cores, 1)


def parse_workers_for(cores: int) -> int:
    """How many parse worker processes to start by default (an import's, the API's
    for large bodies) with ``cores`` usable: one on a core of its own, none where
    it would compete with the process it parses for."""
    return 1 if cores > 1 else 0


def watch_parent(parent_pid: int, every_seconds: float = WATCH_SECONDS) -> None:
    """Initializer of a worker process: exit once ``parent_pid`` is gone.

    The parent is gone when the worker has been handed to another process (its
    parent id changed: the kernel re-parents orphans) — a check that cannot be
    fooled by a new process reusing the id.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every_seconds)
        os._exit(0)  # no clean-up to do: the worker holds nothing of its own

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
