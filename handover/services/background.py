"""Work a thread of this process does when there is no Celery broker (the archive, the annex printed
ahead, the visit invitations): one queue and one thread per kind of work, started when work comes
and ended when none is left, so that a request never waits for it and never does it twice at once."""

import queue
import threading
import time
from collections.abc import Callable, Hashable, Iterable

from django.db import close_old_connections, connections


class InProcess:
    """A thread of this process doing `work(item)` for each item handed to it, one at a time.

    An item already waiting or being worked on is not taken again (work is idempotent anyway: the
    archive's row lock, a delivery's sent-once stamp). Each item runs with fresh database
    connections, closed after it, so the thread leaves none idle."""

    def __init__(self, work: Callable[[Hashable], object], name: str):
        self.work = work
        self.name = name
        self.lock = threading.Lock()
        self.waiting: queue.Queue = queue.Queue()
        self.asked: set = set()
        self.thread: threading.Thread | None = None

    def submit(self, item: Hashable) -> None:
        self.submit_all([item])

    def submit_all(self, items: Iterable[Hashable]) -> None:
        with self.lock:
            for item in items:
                if item in self.asked:
                    continue
                self.asked.add(item)
                self.waiting.put(item)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self.thread.start()

    def _work(self) -> None:
        while True:
            try:
                item = self.waiting.get(timeout=30)
            except queue.Empty:
                with self.lock:
                    if self.waiting.empty():
                        self.thread = None
                        return
                continue
            try:
                close_old_connections()
                self.work(item)
            finally:
                connections.close_all()
                with self.lock:
                    self.asked.discard(item)
                self.waiting.task_done()

    def wait(self, timeout: float = 60) -> bool:
        """Until every item handed to the thread is done (for the tests and the benchmark)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.asked:
                    return True
            time.sleep(0.05)
        return False
