"""The call engine: `state + event -> state + actions`, pure.

No I/O, no clock, no FastAPI/Twilio/Vosk: time arrives in events, audio and phones live in
adapters. The promises every call keeps (disclosure first, a person one word or key away,
honest answers about being automated, two misses -> a person, after-hours routing) are enforced
here, whatever the flow says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Literal

from ivr.flow import events as ev
from ivr.flow.hours import describe_hours, is_open
from ivr.flow.model import Answer, Flow, Hangup, Hours, Menu, Say, Transfer, Voicemail
from ivr.flow.prompts import builtin
from ivr.flow.state import CallState, Mode
from ivr.flow.summary import summarize, summary_language
from ivr.guard.cards import mask_cards
from ivr.guard.distress import distress_phrases, threshold
from ivr.guard.emergencies import emergency_phrases
from ivr.guard.signals import Detector, Signal, default_detectors, strongest
from ivr.guard.words import NO_KEY, PERSON_KEY, REPEAT_KEY, YES_KEY, find_any, words_for

MISSES_BEFORE_PERSON = 2
ANNOUNCED = ("not understood", "distress")  # transfers that say "Connecting you to ..." first
MIN_CONFIDENCE = 0.3  # below this, recognised text is a guess (see VoskRecognizer.finish)


class _Out:
    """Collects one event's actions and state changes; local to a single `handle` call."""

    def __init__(self, state: CallState, language: str) -> None:
        self.state = state
        self.language = language
        self.actions: list[ev.Action] = []

    def update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def say(self, text: str, audio: str | None = None, prompt_id: str | None = None,
            **meta: str) -> ev.PlayPrompt:
        """Play a prompt; `meta` goes on its transcript line (e.g. miss="no_match")."""
        if prompt_id is None:
            prompt_id = f"p{self.state.prompt_count + 1}"
            self.update(prompt_count=self.state.prompt_count + 1)
        action = ev.PlayPrompt(text=text, prompt_id=prompt_id, audio=audio, language=self.language,
                               line=len(self.state.turns))
        self.actions.append(action)
        self.turn("system", action.text, **meta)
        return action

    def emit(self, action: ev.Action) -> None:
        if isinstance(action, ev.PlayPrompt):  # a replayed prompt is a new line of the transcript
            action = replace(action, line=len(self.state.turns))
        self.actions.append(action)
        if isinstance(action, ev.PlayPrompt):
            self.turn("system", action.text)

    def turn(self, speaker: Literal["system", "caller"], text: str, **meta: str) -> None:
        turn = ev.Turn(speaker, text, self.state.step, self.state.now, meta)
        self.update(turns=(*self.state.turns, turn))


