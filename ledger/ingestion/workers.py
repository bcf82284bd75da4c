"""Worker processes that never outlive the process that started them.

The parse workers (an import's, `ledger.ingestion.pipeline._Parser`; the API's,
`api.body_parser`) are started by multiprocessing's "spawn" and wait for work
on a queue whose pipe they hold both ends of: when their parent is killed
(SIGKILL: no chance to shut its pool down) nothing ever tells them, and they
would wait for good. `watch_parent`, their pool's initializer, starts a thread
that notices the parent is gone and ends the worker.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["WATCH_SECONDS", "watch_parent"]

WATCH_SECONDS = 0.5  # how often a worker looks for its parent


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
