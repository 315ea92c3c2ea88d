"""Neutral media-stream events: what any provider's serializer turns its messages into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Union


@dataclass(frozen=True)
class StreamStarted:
    call_sid: str
    stream_sid: str
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Audio:
    """One chunk of caller audio, 8 kHz mu-law; `timestamp_ms` is its time in the stream."""

    ulaw: bytes
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class Key:
    digit: str


@dataclass(frozen=True)
class MarkPlayed:
    name: str


@dataclass(frozen=True)
class StreamStopped:
    """The stream ended: `hung_up` when the provider said so (Twilio's `stop`: the call is
    over), else the connection was lost."""

    hung_up: bool = False


@dataclass(frozen=True)
class Ignored:
    """A message that was not understood; logged, never fatal."""

    why: str


MediaEvent = Union[StreamStarted, Audio, Key, MarkPlayed, StreamStopped, Ignored]


class MediaCodec(Protocol):
    """A provider's media-stream format: its messages in, neutral events out, and back."""

    def decode(self, raw: str | bytes) -> MediaEvent: ...

    def media(self, ulaw: bytes) -> list[str]: ...

    def mark(self, name: str) -> str: ...

    def clear(self) -> str: ...
