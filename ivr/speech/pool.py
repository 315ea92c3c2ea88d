"""The speech threads: recognition work in order of urgency, below the event loop's priority.

When more callers speak at once than the cores can decode in real time, work queues. Then
what a caller is waiting for goes first: the end of a turn (the caller has stopped and waits for
the answer) before audio of callers still speaking (they are not waiting yet), and both before
background work (voicemail transcription). The threads also run at a lower CPU priority than
the event loop, so keys, marks and the stream's frames stay on time however much speech queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from enum import IntEnum
from typing import Any

log = logging.getLogger(__name__)
NICENESS = 5  # added to the speech threads' nice value (Linux schedules threads one by one)


class Urgency(IntEnum):
    TURN_END = 0  # a caller has stopped speaking and waits for the answer
    LIVE = 1  # audio of a caller still speaking
    BACKGROUND = 2  # voicemail transcription and the like


class SpeechPool:
    """A fixed set of threads taking work by urgency, then in arrival order."""

    def __init__(self, threads: int, name: str = "ivr-speech") -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads = [threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True)
                         for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, urgency: Urgency, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((urgency, next(self._order), (future, fn, args)))
        return future

    async def run(self, urgency: Urgency, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(self.submit(urgency, fn, *args))

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put((len(Urgency), next(self._order), None))  # after all queued work

    def _work(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed: run as is
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(
                os.PRIO_PROCESS, threading.get_native_id()) + NICENESS)
        while (item := self._queue.get()[2]) is not None:
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the awaiting call, which sends it to a person
                future.set_exception(exc)
