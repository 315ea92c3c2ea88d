"""What happens on a call (events, into the engine) and what the gateway must do (actions, out).

Adapters (terminal simulator, Twilio media stream, tests) turn their world into these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal, Union

# ---- events -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CallStarted:
    """A call was answered. `at` is the only clock the engine ever sees."""

    at: dt.datetime
    caller: str = "unknown"
    call_id: str = ""


@dataclass(frozen=True)
class Heard:
    """Recognised speech. Partial results (final=False) are acted on only when unambiguous."""

    text: str
    confidence: float = 1.0
    final: bool = True
    at: dt.datetime | None = None


@dataclass(frozen=True)
class Pressed:
    """A keypad key (0-9, *, #)."""

    digit: str
    at: dt.datetime | None = None


@dataclass(frozen=True)
class Silence:
    """The caller said nothing before the listening timeout."""

    at: dt.datetime | None = None


@dataclass(frozen=True)
class PromptFinished:
    """A prompt finished playing (the adapter learned it from a mark, or a local player)."""

    prompt_id: str
    at: dt.datetime | None = None


@dataclass(frozen=True)
class CallerLoud:
    """Loudness of one caller utterance: dB over `against` ("their start": the caller's own
    first utterances; "phone speech": ordinary telephone speech, before the caller has spoken),
    and the share of it that clipped the line."""

    db_over: float
    at: dt.datetime | None = None
    against: str = "their start"
    clipped: float = 0.0


@dataclass(frozen=True)
class TransferFailed:
    """Nobody took the transfer (busy, no answer, declined, failed)."""

    status: str
    at: dt.datetime | None = None


@dataclass(frozen=True)
class MessageRecorded:
    """A voicemail finished recording; `transcript` is what was recognised, if anything."""

    transcript: str = ""
    at: dt.datetime | None = None


@dataclass(frozen=True)
class CallEnded:
    """The caller hung up, or the line dropped."""

    at: dt.datetime | None = None


Event = Union[CallStarted, Heard, Pressed, Silence, PromptFinished, CallerLoud,
              TransferFailed, MessageRecorded, CallEnded]

# ---- actions ----------------------------------------------------------------------------
# Named for what the gateway does, so they never read like the flow's step kinds (say, transfer,
# voicemail, hangup) that produce them.

TransferReason = Literal["requested", "not understood", "distress", "emergency", "flow", "fault"]


@dataclass(frozen=True)
class PlayPrompt:
    """Play a prompt: recorded `audio` when given, else `text` spoken. `prompt_id` comes back
    in `PromptFinished`."""

    text: str
    prompt_id: str
    audio: str | None = None
    language: str = "en-US"
    # Its line in the call's transcript (the engine sets it), so that what became of the prompt
    # on the line (heard, cut off, never played) is recorded against the right line.
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Listen:
    """Listen for speech in `grammar` or a key in `keys`, for `timeout` seconds after prompts end."""

    grammar: tuple[str, ...]
    keys: tuple[str, ...]
    timeout: float
    step: str


@dataclass(frozen=True)
class Person:
    """One group of people to ring."""

    group: str
    label: str
    numbers: tuple[str, ...]
    ring: str = "simultaneous"
    timeout: int = 20


@dataclass(frozen=True)
class HandOver:
    """Hand the caller to people. `summary` is the one sentence the person answering hears."""

    people: Person
    reason: TransferReason
    summary: str
    detail: str = ""
    staff_language: str = "en-US"  # the language `summary` is written in


@dataclass(frozen=True)
class TakeMessage:
    """Record a message (the prompt before the tone was a `PlayPrompt`)."""

    max_seconds: int
    promise: str
    reason: str = ""


@dataclass(frozen=True)
class EndCall:
    """End the call (after any queued prompts have played)."""


Action = Union[PlayPrompt, Listen, HandOver, TakeMessage, EndCall]


@dataclass(frozen=True)
class SignalNoted:
    """A distress or emergency signal the engine noted during the call."""

    kind: str  # "distress" or "emergency"
    what: str  # the emergency's name, or the reason in words ("shouting", "said 'useless'")

    def __str__(self) -> str:
        return f"{self.kind}: {self.what}"


@dataclass(frozen=True)
class Turn:
    """One line of the transcript."""

    speaker: Literal["system", "caller"]
    text: str
    step: str | None
    at: dt.datetime | None = None
    meta: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
