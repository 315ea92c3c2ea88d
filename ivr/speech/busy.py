"""When to tell the balancer this instance is full: speech work waiting too long for a thread,
or a call's audio waiting too long behind its recognition (the machine's CPU is short).

A turn's reply waits for recognition; when more callers finish speaking at once than the cores
can decode, recognition work queues and turns slow down for everyone. Before turns pass about a
second, the instance says "busy" on /health (503), so the balancer sends new calls elsewhere;
calls already here go on (keys, the person word and emergencies never wait for recognition).
Hysteresis keeps it from flapping: busy when the recent wait passes `enter_s`, calm again only
after it stays under `leave_s` for `calm_for_s`.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class BusySignal:
    """Fed every recognition job's wait for a thread, and a call's audio backlog when it grows;
    says whether the instance is busy."""

    def __init__(self, enter_s: float = 0.5, leave_s: float = 0.15, window_s: float = 2.0,
                 calm_for_s: float = 5.0) -> None:
        self.enter_s, self.leave_s, self.window_s, self.calm_for_s = enter_s, leave_s, window_s, calm_for_s
        # The window's waits, each larger than every later one: the first is the window's
        # worst, found without a scan (a loaded instance feeds hundreds of waits a second).
        self._worst: deque[tuple[float, float]] = deque()  # (when, wait)
        self._busy_since: float | None = None
        self._calm_since: float | None = None
        self._lock = threading.Lock()  # fed from the speech threads, read on the event loop

    def waited(self, seconds: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            worst = self._worst
            while worst and worst[-1][1] <= seconds:
                worst.pop()
            worst.append((now, seconds))
            self._update(now)

    def busy(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._update(now)
            return self._busy_since is not None

    def _update(self, now: float) -> None:
        while self._worst and now - self._worst[0][0] > self.window_s:
            self._worst.popleft()
        worst = self._worst[0][1] if self._worst else 0.0
        if self._busy_since is None:
            if worst > self.enter_s:
                self._busy_since, self._calm_since = now, None
            return
        if worst >= self.leave_s:
            self._calm_since = None
        elif self._calm_since is None:
            self._calm_since = now
        elif now - self._calm_since >= self.calm_for_s:
            self._busy_since = self._calm_since = None
