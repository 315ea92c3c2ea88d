"""The one sentence the person answering hears, so the caller never has to repeat themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.flow.engine import CallState

_WHY = {
    "requested": "asked for a person",
    "not understood": "was not understood",
    "distress": "sounded distressed",
    "emergency": "reported an emergency",
    "flow": "needs",
    "fault": "hit a fault in the automated system",
}


def summarize(state: CallState, reason: str, detail: str) -> str:
    """E.g. 'Caller reported an emergency (gas, said "smell gas") at main menu; last said "..."'."""
    why = _WHY.get(reason, reason)
    if reason == "flow":
        sentence = f"Caller {why} {detail}"
    elif reason in ("emergency", "distress", "not understood"):
        sentence = f"Caller {why} ({detail})"
    else:
        sentence = f"Caller {why}"
    if state.step:
        sentence += f" at {state.step.replace('_', ' ')}"
    last = state.last_caller_text()
    if last and repr(last) not in detail:  # skip when the detail already quotes it
        sentence += f'; last said "{_clip(last)}"'
    if state.answered:
        sentence += f"; chose {', '.join(dict.fromkeys(state.answered))}"
    return sentence + "."


def _clip(text: str, words: int = 12) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
