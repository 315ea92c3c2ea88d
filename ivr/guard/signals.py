"""Signals that send a caller to a person without being asked: emergencies and distress.

A detector looks at one event (with the flow and the call so far) and may return a `Signal`.
The engine runs every detector on every caller event; emergencies outrank distress.
Richer distress detection (lexicons, conversation patterns) plugs in here as more detectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ivr.flow.events import CallerLoud, Event, Heard
from ivr.guard.words import find_any, words_for

if TYPE_CHECKING:
    from ivr.flow.engine import CallState
    from ivr.flow.model import Flow


@dataclass(frozen=True)
class Signal:
    """Why a caller should reach a person now. `reason` is shown to the person answering."""

    kind: Literal["emergency", "distress"]
    reason: str
    name: str = ""
    safety: str | None = None


Detector = Callable[["Flow", "CallState", Event], "Signal | None"]


def emergency_words(flow: Flow, state: CallState, event: Event) -> Signal | None:
    """The flow's own emergencies (with their safety line) first, then life-safety words."""
    if not isinstance(event, Heard):
        return None
    words = words_for(flow.language)
    for emergency in flow.emergencies:
        found = find_any(event.text, emergency.phrases, words.match)
        if found:
            return Signal("emergency", f"said {found!r}", emergency.name, emergency.safety)
    found = find_any(event.text, words.emergency, words.match)
    if found:
        return Signal("emergency", f"said {found!r}", found)
    return None


SHOUT_DB = 12.0  # an utterance this much louder than the caller's own start is shouting


def shouting(flow: Flow, state: CallState, event: Event) -> Signal | None:
    """A caller much louder than at the start of the call is upset; hand over early."""
    if isinstance(event, CallerLoud) and event.db_over_baseline >= SHOUT_DB:
        return Signal("distress", f"shouting ({event.db_over_baseline:.0f} dB over their start)")
    return None


DEFAULT_DETECTORS: Sequence[Detector] = (emergency_words, shouting)


def strongest(signals: list[Signal]) -> Signal | None:
    """Emergencies outrank distress; otherwise the first found."""
    for kind in ("emergency", "distress"):
        for signal in signals:
            if signal.kind == kind:
                return signal
    return None
