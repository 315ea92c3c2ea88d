"""The speech threads take the most urgent work first."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from ivr.speech.pool import NICENESS, SpeechPool, Urgency


def test_queued_work_runs_by_urgency_then_in_arrival_order() -> None:
    pool = SpeechPool(1)
    gate, done = threading.Event(), []
    pool.submit(Urgency.LIVE, gate.wait)  # holds the only thread while the rest queue
    futures = [pool.submit(Urgency.BACKGROUND, done.append, "voicemail"),
               pool.submit(Urgency.LIVE, done.append, "feed 1"),
               pool.submit(Urgency.TURN_END, done.append, "finish"),
               pool.submit(Urgency.LIVE, done.append, "feed 2")]
    gate.set()
    for future in futures:
        future.result(timeout=5)
    assert done == ["finish", "feed 1", "feed 2", "voicemail"]
    pool.shutdown()


def test_errors_reach_the_caller_and_the_thread_lives_on() -> None:
    pool = SpeechPool(1)

    async def run() -> int:
        with pytest.raises(ZeroDivisionError):
            await pool.run(Urgency.LIVE, lambda: 1 / 0)
        return int(await pool.run(Urgency.LIVE, lambda: 7))

    assert asyncio.run(run()) == 7
    pool.shutdown()


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread priority is a Linux feature")
def test_speech_threads_yield_the_cpu_to_the_event_loop() -> None:
    pool = SpeechPool(1)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    theirs = pool.submit(Urgency.LIVE, lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert theirs.result(timeout=5) == min(19, mine + NICENESS)
    pool.shutdown()
