"""One call's media session: neutral media events in, engine events through, audio and marks out.

Control messages (keys, marks, stop) are handled at once, under the call's lock. Caller audio
goes through one queue to the call's speech task, so a key press never waits behind speech
recognition. Per 20 ms frame that task decodes and end-points (`ivr.speech.endpointing`); only
speech reaches the recognizer, in 100 ms batches run on the speech threads, outside the lock. Prompts
go out whole (Twilio paces them) followed by a mark; the echoed mark tells the engine the prompt
finished. The disclosure plays first, over the stream, and the caller is heard during it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from ivr.audio.mulaw import SAMPLE_RATE, ulaw_to_pcm
from ivr.flow import events as ev
from ivr.speech.endpointing import Begin, EndPointer, Finish, Settle, Work, run_work
from ivr.speech.pool import Urgency
from ivr.speech.recognizer import Recognizer, SpeechResult
from ivr.speech.vad import LoudnessBaseline
from ivr.store.calls import utcnow
from ivr.telephony import media as m
from ivr.telephony.calls import LiveCall
from ivr.telephony.gateway import Gateway
from ivr.telephony.playback import Playback, SentMark

log = logging.getLogger(__name__)
MIN_NOISE_MS = 250  # shorter bursts with no words are noise, not a miss
FRAME_S = 0.02  # one media frame
MARK_GRACE_S = 2.0  # a mark this late after its audio should have played is taken as played
BEHIND_NOTED_S = 0.1  # a call's audio this far behind counts towards the busy signal


class Outbound(Protocol):
    """What a session can do to the line."""

    async def play(self, ulaw: bytes, mark: str) -> None: ...

    async def clear(self) -> None: ...

    async def close(self) -> None: ...


@dataclass
class _Listening:
    listen: ev.Listen
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Speech:
    recognizer: Recognizer
    pointer: EndPointer
    baseline: LoudnessBaseline = field(default_factory=LoudnessBaseline)
    grammar: tuple[str, ...] = ()  # the grammar the current utterance is recognised with


class CallSession:
    """Runs one media stream. `handle` is called by one pump; the speech task and timers
    re-enter through the lock whenever they touch the call."""

    def __init__(self, gateway: Gateway, outbound: Outbound,
                 accept_call: Callable[[LiveCall], bool] | None = None) -> None:
        self.gateway = gateway
        self.out = outbound
        self.accept_call = accept_call  # which calls this client may drive (the console's own)
        self.call: LiveCall | None = None
        self.speech: _Speech | None = None
        self.line = Playback()  # prompts on the line, and their marks
        self.listening: _Listening | None = None
        self.terminal: ev.HandOver | ev.TakeMessage | ev.EndCall | None = None
        self.after_disclosure: list[ev.Action] | None = None  # the flow's start, held until then
        self.closed = False
        self.lock = asyncio.Lock()
        self._stream_zero: float | None = None  # monotonic time of stream timestamp 0
        # Frames and work for the speech task, each with when it was given (how far behind
        # the call's audio runs), and how many of them are given and not yet done.
        self._audio: asyncio.Queue[tuple[m.Audio | Work, float] | None] = asyncio.Queue()
        self._speech_queued = 0
        self._speech_task: asyncio.Task[None] | None = None
        self._key_at: float | None = None  # loop time the last key arrived (for MediaStats)
        self._turn_from: float | None = None  # loop time of the caller's last voiced frame
        self._handlers: dict[type, Callable[[m.MediaEvent], Awaitable[None]]] = {
            m.StreamStarted: self._on_start, m.Key: self._on_key, m.MarkPlayed: self._on_mark,
            m.StreamStopped: self._on_stop, m.Ignored: self._on_ignored,
        }

    async def handle(self, event: m.MediaEvent) -> None:
        """Process one media event; any failure hands the caller to a person."""
        if isinstance(event, m.Audio):
            # Most frames (silence, the gate closed) need no recognizer and are done here, at
            # once; a frame that calls for recognizer work, and every frame after it until that
            # work is done, goes through the speech task, in order.
            if self._speech_queued:
                self._to_speech_task(event)
                return
            try:
                work = self._frame(event)
            except Exception as exc:
                await self._speech_fault(exc)
                return
            if work is not None:
                self._to_speech_task(work)
            return
        async with self.lock:
            try:
                await self._handlers[type(event)](event)
            except Exception as exc:
                log.exception("call %s: fault in media session", self.call.sid if self.call else "?")
                await self.fail(f"{type(exc).__name__}: {exc}")

    async def fail(self, detail: str, kind: str = "media_session") -> None:
        """End the stream with a fault transfer; the <Connect action> dials a person."""
        if self.call is not None and self.terminal is None:
            self.gateway.metrics.faults.labels(kind).inc()
            self._unplayed("fault")
            actions = self.call.fault(detail)
            self.terminal = next((a for a in actions if isinstance(a, (ev.HandOver, ev.TakeMessage))),
                                 None)
            self.call.decision = self.terminal
        await self._close()

    async def _release(self) -> None:
        """The stream is over: hand the call back to the shared store. Twilio asks the <Connect
        action> at once; this instance answers it from the call in memory until it is dropped
        here, another instance waits for this hand-back (Gateway.load_call)."""
        call = self.call
        if call is not None and self.gateway.registry.get(call.sid) is call:
            call.held_by = None
            try:
                await call.save()
                call.guard = None
            except Exception:  # the <Connect action> still finds a person (see /connected)
                log.exception("call %s: its state could not be shared", call.sid)
            self.gateway.registry.drop(call.sid)

    # ---- media events ------------------------------------------------------------------

    async def _on_start(self, event: m.MediaEvent) -> None:
        assert isinstance(event, m.StreamStarted)
        refused = self._refusal(event)
        if refused:  # nothing of the call is touched: its own stream, if any, goes on
            log.warning("media stream for call %s refused: %s", event.call_sid[:40], refused)
            self.closed = True
            self._audio.put_nowait(None)
            await self.out.close()
            return
        call = await self.gateway.load_call(event.call_sid)
        if call is None:
            raise LookupError(f"stream for unknown call {event.call_sid}")
        why = ("another instance's stream holds it" if call.held_by is not None else
               "the call is already past its stream" if call.state.ended else
               "this client did not start the call" if self.accept_call and not self.accept_call(call)
               else "")
        if why:
            log.warning("media stream for call %s refused: %s", call.sid, why)
            self.closed = True
            self._audio.put_nowait(None)
            await self.out.close()
            return
        self.call = self.gateway.registry.add(call)  # this stream's copy is the call's state now
        call.stream_started = True
        call.held_by = self.gateway.instance
        call.save_later()  # claims the call; from here on, writes land only while we hold it
        call.guard = self.gateway.instance
        recognizer = self.gateway.recognizer(call.flow.language)
        if recognizer is not None:
            settings = self.gateway.settings
            self.speech = _Speech(recognizer, EndPointer(settings.vad_end_ms, settings.vad_quick_end_ms))
        pending, call.pending = call.pending, []
        first = pending[0] if pending else None
        if not (isinstance(first, ev.PlayPrompt) and first.prompt_id == "disclosure"):
            await self._run(pending)
            return
        # The disclosure plays alone, and the caller is heard from its first word: a request
        # for a person (or an emergency) acts over it; the menu follows once it has played.
        self.after_disclosure = pending[1:]
        listen = next((a for a in self.after_disclosure if isinstance(a, ev.Listen)), None)
        self.listening = _Listening(listen) if listen is not None else None
        await self._play(first)

    async def _disclosure_played(self) -> None:
        call, rest = self.call, self.after_disclosure or []
        self.after_disclosure = None
        if call is None or self.terminal is not None:
            return
        call.disclosure_heard = True
        call.update(disclosure_done_s=round(call.elapsed(), 3))
        await self._run(rest)
        if call.first_key:
            key, call.first_key = call.first_key, None
            await self._barge_in("key")
            await self._caller_event(ev.Pressed(key, at=utcnow()))

    def _to_speech_task(self, item: m.Audio | Work) -> None:
        if self._speech_task is None:
            self._speech_task = asyncio.get_running_loop().create_task(self._speech_loop())
        self._speech_queued += 1
        self._audio.put_nowait((item, time.monotonic()))

    async def _speech_loop(self) -> None:
        """The call's speech task: recognizer work, and the caller audio that came while it
        ran, in order; recognition runs off the event loop."""
        while (queued := await self._audio.get()) is not None and not self.closed:
            item, given_at = queued
            # How far this call's audio is behind: past ~0.5 s, turns pass a second, and the
            # instance tells the balancer it is full (the CPU, not only the speech threads).
            behind = time.monotonic() - given_at
            if behind > BEHIND_NOTED_S:
                self.gateway.busy.waited(behind)
            try:
                work = self._frame(item) if isinstance(item, m.Audio) else item
                if work is not None:
                    await self._recognize(work, given_at)
            except Exception as exc:
                await self._speech_fault(exc)
            finally:
                self._speech_queued -= 1

    async def _speech_fault(self, exc: Exception) -> None:
        log.error("call %s: fault in speech", self.call.sid if self.call else "?", exc_info=exc)
        async with self.lock:
            await self.fail(f"{type(exc).__name__}: {exc}")

    def _frame(self, event: m.Audio) -> Work | None:
        """One frame of caller audio through the voice gate: the recognizer work it calls for."""
        if event.timestamp_ms is not None:
            self._measure_lag(event.timestamp_ms)
        speech = self.speech
        if speech is None or self.listening is None or self.terminal is not None:
            return None
        return speech.pointer.push(ulaw_to_pcm(event.ulaw))

    async def _recognize(self, work: Work, given_at: float) -> None:
        speech = self.speech
        if speech is None or self.listening is None or self.terminal is not None:
            return
        if isinstance(work, Begin):
            await self._speech_started(speech)
        urgency = Urgency.TURN_END if isinstance(work, (Settle, Finish)) else Urgency.LIVE
        # The caller's words must not wait in silence for an overloaded instance: past the
        # deadline (counted from when their audio came, so a backlog counts too), a person.
        overdue = asyncio.get_running_loop().call_later(
            given_at + self.gateway.settings.reply_deadline_seconds - time.monotonic(),
            self._recognition_overdue)
        try:
            result = await self.gateway.run_speech(run_work, speech.recognizer, work, speech.grammar,
                                                   urgency=urgency)
        finally:
            overdue.cancel()
        final = speech.pointer.settle(work, result, speech.grammar)
        if final is not None or isinstance(work, Finish):
            await self._speech_ended(speech, final or SpeechResult("", 0.0, True))
        elif (partial := speech.pointer.partial(work, result)) is not None:
            await self._heard(ev.Heard(partial.text, partial.confidence, final=False, at=utcnow()))

    def _recognition_overdue(self) -> None:
        if not self.closed and self.terminal is None:
            asyncio.get_running_loop().create_task(self._on_recognition_overdue())

    async def _on_recognition_overdue(self) -> None:
        deadline = self.gateway.settings.reply_deadline_seconds
        self.gateway.busy.waited(deadline)  # an instance this far behind is full, whatever else
        async with self.lock:
            if self.closed or self.terminal is not None:
                return
            log.warning("call %s: recognition %g s behind the caller; handing over",
                        self.call.sid if self.call else "?", deadline)
            await self.fail(f"recognition was more than {deadline:g} s behind the caller "
                            "(the instance is overloaded)", kind="recognition_overdue")

    def _measure_lag(self, timestamp_ms: int) -> None:
        # The earliest frame sets the stream's clock; later frames are late by how much more
        # time has passed here than in the stream.
        now = time.monotonic()
        zero = now - timestamp_ms / 1000
        if self._stream_zero is None or zero < self._stream_zero:
            self._stream_zero = zero
        lag_ms = (zero - self._stream_zero) * 1000
        self.gateway.media_stats.record(lag_ms)
        if lag_ms > self.gateway.media_stats.LATE_MS:
            self.gateway.metrics.late_frames.inc()

    async def _on_key(self, event: m.MediaEvent) -> None:
        assert isinstance(event, m.Key)
        if self.terminal is not None:
            return
        if self.after_disclosure is not None and event.digit != "0" and self.call is not None:
            self.call.first_key = self.call.first_key or event.digit  # pressed once the disclosure ends
            return
        self._key_at = asyncio.get_running_loop().time()
        await self._barge_in("key")
        await self._caller_event(ev.Pressed(event.digit, at=utcnow()))

    async def _on_mark(self, event: m.MediaEvent) -> None:
        assert isinstance(event, m.MarkPlayed)
        done = self.line.returned(event.name)
        if done is None:  # a cleared prompt's mark, or one never sent
            return
        prompts = [sent.prompt_id for sent in done]
        if self.call is not None:
            for sent in done:
                heard = "unconfirmed" if sent.name in self.line.lost else "full"
                self.call.prompt_heard(sent.say, heard, sent.seconds, sent.seconds)
                self.call.apply(ev.PromptFinished(sent.prompt_id, at=utcnow()))
        if "disclosure" in prompts and self.after_disclosure is not None:
            await self._disclosure_played()
        elif not self.line.pending:
            await self._prompts_done()

    async def _on_stop(self, event: m.MediaEvent) -> None:
        assert isinstance(event, m.StreamStopped)
        self._stop_timer()
        self._unplayed("hang-up" if event.hung_up else "stream lost")
        if self.call is not None and self.terminal is not None and self.call.decision is None:
            # The caller's next step was decided, and its prompt ("connecting you", the voicemail
            # line) was still playing: the <Connect action> carries it out all the same.
            self.call.decision = self.terminal
        self.closed = True
        self._audio.put_nowait(None)
        await self._release()

    async def _on_ignored(self, event: m.MediaEvent) -> None:
        assert isinstance(event, m.Ignored)
        if event.why != "connected":
            log.warning("call %s: ignored media message: %s",
                        self.call.sid if self.call else "?", event.why)

    def _refusal(self, event: m.StreamStarted) -> str:
        """Why a stream may not run this call ("" if it may): it must carry the call's token,
        and no stream may already hold the call here."""
        token = self.gateway.stream_token(event.call_sid)
        if not hmac.compare_digest(event.parameters.get("token", ""), token):
            return "its token does not match the call"
        if self.gateway.registry.get(event.call_sid) is not None:
            return "another stream holds the call"
        return ""

    # ---- speech ------------------------------------------------------------------------

    async def _speech_started(self, speech: _Speech) -> None:
        async with self.lock:
            listening = self.listening
            if listening is None:  # a key, say, ended the step while this waited for the lock
                return
            if self.after_disclosure is None:  # speech over the disclosure does not cut it short
                await self._barge_in("barge-in")
            self._stop_timer()
        speech.grammar = listening.listen.grammar

    async def _speech_ended(self, speech: _Speech, result: SpeechResult) -> None:
        utterance = speech.pointer.vad.utterance()
        # The caller's last voiced frame was the quiet frames since ago: the turn runs from there.
        self._turn_from = asyncio.get_running_loop().time() - speech.pointer.vad.quiet_run * FRAME_S
        async with self.lock:
            if self.terminal is not None or self.closed:  # e.g. a partial result or a key settled it
                return
            if not result.text and utterance.duration_ms < MIN_NOISE_MS:
                await self._prompts_done()  # a click or a cough: keep waiting, re-arm the timer
                return
            if result.text:
                # What a partial result would have said, had the turn not ended first (quick
                # end-pointing finalises before Vosk's partial catches up): a plain request for a
                # person is honoured as asked, before the voice's loudness is judged.
                await self._caller_event(ev.Heard(result.text, 0.0, final=False, at=utcnow()))
                if self.terminal is not None:
                    return
            loud = speech.baseline.judge(utterance)
            await self._caller_event(ev.CallerLoud(loud.db_over, at=utcnow(), against=loud.against,
                                                   clipped=loud.clipped))
            await self._caller_event(ev.Heard(result.text, result.confidence, final=True, at=utcnow()))

    async def _heard(self, event: ev.Event) -> None:
        async with self.lock:
            if not self.closed:
                await self._caller_event(event)

    # ---- engine actions ----------------------------------------------------------------

    async def _caller_event(self, event: ev.Event) -> None:
        if self.call is None or self.terminal is not None:
            return
        actions = self.call.apply(event)
        if actions and self.after_disclosure is not None:
            await self._barge_in(_cut_by(actions))  # a person or an emergency, asked for over it
        await self._run(actions)

    async def _run(self, actions: list[ev.Action]) -> None:
        if any(isinstance(a, (ev.PlayPrompt, ev.Listen)) for a in actions):
            self._stop_timer()
            self.listening = None
        for action in actions:
            if isinstance(action, ev.PlayPrompt):
                await self._play(action)
            elif isinstance(action, ev.Listen):
                self.listening = _Listening(action)
            elif isinstance(action, (ev.HandOver, ev.TakeMessage, ev.EndCall)):
                self.terminal = action
                self.listening = None
        if not self.line.pending:
            await self._prompts_done()

    async def _play(self, say: ev.PlayPrompt) -> None:
        renderer = self.gateway.renderer
        voice = self.call.flow.voice if self.call is not None else None
        loop = asyncio.get_running_loop()
        audio = await loop.run_in_executor(None, renderer.render, say.text, say.language, say.audio, voice)
        mark = self.line.sent(say, len(audio) / SAMPLE_RATE, loop.time())
        await self.out.play(audio, mark.name)
        if self._turn_from is not None:  # the reply's first audio is on its way
            self.gateway.metrics.turn.observe(loop.time() - self._turn_from)
            self._turn_from = None
        # Should a mark never come back, the call must not wait for it forever (nobody is left
        # in silence).
        loop.call_at(mark.starts + mark.seconds + MARK_GRACE_S, self._mark_overdue, mark)

    def _mark_overdue(self, mark: SentMark) -> None:
        if mark in self.line.pending and not self.closed:
            asyncio.get_running_loop().create_task(self._on_overdue_mark(mark))

    async def _on_overdue_mark(self, mark: SentMark) -> None:
        self.line.lost.add(mark.name)
        self.gateway.metrics.marks_lost.inc()
        await self.handle(m.MarkPlayed(mark.name))  # as if it came back: under the lock, faults guarded
        if self.call is not None:
            log.warning("call %s: mark %s never came back; went on without it", self.call.sid, mark.name)
            self.call.note("fault", f"mark {mark.name} never came back")

    async def _prompts_done(self) -> None:
        if self.terminal is not None:
            if self.call is not None:
                self.call.decision = self.terminal
            await self._close()
        elif self.listening is not None and self.listening.timer is None:
            loop = asyncio.get_running_loop()
            self.listening.timer = loop.call_later(self.listening.listen.timeout, self._silence_due)

    async def _barge_in(self, why: str) -> None:
        if self.line.pending:
            self._cut_short(why)
            await self.out.clear()

    def _cut_short(self, why: str, clear: bool = True) -> None:
        """Stop what is on the line, recording how much of each prompt was heard before `why`."""
        for heard in self.line.cut(asyncio.get_running_loop().time(), clear):
            if self.call is not None:
                self.call.prompt_heard(heard.say, heard.heard, heard.played_s, heard.of_s, why)

    def _unplayed(self, why: str) -> None:
        """The stream is ending: prompts on the line are cut, the held menu is never played."""
        self._cut_short(why, clear=False)
        held, self.after_disclosure = self.after_disclosure or [], None
        if self.call is not None:
            for action in held:
                if isinstance(action, ev.PlayPrompt):
                    self.call.prompt_heard(action, "never", 0.0, 0.0, why)

    def _silence_due(self) -> None:
        if self.listening is not None:
            self.listening.timer = None
        asyncio.get_running_loop().create_task(self._on_silence_timer())

    async def _on_silence_timer(self) -> None:
        async with self.lock:
            if self.speech is not None and self.speech.pointer.in_utterance:
                return
            try:
                await self._caller_event(ev.Silence(at=utcnow()))
            except Exception as exc:
                log.exception("fault after silence")
                await self.fail(f"{type(exc).__name__}: {exc}")

    def _stop_timer(self) -> None:
        if self.listening is not None and self.listening.timer is not None:
            self.listening.timer.cancel()
            self.listening.timer = None

    async def _close(self) -> None:
        self._stop_timer()
        self._unplayed(_cut_by([self.terminal]) if self.terminal is not None else "fault")
        if not self.closed:
            self.closed = True
            self._audio.put_nowait(None)
            try:  # the caller's next step must not wait for a database write (see _release)
                await self.out.close()
                if self._key_at is not None and self.terminal is not None:
                    decided = asyncio.get_running_loop().time() - self._key_at
                    self.gateway.media_stats.key_decided(decided)
                    self.gateway.metrics.key_decision.observe(decided)
            finally:
                await self._release()



def _cut_by(actions: list[ev.Action]) -> str:
    """What cut a prompt short, in the words of the call record."""
    for action in actions:
        if isinstance(action, ev.HandOver):
            return "transfer"
        if isinstance(action, ev.TakeMessage):
            return "voicemail"
        if isinstance(action, ev.EndCall):
            return "goodbye"
    return "caller"
