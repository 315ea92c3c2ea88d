"""Calls in progress: each one's flow, engine state, and the decision the stream left behind.

`LiveCall.apply` is the only way events reach the engine from the gateway, so every turn is
recorded as it happens: a caller hanging up mid-step loses nothing.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from typing import Any

from ivr.flow import events as ev
from ivr.flow.engine import CallState, Engine
from ivr.flow.model import Flow
from ivr.store.calls import AsyncCallStore, utcnow

Decision = ev.Transfer | ev.Voicemail | ev.Hangup


@dataclass
class LiveCall:
    """One call on this instance."""

    sid: str
    flow_name: str
    flow: Flow
    engine: Engine
    store: AsyncCallStore
    state: CallState = field(default_factory=CallState)
    decision: Decision | None = None
    pending: list[ev.Action] = field(default_factory=list)  # actions for the stream to run
    first_key: str | None = None  # pressed during the disclosure; acted on when it ends
    disclosure: ev.Say | None = None  # as the engine said it at CallStarted (for a TwiML fallback)
    stream_started: bool = False
    disclosure_heard: bool = False  # its mark came back: the caller heard it to the end
    accepted_attempts: set[int] = field(default_factory=set)  # dial attempts whose whisper got a 1
    started: float = field(default_factory=time.monotonic)
    _saved_turns: int = 0
    _saved: dict[str, Any] = field(default_factory=dict)

    def apply(self, event: ev.Event) -> list[ev.Action]:
        """Run one event through the engine and record what changed."""
        self.state, actions = self.engine.handle(self.state, event)
        if isinstance(event, ev.CallStarted):
            self.disclosure = next((a for a in actions if isinstance(a, ev.Say)
                                    and a.prompt_id == "disclosure"), None)
        self._record(actions)
        return actions

    def fault(self, detail: str) -> list[ev.Action]:
        """The gateway broke: hand the caller over (the engine picks person or voicemail)."""
        self.state, actions = self.engine.fault(self.state, detail)
        self.store.submit("add_events", self.sid, [_row("fault", None, detail)])
        self._record(actions)
        return actions

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def note(self, kind: str, text: str, **data: Any) -> None:
        """Add a line to the call's timeline (dial results, stream faults...)."""
        self.store.submit("add_events", self.sid, [_row(kind, None, text, **data)])

    def update(self, **fields: Any) -> None:
        self.store.submit("update_call", self.sid, **fields)

    def _record(self, actions: list[ev.Action]) -> None:
        state = self.state
        turns = state.turns[self._saved_turns:]
        self._saved_turns = len(state.turns)
        rows = [_row("turn", t.speaker, mask_cards(t.text), at=t.at, step=t.step or "", **t.meta)
                for t in turns]
        rows += [_row("transfer", None, a.summary, group=a.people.group, reason=a.reason)
                 for a in actions if isinstance(a, ev.Transfer)]
        self.store.submit("add_events", self.sid, rows)
        fields = {"outcome": state.outcome, "transfer_reason": state.transfer_reason,
                  "transferred_to": state.transferred_to, "signals": list(state.signals)}
        summary = next((a.summary for a in actions if isinstance(a, ev.Transfer)), None)
        if summary:
            fields["summary"] = summary
        changed = {k: v for k, v in fields.items() if self._saved.get(k) != v}
        if changed:
            self._saved.update(changed)
            self.store.submit("update_call", self.sid, **changed)


CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")


def mask_cards(text: str) -> str:
    """Card-like numbers (13-19 digits) keep only their last four digits in stored transcripts."""
    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return "**** " + digits[-4:]

    return CARD.sub(mask, text)


def _row(kind: str, speaker: str | None, text: str, at: dt.datetime | None = None,
         **data: Any) -> dict[str, Any]:
    return {"at": at or utcnow(), "kind": kind, "speaker": speaker, "text": text, "data": data}


class CallRegistry:
    """Calls on this instance, by Twilio CallSid."""

    def __init__(self) -> None:
        self._calls: dict[str, LiveCall] = {}

    def add(self, call: LiveCall) -> LiveCall:
        self._calls[call.sid] = call
        return call

    def get(self, sid: str) -> LiveCall | None:
        return self._calls.get(sid)

    def drop(self, sid: str) -> None:
        self._calls.pop(sid, None)

    def __len__(self) -> int:
        return len(self._calls)
