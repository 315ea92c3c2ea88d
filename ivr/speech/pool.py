"""The speech threads: recognition work in order of urgency, below the event loop's priority.

When more callers speak at once than the cores can decode in real time, work queues. Then
what a caller is waiting for goes first: the end of a turn (the caller has stopped and waits for
the answer) before audio of callers still speaking (they are not waiting yet), and both before
background work (voicemail transcription). The threads also run at a lower CPU priority than
the event loop, so keys, marks and the stream's frames stay on time however much speech queues.
"""

from __future__ import annotations

from enum import IntEnum

from ivr.workers import PriorityWorkers

NICENESS = 5  # added to the speech threads' nice value (Linux schedules threads one by one)


class Urgency(IntEnum):
    TURN_END = 0  # a caller has stopped speaking and waits for the answer
    LIVE = 1  # audio of a caller still speaking
    BACKGROUND = 2  # voicemail transcription and the like


class SpeechPool(PriorityWorkers):
    """The speech threads: by urgency, then in arrival order, at a lower CPU priority."""

    def __init__(self, threads: int, name: str = "ivr-speech") -> None:
        super().__init__(threads, name, niceness=NICENESS)
