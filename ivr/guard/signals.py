"""Signals that send a caller to a person without being asked: emergencies and distress.

A detector looks at one event (with the flow and the call so far) and may return a `Signal`.
The engine runs every detector on every caller event; emergencies outrank distress.
Richer distress detection (lexicons, conversation patterns) plugs in here as more detectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ivr.flow.events import Event, Heard
from ivr.flow.model import Emergency, Flow
from ivr.flow.state import CallState
from ivr.guard.emergencies import EmergencyKind, emergencies_for
from ivr.guard.words import find_any, normalize, words_for


@dataclass(frozen=True)
class Signal:
    """Why a caller should reach a person now. `reason` is shown to the person answering."""

    kind: Literal["emergency", "distress"]
    reason: str
    name: str = ""
    safety: str | None = None
    weight: float = 1.0  # distress only: evidence that adds up over a call


Detector = Callable[["Flow", "CallState", Event], "Signal | None"]


def emergency_words(flow: Flow, state: CallState, event: Event) -> Signal | None:
    """The flow's own emergencies (with their safety line) first, then the built-in ones."""
    if not isinstance(event, Heard) or not event.final:
        return None
    words = words_for(flow.language)
    kinds: list[Emergency | EmergencyKind] = [*flow.emergencies, *emergencies_for(flow.language)]
    for kind in kinds:
        found = find_any(event.text, list(kind.phrases), words.match)
        if found and not _negated(event.text, found, words.match):
            return Signal("emergency", f"said {found!r}", kind.name, kind.safety)
    return None


def _negated(text: str, phrase: str, match: str) -> bool:
    # "it's not an emergency" must not ring the on-call plumber at 3 a.m.
    if match != "words":
        return False
    before = normalize(text).split(normalize(phrase))[0].split()[-3:]
    return any(word in ("not", "isn't", "no", "never", "wasn't") for word in before) and \
        phrase not in ("no heat", "no heating")


def default_detectors() -> Sequence[Detector]:
    """Emergencies first, then distress (imported late: distress builds on this module)."""
    from ivr.guard.distress import distress

    return (emergency_words, distress)


def strongest(signals: list[Signal]) -> Signal | None:
    """Emergencies outrank distress; otherwise the first found."""
    for kind in ("emergency", "distress"):
        for signal in signals:
            if signal.kind == kind:
                return signal
    return None
