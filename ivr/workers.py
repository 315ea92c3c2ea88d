"""Threads that take work by priority, then in arrival order.

The speech threads (what a waiting caller needs first) and the store's writer (a call's shared
state before other calls' transcripts) both queue this way.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class PriorityWorkers:
    """A fixed set of threads; lower `priority` numbers run first, equal ones in order. With one
    thread, work of one priority runs strictly in order, and all of it before any work of a
    later priority queued after it."""

    def __init__(self, threads: int, name: str, niceness: int = 0) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._niceness = niceness
        self._threads = [threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True)
                         for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, priority: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((priority, next(self._order), (future, fn, args, kwargs)))
        return future

    async def run(self, priority: int, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(self.submit(priority, fn, *args))

    def pending(self) -> int:
        """Work queued and not yet started."""
        return self._queue.qsize()

    def shutdown(self, wait: bool = False) -> None:
        """Stop once the work queued so far is done (of every priority)."""
        for _ in self._threads:
            self._queue.put((1 << 30, next(self._order), None))
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        if self._niceness:
            with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed: run as is
                me = threading.get_native_id()
                os.setpriority(os.PRIO_PROCESS, me, os.getpriority(os.PRIO_PROCESS, me) + self._niceness)
        while (item := self._queue.get()[2]) is not None:
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
