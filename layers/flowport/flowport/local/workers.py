"""Background threads of local mode's emulated services (schedules, queue pollers): one per job, each
told through one event when to stop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

Job = Callable[[threading.Event], None]


class Workers:
    def __init__(self, jobs: Iterable[tuple[str, Job]]) -> None:
        """Start each `(thread name, job)`; a job runs until the event it is given is set."""
        self._stopped = threading.Event()
        self._threads = [
            threading.Thread(target=job, args=(self._stopped,), name=name, daemon=True) for name, job in jobs
        ]
        for thread in self._threads:
            thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop: a run under way finishes first (before the embedded moto goes away)."""
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout)
