"""Try a draft in the page: the caller's inputs so far are replayed through the pure engine.

The engine is pure, so replaying from the start on every turn is exact and needs no state on
the server.
"""

from __future__ import annotations

from ivr.flow import events as ev
from ivr.flow.engine import Engine
from ivr.flow.model import Flow
from ivr.flow.state import CallState
from ivr.terminal import call_time, parse_line


def try_call(flow: Flow, inputs: list[str], at: str | None = None) -> list[dict[str, str]]:
    """What the caller would hear and what would happen, line by line."""
    when = call_time(flow, at)
    engine = Engine(flow)
    state, actions = engine.start(ev.CallStarted(at=when, caller="console", call_id="try"))
    lines = _show(actions)
    state, _ = engine.handle(state, ev.PromptFinished("disclosure"))  # the page shows it at once
    for text in inputs:
        event = parse_line(text)
        if event is None or state.mode == "ended":
            continue
        if state.mode == "voicemail" and isinstance(event, ev.Heard):
            event = ev.MessageRecorded(event.text)
        lines.append({"who": "caller", "text": text or "(silence)"})
        state, actions = engine.handle(state, event)
        lines += _show(actions)
    if _over(state):
        lines.append({"who": "end", "text": f"call ends: {state.outcome}"})
    return lines


def _over(state: CallState) -> bool:
    return state.mode in ("transferring", "voicemail", "ended")


def _show(actions: list[ev.Action]) -> list[dict[str, str]]:
    out = []
    for action in actions:
        if isinstance(action, ev.PlayPrompt):
            out.append({"who": "gateway", "text": action.text})
        elif isinstance(action, ev.HandOver):
            out.append({"who": "action", "text": f"transfer to {action.people.label} "
                        f"({action.reason}); whisper: {action.summary}"})
        elif isinstance(action, ev.TakeMessage):
            out.append({"who": "action", "text": "records a message (type it as the next line)"})
        elif isinstance(action, ev.EndCall):
            out.append({"who": "action", "text": "hangs up"})
    return out
