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
    signals: tuple[ev.SignalNoted, ...] = ()
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

    def caller_said(self) -> list[str]:
        """What the caller said, in order: their words, not key presses, silences or messages
        (those turns are written in brackets)."""
        return [t.text for t in self.turns if t.speaker == "caller" and not t.text.startswith("[")]

    def last_caller_text(self) -> str | None:
        """What the caller said last."""
        said = self.caller_said()
        return said[-1] if said else None

    def signal_reasons(self, kind: str) -> list[str]:
        """Why each signal of one kind ("distress", "emergency") was noted, in order."""
        return [s.what for s in self.signals if s.kind == kind]

    def __post_init__(self) -> None:
        # Snapshots written before signals were typed hold "kind: what" strings.
        if any(isinstance(s, str) for s in self.signals):
            notes = tuple(s if not isinstance(s, str) else ev.SignalNoted(*s.split(": ", 1))
                          for s in self.signals)
            object.__setattr__(self, "signals", notes)
