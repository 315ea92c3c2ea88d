"""Calls in progress: each one's flow, engine state, and the decision the stream left behind.

`LiveCall.apply` is the only way events reach the engine from the gateway, so every turn is
recorded as it happens: a caller hanging up mid-step loses nothing. `snapshot`/`restore` carry
a call between instances through the shared store (see `Gateway.load_call`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ivr.flow import events as ev
from ivr.flow.engine import Engine
from ivr.flow.model import Flow
from ivr.flow.state import CallState
from ivr.guard.cards import mask_cards
from ivr.store.calls import AsyncCallStore, utcnow
from ivr.telephony import snapshot

log = logging.getLogger(__name__)
Decision = ev.HandOver | ev.TakeMessage | ev.EndCall


class _LiveRow(NamedTuple):
    """A call's shared state as it is to be written (see LiveCallStore.save)."""

    sid: str
    flow: str
    version: str
    data: dict[str, Any]
    held_by: str | None
    guard: str | None
    keep_holder: bool


@dataclass
class LiveCall:
    """One call, as this instance knows it (its copy of the shared store's row)."""

    sid: str
    flow_name: str
    flow: Flow
    engine: Engine
    store: AsyncCallStore
    flow_version: str = ""
    draft_yaml: str | None = None  # a console call on an unpublished draft carries its flow
    state: CallState = field(default_factory=CallState)
    decision: Decision | None = None
    pending: list[ev.Action] = field(default_factory=list)  # actions for the stream to run
    first_key: str | None = None  # pressed during the disclosure; acted on when it ends
    disclosure: ev.PlayPrompt | None = None  # as the engine said it at CallStarted (for a TwiML fallback)
    stream_started: bool = False
    disclosure_heard: bool = False  # its mark came back: the caller heard it to the end
    accepted_attempts: set[int] = field(default_factory=set)  # dial attempts whose whisper got a 1
    held_by: str | None = None  # the instance whose media stream runs the call, while it does
    guard: str | None = None  # set by that stream's session: its writes land only while it holds the call
    started: float = field(default_factory=time.time)  # wall clock: instances share it
    _saved_turns: int = 0
    _saved: dict[str, Any] = field(default_factory=dict)
    holder_as_read: str | None = None  # held_by as read from the store, or as last queued to it
    _live_next: _LiveRow | None = None  # state to share, not yet written
    _live_queued: bool = False  # a write of _live_next is queued
    _live_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def apply(self, event: ev.Event) -> list[ev.Action]:
        """Run one event through the engine and record what changed."""
        self.state, actions = self.engine.handle(self.state, event)
        if isinstance(event, ev.CallStarted):
            self.disclosure = next((a for a in actions if isinstance(a, ev.PlayPrompt)
                                    and a.prompt_id == "disclosure"), None)
        self._record(actions)
        return actions

    def fault(self, detail: str) -> list[ev.Action]:
        """The gateway broke: hand the caller over (the engine picks person or voicemail)."""
        self.state, actions = self.engine.fault(self.state, detail)
        self.store.later(self.store.calls.add_events, self.sid, [_row("fault", None, detail)])
        self._record(actions)
        return actions

    def elapsed(self) -> float:
        return time.time() - self.started

    def snapshot(self) -> dict[str, Any]:
        """Everything another instance needs to carry on (values are immutable or copied, so
        the snapshot can be encoded off the event loop)."""
        return {"state": self.state, "decision": self.decision, "pending": list(self.pending),
                "first_key": self.first_key, "disclosure": self.disclosure,
                "stream_started": self.stream_started, "disclosure_heard": self.disclosure_heard,
                "accepted_attempts": sorted(self.accepted_attempts), "started": self.started,
                "saved_turns": self._saved_turns, "saved": dict(self._saved),
                "draft_yaml": self.draft_yaml}

    def save_later(self) -> None:
        """Share the current state (in order with the call's other shared state). States
        queued faster than the writer writes them are one write: the newest."""
        with self._live_lock:
            self._next_live_row()
            if self._live_queued:
                return
            self._live_queued = True
        self.store.share_later(self._write_newest)

    async def save(self) -> None:
        """Share the current state and wait until any instance can read it: before Twilio is
        told anything that makes it call another webhook of this call."""
        with self._live_lock:
            self._next_live_row()
        await self.store.share(self._write_newest)

    def _write_newest(self) -> None:
        """On the writer thread: the newest state not yet written, if any."""
        with self._live_lock:
            row, self._live_next, self._live_queued = self._live_next, None, False
        if row is not None and not self.store.live.save(
                row.sid, row.flow, row.version, snapshot.dumps(row.data), row.held_by, row.guard,
                row.keep_holder):
            log.warning("call %s: taken over by another instance; this one's late state is dropped",
                        row.sid)

    def _next_live_row(self) -> None:
        """The row to write next (under `_live_lock`). Who holds the call is written only by
        whoever changes it (a stream claiming or releasing it, an instance taking over from a
        dead one): a webhook that read the call while a stream held it must not write that
        stale holder back after the release. A newer state replacing one not yet written keeps
        its change of holder, and the conditions that change was to be written under."""
        keep_holder, self.holder_as_read = self.held_by == self.holder_as_read, self.held_by
        guard, unwritten = self.guard, self._live_next
        if unwritten is not None and not unwritten.keep_holder:  # a change of holder not yet written
            guard, keep_holder = unwritten.guard, False
        self._live_next = _LiveRow(self.sid, self.flow_name, self.flow_version, self.snapshot(),
                                   self.held_by, guard, keep_holder)

    def restore(self, data: dict[str, Any]) -> LiveCall:
        """Take over the state a snapshot recorded."""
        self.state = data["state"]
        self.decision = data["decision"]
        self.pending = list(data["pending"])
        self.first_key = data["first_key"]
        self.disclosure = data["disclosure"]
        self.stream_started = data["stream_started"]
        self.disclosure_heard = data["disclosure_heard"]
        self.accepted_attempts = set(data["accepted_attempts"])
        self.started = data["started"]
        self._saved_turns = data["saved_turns"]
        self._saved = dict(data["saved"])
        self.draft_yaml = data.get("draft_yaml")
        return self

    def note(self, kind: str, text: str, **data: Any) -> None:
        """Add a line to the call's timeline (dial results, stream faults...)."""
        self.store.later(self.store.calls.add_events, self.sid, [_row(kind, None, text, **data)])

    def prompt_heard(self, say: ev.PlayPrompt, heard: str, played_s: float, of_s: float,
                     cut_by: str | None = None) -> None:
        """Record what the line did with a prompt: heard to the end (`full`), `cut` after
        `played_s`, `never` played, or `unconfirmed` (taken as played when its mark was lost)."""
        if say.line is None:
            return
        fields: dict[str, Any] = {"heard": heard, "played_s": round(played_s, 2), "of_s": round(of_s, 2),
                                  "prompt": say.prompt_id}
        if cut_by:
            fields["cut_by"] = cut_by
        self.store.later(self.store.calls.mark_prompt, self.sid, say.line, **fields)

    def update(self, **fields: Any) -> None:
        self.store.later(self.store.calls.update_call, self.sid, **fields)

    def _record(self, actions: list[ev.Action]) -> None:
        state = self.state
        first, turns = self._saved_turns, state.turns[self._saved_turns:]
        self._saved_turns = len(state.turns)
        rows = [_row("turn", t.speaker, mask_cards(t.text), at=t.at, step=t.step or "", line=first + i,
                     **t.meta) for i, t in enumerate(turns)]
        rows += [_row("transfer", None, a.summary, group=a.people.group, reason=a.reason)
                 for a in actions if isinstance(a, ev.HandOver)]
        fields = {"outcome": state.outcome, "transfer_reason": state.transfer_reason,
                  "transferred_to": state.transferred_to, "signals": [str(s) for s in state.signals]}
        summary = next((a.summary for a in actions if isinstance(a, ev.HandOver)), None)
        if summary:
            fields["summary"] = summary
        changed = {k: v for k, v in fields.items() if self._saved.get(k) != v}
        self._saved.update(changed)
        if rows or changed:  # one transaction for the turn's lines and the call's new figures
            self.store.later(self.store.calls.record, self.sid, rows, changed)
        if rows or changed or actions:
            self.save_later()


def _row(kind: str, speaker: str | None, text: str, at: dt.datetime | None = None,
         **data: Any) -> dict[str, Any]:
    return {"at": at or utcnow(), "kind": kind, "speaker": speaker, "text": text, "data": data,
            "step": data.get("step") or None}


class CallRegistry:
    """Calls whose media stream this instance runs, by Twilio CallSid (the session's copy is
    the call's state while it lasts; every other webhook reads the shared store)."""

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
