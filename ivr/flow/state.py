"""What the engine knows about one call: an immutable value, a new one after every event.

Its own module so that the guards (distress, emergencies) can read a call's state without
importing the engine that runs them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from ivr.flow import events as ev

Mode = Literal["idle", "listening", "anything_else", "offer_person", "transferring",
               "voicemail", "ended"]

@dataclass(frozen=True)
class CallState:
    """Everything the engine knows about one call. Immutable; each event yields a new one."""

    call_id: str = ""
    caller: str = "unknown"
    started_at: dt.datetime | None = None
    now: dt.datetime | None = None
    step: str | None = None
    mode: Mode = "idle"
    misses: int = 0
    turns: tuple[ev.Turn, ...] = ()
    outcome: str | None = None
    transfer_reason: str | None = None
    transferred_to: str | None = None
    signals: tuple[str, ...] = ()
    concern: float = 0.0  # weak distress signals so far; a person takes over at the threshold
    answered: tuple[str, ...] = ()
    replay: tuple[ev.Action, ...] = ()
    prompt_count: int = 0
    disclosure_done_at: dt.datetime | None = None

    @property
    def disclosing(self) -> bool:
        """The disclosure is still playing: only a person request, an emergency or distress acts."""
        return self.started_at is not None and self.disclosure_done_at is None

    @property
    def ended(self) -> bool:
        """No more caller input will be acted on (transferred, voicemail or hung up)."""
        return self.mode in ("transferring", "voicemail", "ended")

    def last_caller_text(self) -> str | None:
        """What the caller said last (not key presses, silences or messages)."""
        for turn in reversed(self.turns):
            if turn.speaker == "caller" and not turn.text.startswith("["):
                return turn.text
        return None
