"""Drive the engine like a caller would, keeping every action for assertions."""

from __future__ import annotations

import datetime as dt

from ivr.flow import events as ev
from ivr.flow.engine import Engine
from ivr.flow.model import Flow
from ivr.flow.state import CallState


class Caller:
    """One scripted call through the pure engine."""

    def __init__(self, flow: Flow, at: dt.datetime, disclosure_played: bool = True) -> None:
        self.engine = Engine(flow)
        self.state, self.actions = self.engine.start(ev.CallStarted(at=at, caller="+15550001111"))
        self.first_actions = list(self.actions)
        if disclosure_played:  # as an adapter reports it; the caller's turn comes next
            self.state, _ = self.engine.handle(self.state, ev.PromptFinished("disclosure"))

    def send(self, event: ev.Event) -> list[ev.Action]:
        self.state, self.actions = self.engine.handle(self.state, event)
        return self.actions

    def say(self, text: str) -> list[ev.Action]:
        return self.send(ev.Heard(text))

    def press(self, digit: str) -> list[ev.Action]:
        return self.send(ev.Pressed(digit))

    def silence(self) -> list[ev.Action]:
        return self.send(ev.Silence())

    def transfer(self) -> ev.HandOver | None:
        return next((a for a in self.actions if isinstance(a, ev.HandOver)), None)

    def voicemail(self) -> ev.TakeMessage | None:
        return next((a for a in self.actions if isinstance(a, ev.TakeMessage)), None)

    def said(self) -> list[str]:
        return [a.text for a in self.actions if isinstance(a, ev.PlayPrompt)]

    def listening(self) -> ev.Listen | None:
        return next((a for a in self.actions if isinstance(a, ev.Listen)), None)


def listening_paths(flow: Flow, at: dt.datetime) -> dict[tuple[str, str], list[str]]:
    """Every (step, mode) a caller can reach by keys alone, with the keys that reach it."""
    found: dict[tuple[str, str], list[str]] = {}
    todo: list[list[str]] = [[]]
    while todo:
        keys = todo.pop(0)
        caller = Caller(flow, at)
        for key in keys:
            caller.press(key)
        state: CallState = caller.state
        if state.ended or state.step is None:
            continue
        spot = (state.step, state.mode)
        if spot in found:
            continue
        found[spot] = keys
        listen = caller.listening()
        assert listen is not None, f"{spot} listens without a Listen action"
        todo.extend([*keys, k] for k in listen.keys if k not in ("0", "*"))
    return found