class Engine:
    """Runs calls through one flow. Holds no per-call state; `CallState` does."""

    def __init__(self, flow: Flow, detectors: Sequence[Detector] | None = None) -> None:
        self.flow = flow
        self.detectors = tuple(default_detectors() if detectors is None else detectors)
        self.words = words_for(flow.language)
        self._handlers: dict[type, Callable[[_Out, Any], None]] = {
            ev.CallStarted: self._on_started, ev.Heard: self._on_heard,
            ev.Pressed: self._on_pressed, ev.Silence: self._on_silence,
            ev.PromptFinished: self._on_prompt_finished, ev.CallerLoud: self._on_loud,
            ev.TransferFailed: self._on_transfer_failed, ev.CallEnded: self._on_ended,
            ev.MessageRecorded: self._on_message,
        }

    def start(self, event: ev.CallStarted) -> tuple[CallState, list[ev.Action]]:
        """Begin a call: the disclosure is always the first action."""
        return self.handle(CallState(), event)

    def handle(self, state: CallState, event: ev.Event) -> tuple[CallState, list[ev.Action]]:
        """Apply one event to a call; return the new state and what the gateway must do."""
        at = getattr(event, "at", None)
        out = _Out(replace(state, now=at) if at is not None else state, self.flow.language)
        if isinstance(event, ev.Heard):  # a card number said is never kept, wherever words go
            event = replace(event, text=mask_cards(event.text))
        caller_input = isinstance(event, (ev.Heard, ev.Pressed, ev.Silence, ev.CallerLoud))
        if not (caller_input and state.ended):
            self._handlers[type(event)](out, event)
        return out.state, out.actions

    def fault(self, state: CallState, detail: str) -> tuple[CallState, list[ev.Action]]:
        """Something broke inside the gateway: the caller goes to a person, never to silence."""
        out = _Out(state, self.flow.language)
        if not state.ended:
            out.say(builtin(self.flow.language, "fault"))
            self._transfer(out, "fault", detail, announce=False)
        return out.state, out.actions

    # ---- event handlers ----------------------------------------------------------------

    def _on_started(self, out: _Out, event: ev.CallStarted) -> None:
        out.update(call_id=event.call_id, caller=event.caller, started_at=event.at, now=event.at)
        disclosure = self.flow.disclosure
        out.say(disclosure.text, disclosure.audio, prompt_id="disclosure")
        self._enter(out, self.flow.start)

    def _on_heard(self, out: _Out, event: ev.Heard) -> None:
        text = event.text.strip()
        if not event.final:
            self._on_partial(out, text)
            return
        disclosing = out.state.disclosing
        if not text:
            if not disclosing:
                self._miss(out, "no_match")
            return
        out.turn("caller", text, confidence=f"{event.confidence:.2f}")
        words = self.words
        if event.confidence < MIN_CONFIDENCE:
            # Not trusted for a choice, an emergency or distress; a person, if asked, is safe.
            if find_any(text, words.person, words.match):
                self._transfer(out, "requested", f"said {text!r}")
            elif not disclosing:
                self._miss(out, "no_match")
            return
        if self._signalled(out, event):
            return
        if disclosing:
            # Heard over the disclosure: a person is honoured at once; a choice waits for the menu.
            if find_any(text, words.person, words.match):
                self._transfer(out, "requested", f"said {text!r}")
            return
        if find_any(text, self.words.robot, words.match):
            self._answer_robot_question(out)
        elif find_any(text, words.person, words.match):
            self._transfer(out, "requested", f"said {text!r}")
        elif out.state.mode == "offer_person" and find_any(text, words.yes, words.match):
            self._transfer(out, "requested", "said yes to a person")
        elif find_any(text, words.repeat, words.match):
            self._repeat(out)
        else:
            self._choose(out, text=text)

    def _on_partial(self, out: _Out, text: str) -> None:
        # Only a short, plain request for a person is unambiguous before the caller finishes.
        words = self.words
        short = len(text.split()) <= 3
        negated = find_any(text, ("not", "no", "don't", "dont", "never", "안", "말고", "不要"),
                           words.match)
        if short and not negated and not find_any(text, words.robot, words.match) \
                and find_any(text, words.person, words.match):
            out.turn("caller", text, partial="yes")
            self._transfer(out, "requested", f"said {text!r}")

    def _on_pressed(self, out: _Out, event: ev.Pressed) -> None:
        if out.state.disclosing and event.digit != PERSON_KEY:
            return  # other keys wait for the disclosure to end; the adapter presses them then
        out.turn("caller", f"[key {event.digit}]")
        if event.digit == PERSON_KEY:
            self._transfer(out, "requested", "pressed 0")
        elif event.digit == REPEAT_KEY:
            self._repeat(out)
        else:
            self._choose(out, key=event.digit)

    def _on_silence(self, out: _Out, event: ev.Silence) -> None:
        if out.state.disclosing:
            return  # the caller is listening to the disclosure, not failing to answer
        out.turn("caller", "[silence]")
        self._miss(out, "no_input")

    def _on_loud(self, out: _Out, event: ev.CallerLoud) -> None:
        self._signalled(out, event)

    def _on_prompt_finished(self, out: _Out, event: ev.PromptFinished) -> None:
        if event.prompt_id == "disclosure" and out.state.disclosure_done_at is None:
            out.update(disclosure_done_at=out.state.now)

    def _on_transfer_failed(self, out: _Out, event: ev.TransferFailed) -> None:
        if out.state.mode != "transferring":
            return
        out.turn("system", f"[transfer {event.status}]")
        out.say(builtin(self.flow.language, "nobody"))
        self._voicemail(out, None, 120, reason=f"transfer {event.status}")

    def _on_message(self, out: _Out, event: ev.MessageRecorded) -> None:
        if out.state.mode != "voicemail":
            return
        out.turn("caller", f"[message] {event.transcript}".strip())
        out.say(builtin(self.flow.language, "recorded", promise=self.flow.callback_promise))
        out.emit(ev.EndCall())

    def _on_ended(self, out: _Out, event: ev.CallEnded) -> None:
        if out.state.mode not in ("transferring", "voicemail", "ended"):
            out.update(outcome="answered" if out.state.answered else "hung up")
        out.update(mode="ended")

    # ---- the promises ------------------------------------------------------------------

    def _signalled(self, out: _Out, event: ev.Event) -> bool:
        found = [s for d in self.detectors if (s := d(self.flow, out.state, event)) is not None]
        signal: Signal | None = strongest(found)
        if signal is None:
            return False
        out.update(signals=(*out.state.signals, ev.SignalNoted(signal.kind, signal.name or signal.reason)))
        if signal.kind == "emergency":
            if signal.safety:
                out.say(signal.safety)
            detail = f"{signal.name}, {signal.reason}" if signal.name else signal.reason
            self._transfer(out, "emergency", detail)
            return True
        weight = sum(s.weight for s in found if s.kind == "distress")
        concern = out.state.concern + weight
        out.update(concern=concern)
        if concern < threshold(self.flow):
            return False  # noted; the call goes on until the evidence is clear
        self._transfer(out, "distress", "; ".join(dict.fromkeys(out.state.signal_reasons("distress"))))
        return True

    def _answer_robot_question(self, out: _Out) -> None:
        out.say(builtin(self.flow.language, "robot"))
        listen = next((a for a in out.state.replay if isinstance(a, ev.Listen)), None)
        if listen is not None:
            out.emit(replace(listen, grammar=(*listen.grammar, *self.words.yes)))
        out.update(mode="offer_person")

    def _repeat(self, out: _Out) -> None:
        for action in out.state.replay:
            out.emit(action)

    def _miss(self, out: _Out, kind: str) -> None:
        misses = out.state.misses + 1
        out.update(misses=misses)
        if misses >= MISSES_BEFORE_PERSON:
            self._transfer(out, "not understood", f"{misses} misses in a row")
            return
        out.say(builtin(self.flow.language, kind), miss=kind)  # where callers struggle, by step
        self._repeat(out)

    # ---- steps -------------------------------------------------------------------------

    def _choose(self, out: _Out, text: str | None = None, key: str | None = None) -> None:
        state = out.state
        if state.mode == "anything_else":
            yes = key == YES_KEY or (text is not None and find_any(text, self.words.yes, self.words.match))
            no = key == NO_KEY or (text is not None and find_any(text, self.words.no, self.words.match))
            if yes and not no:
                step = self.flow.steps[state.step or self.flow.start]
                out.update(misses=0)
                self._enter(out, getattr(step, "more", None) or self.flow.start)
            elif no:
                out.update(misses=0)
                self._goodbye(out, None)
            else:
                self._miss(out, "no_match")
            return
        menu = self.flow.steps.get(state.step or "")
        if isinstance(menu, Menu):
            for choice in menu.choices:
                said = text is not None and find_any(text, choice.phrases, self.words.match)
                if said or (key is not None and key == choice.key):
                    out.update(misses=0, answered=(*state.answered, choice.intent))
                    self._enter(out, choice.next)
                    return
        self._miss(out, "no_match")

    def _enter(self, out: _Out, step_id: str) -> None:
        """Run steps from `step_id` until one that listens or ends the call."""
        for _ in range(len(self.flow.steps) + 1):
            out.update(step=step_id, mode="idle")
            step = self.flow.steps[step_id]
            if isinstance(step, Say):
                out.say(step.text, step.audio)
                step_id = step.next
            elif isinstance(step, Hours):
                step_id = step.open if is_open(self.flow, self._now(out)) else step.closed
            elif isinstance(step, Menu):
                self._listen(out, step_id, [out.say(step.text, step.audio)], step.choices, step.timeout)
                return
            elif isinstance(step, Answer):
                said = [out.say(step.text, step.audio),
                        out.say(builtin(self.flow.language, "anything_else"))]
                self._listen(out, step_id, said, [], 6, mode="anything_else")
                return
            elif isinstance(step, Transfer):
                reason: ev.TransferReason = "emergency" if step.emergency else "flow"
                self._transfer(out, reason, step.reason, group=step.to, text=step.text)
                return
            elif isinstance(step, Voicemail):
                self._voicemail(out, step.text, step.max_seconds, reason="flow")
                return
            elif isinstance(step, Hangup):
                self._goodbye(out, step.text)
                return
        self._transfer(out, "fault", f"steps loop without listening from {step_id!r}")

    def _listen(self, out: _Out, step_id: str, said: list[ev.PlayPrompt], choices: list[Any],
                timeout: int, mode: Mode = "listening") -> None:
        words = self.words
        if mode == "anything_else":
            phrases, keys = [*words.yes, *words.no], [YES_KEY, NO_KEY]
        else:
            phrases = [p for c in choices for p in c.phrases]
            keys = [c.key for c in choices if c.key]
        lang = self.flow.language
        core = words.grammar if words.grammar is not None else (
            *words.person, *words.robot, *words.repeat, *emergency_phrases(lang), *distress_phrases(lang))
        grammar = (*phrases, *core, *(p for e in self.flow.emergencies for p in e.phrases))
        listen = ev.Listen(tuple(dict.fromkeys(grammar)), (*keys, PERSON_KEY, REPEAT_KEY),
                           float(timeout), step_id)
        out.emit(listen)
        out.update(mode=mode, replay=(*said, listen))

    def _transfer(self, out: _Out, reason: ev.TransferReason, detail: str,
                  group: str | None = None, text: str | None = None, announce: bool = True) -> None:
        flow = self.flow
        if reason != "emergency" and not is_open(flow, self._now(out)):
            out.update(transfer_reason=reason)
            out.say(builtin(flow.language, "closed", hours=describe_hours(flow)))
            self._voicemail(out, None, 120, reason=reason)
            return
        name = group or (flow.routing.emergency if reason == "emergency" else flow.routing.person)
        people = flow.people[name]
        # A caller who asked is put through at once (the ring is the answer); one who was not
        # understood, or sounded upset, is told what happens next.
        if text:
            out.say(text)
        elif announce and reason in ANNOUNCED:
            out.say(builtin(flow.language, "connecting", label=people.label))
        staff = flow.staff_language_of(name)
        staff = staff if summary_language(staff) else "en-US"  # lint warns about this
        summary = summarize(out.state, reason, detail, staff)
        out.emit(ev.HandOver(people_to_ring(flow, name), reason, summary, detail, staff))
        out.turn("system", f"[transfer to {people.label}: {reason}]", handover=reason)
        out.update(mode="transferring", outcome="transferred", transfer_reason=reason,
                   transferred_to=name)

    def _voicemail(self, out: _Out, text: str | None, max_seconds: int, reason: str) -> None:
        promise = self.flow.callback_promise
        out.say(f"{text} {promise}" if text else builtin(self.flow.language, "voicemail", promise=promise))
        out.emit(ev.TakeMessage(max_seconds, promise, reason))
        out.update(mode="voicemail", outcome="voicemail")

    def _goodbye(self, out: _Out, text: str | None) -> None:
        out.say(text or builtin(self.flow.language, "goodbye"))
        out.emit(ev.EndCall())
        out.update(mode="ended", outcome="answered" if out.state.answered else "goodbye")

    def _now(self, out: _Out) -> dt.datetime:
        now = out.state.now or out.state.started_at
        if now is None:  # only reachable if an adapter skips CallStarted
            raise ValueError("the call has no time: send CallStarted(at=...) first")
        return now


def people_to_ring(flow: Flow, group: str) -> ev.Person:
    """One group of the flow's `people`, as the action that rings them."""
    people = flow.people[group]
    return ev.Person(group, people.label, tuple(people.numbers), people.ring, people.timeout)
