"""A call in the terminal: the caller types, the gateway's side is printed. Drives the same engine.

Caller lines: words are speech; `#5` presses 5; an empty line or `(silence)` is silence;
`/loud 15` is an utterance 15 dB over the caller's start; `/busy`, `/no-answer` answer a
transfer; `/hangup` ends the call. In scripts, lines starting with `//` are comments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import TextIO
from zoneinfo import ZoneInfo

from ivr.flow import events as ev
from ivr.flow.engine import Engine
from ivr.flow.model import Flow
from ivr.flow.state import CallState


def parse_line(line: str) -> ev.Event | None:
    """One caller line as an engine event (None for comments)."""
    line = line.strip()
    if line.startswith("//"):
        return None
    if line in ("", "(silence)"):
        return ev.Silence()
    if line.startswith("#") and len(line) == 2:
        return ev.Pressed(line[1])
    if line.startswith("/loud"):
        return ev.CallerLoud(float(line.split()[1]))
    if line in ("/busy", "/no-answer", "/declined", "/failed"):
        return ev.TransferFailed(line[1:])
    if line == "/hangup":
        return ev.CallEnded()
    return ev.Heard(line)


class TerminalCall:
    """Runs one call, printing what the caller hears and what the gateway does."""

    def __init__(self, flow: Flow, out: TextIO, at: dt.datetime, caller: str = "terminal") -> None:
        self.engine = Engine(flow)
        self.out = out
        self.at = at
        self.caller = caller
        self.state = CallState()

    def run(self, lines: Iterator[str], prompt: Callable[[], None] | None = None) -> CallState:
        """Play the call until it ends or the caller's lines run out; print the transcript."""
        self._apply(ev.CallStarted(at=self.at, caller=self.caller, call_id="terminal"))
        while self.state.mode != "ended":
            if prompt:
                prompt()
            line = next(lines, None)
            if line is None:
                break
            event = parse_line(line)
            if event is None:
                continue
            if not prompt:
                self.out.write(f"caller> {line.strip()}\n")
            if self.state.mode == "voicemail" and isinstance(event, ev.Heard):
                event = ev.MessageRecorded(event.text)
            self._apply(event)
        if self.state.mode != "ended":
            self._apply(ev.CallEnded())
        self._print_transcript()
        return self.state

    def _apply(self, event: ev.Event) -> None:
        self.state, actions = self.engine.handle(self.state, event)
        for action in actions:
            self._show(action)
        for action in actions:  # the terminal "plays" prompts at once
            if isinstance(action, ev.PlayPrompt):
                self.state, _ = self.engine.handle(self.state, ev.PromptFinished(action.prompt_id))
            if isinstance(action, ev.EndCall):
                self.state, _ = self.engine.handle(self.state, ev.CallEnded())

    def _show(self, action: ev.Action) -> None:
        write = self.out.write
        if isinstance(action, ev.PlayPrompt):
            write(f"  gateway: {action.text}\n")
        elif isinstance(action, ev.Listen):
            write(f"  (listening at {action.step}; keys {' '.join(action.keys)})\n")
        elif isinstance(action, ev.HandOver):
            people = action.people
            write(f"  >> TRANSFER to {people.label} ({', '.join(people.numbers)}), "
                  f"reason: {action.reason}\n  >> whisper: {action.summary}\n")
        elif isinstance(action, ev.TakeMessage):
            write(f"  >> VOICEMAIL (up to {action.max_seconds} s); type the message\n")
        elif isinstance(action, ev.EndCall):
            write("  >> HANGUP\n")

    def _print_transcript(self) -> None:
        state = self.state
        write = self.out.write
        write(f"\n--- transcript ({state.outcome}"
              + (f", reason: {state.transfer_reason}" if state.transfer_reason else "") + ") ---\n")
        for turn in state.turns:
            write(f"{turn.speaker:>7}: {turn.text}\n")


def call_time(flow: Flow, at: str | None) -> dt.datetime:
    """A tried call's time: `at` in ISO 8601 (naive means the business's clock), or now. The
    terminal's `--at` and the console's try-it both read it here."""
    if not at:
        return dt.datetime.now(dt.UTC)
    parsed = dt.datetime.fromisoformat(at)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(flow.timezone))
