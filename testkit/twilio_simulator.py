"""A Twilio stand-in for tests, benchmarks and `ivr call --twilio`: it plays Twilio's side.

It signs webhooks with the SDK, executes the TwiML it gets back (Say, Play, Gather, Connect/
Stream, Dial with whisper and outcomes, Record, Hangup), and runs a bidirectional Media Stream
in real time: 20 ms caller frames in, a playback buffer out whose marks are echoed only when
their audio has played, and `clear` dropping what is buffered (echoing its marks, as Twilio does).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ivr.audio.mulaw import FRAME_BYTES, FRAME_MS, SILENCE_BYTE, dbfs, ulaw_to_pcm

HANG_UP_AFTER_S = 2.0  # a caller who is done hangs up this long after the gateway went quiet
VOICED_DB = -40.0  # the caller's turn ends with the last frame louder than this
SILENCE_B64 = base64.b64encode(SILENCE_BYTE * FRAME_BYTES).decode()

# ---- what the caller does ---------------------------------------------------------------


@dataclass(frozen=True)
class Listen:
    """Wait until the gateway has finished speaking (or `max_s` passes)."""

    max_s: float = 30.0


@dataclass(frozen=True)
class UntilPlayed:
    """Wait until a prompt whose mark starts with `prefix` has played to its end (or `max_s`)."""

    prefix: str
    max_s: float = 30.0


@dataclass(frozen=True)
class Speak:
    """Send caller speech (8 kHz mu-law) in real time, 20 ms a frame."""

    ulaw: bytes
    label: str = ""


@dataclass(frozen=True)
class Press:
    digit: str


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class SendRaw:
    """Send a raw websocket message (garbage tests)."""

    message: str | bytes


@dataclass(frozen=True)
class DropStream:
    """The stream dies (network, crash): the websocket closes without a stop message."""


@dataclass(frozen=True)
class HangUp:
    """The caller hangs up: the stream gets `stop`. Twilio's documentation leaves open whether
    the <Connect action> is requested afterwards; `connect_action` picks: "none", "after" the
    stop (with CallStatus=completed), or "before" it (the request overtaking the stop)."""

    connect_action: str = "none"


@dataclass(frozen=True)
class Then:
    """Decide the next steps now, from what the call has seen so far (interactive callers)."""

    next_steps: Callable[[SimulatedCall], Awaitable[list[Step]]]


Step = Union[Listen, UntilPlayed, Speak, Press, Pause, SendRaw, DropStream, HangUp, Then]


@dataclass
class SimulatedCall:
    """Everything observed on one call, for assertions and benchmarks."""

    sid: str
    said: list[str] = field(default_factory=list)  # <Say> texts from TwiML
    documents: list[tuple[str, str]] = field(default_factory=list)  # (url, TwiML)
    marks: list[str] = field(default_factory=list)  # prompt marks played to the end
    sent_marks: list[str] = field(default_factory=list)  # every mark the gateway sent
    cleared: int = 0
    dialed: list[list[str]] = field(default_factory=list)
    dial_reports: list[dict[str, str]] = field(default_factory=list)  # what each <Dial action> got
    whispers: list[str] = field(default_factory=list)  # said by <Say>, or "[audio]" for a <Play>
    whisper_audio: list[bytes] = field(default_factory=list)  # the WAV files a whisper <Play>ed
    played: list[tuple[str, int]] = field(default_factory=list)  # every <Play> URL and its HTTP status
    recorded: bool = False
    stream_opened: bool = False
    stream_refused: int | None = None
    ended: str = ""
    received_audio_bytes: int = 0
    heard: bytearray = field(default_factory=bytearray)  # the gateway's audio, as the caller got it
    mark_at: dict[str, int] = field(default_factory=dict)  # mark -> bytes of `heard` sent before it
    turn_latencies: list[float] = field(default_factory=list)
    barge_ins: list[float] = field(default_factory=list)  # speech onset over a prompt -> `clear`
    dial_at: float | None = None
    request_at: float | None = None  # when key 0 was sent during the disclosure or the stream
    spoke_last_at: float | None = None  # when the caller's last voiced frame went out
    spoke_ends: list[float] = field(default_factory=list)  # each utterance's last voiced frame
    late_ticks: int = 0
    log: list[str] = field(default_factory=list)


@dataclass
class DialPlan:
    """What happens when the gateway dials: one outcome per <Dial>, in order.

    Outcomes: `completed` (the person answers and presses 1 at the whisper), `declined` (answers,
    presses another key), `unattended` (answered by a machine or someone who presses nothing),
    `busy`, `no-answer`, `failed`. Twilio's documentation leaves open how a leg whose whisper
    hung up is reported; `declined_report` picks the style: `completed` with
    `DialBridged=false`, `completed` with no `DialBridged` at all, or `no-answer`.
    """

    outcomes: list[str] = field(default_factory=lambda: ["completed"])
    declined_report: str = "no-answer"

    REPORTS: ClassVar[dict[str, dict[str, str]]] = {
        "completed": {"DialCallStatus": "completed", "DialBridged": "false"},
        "completed-unbridged-unknown": {"DialCallStatus": "completed"},
        "no-answer": {"DialCallStatus": "no-answer"},
    }

    def next(self) -> str:
        return self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]

    def report(self, outcome: str, accepted: bool) -> dict[str, str]:
        if outcome in ("completed", "declined", "unattended"):
            return {"DialCallStatus": "completed", "DialBridged": "true"} if accepted \
                else dict(self.REPORTS[self.declined_report])
        return {"DialCallStatus": outcome, "DialBridged": "false"}


class TwilioSimulator:
    """Places calls to a running gateway at `base_url`, as Twilio would."""

    def __init__(self, base_url: str, auth_token: str, recording_url: str = "",
                 account_sid: str = "ACsimulated", reach: Callable[[str], str] | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.recording_url = recording_url
        self.account_sid = account_sid
        # Where a request for a public URL really goes (signed for the public URL, as Twilio
        # signs what it was told): e.g. the stream to one instance, webhooks to another.
        self.reach = reach or (lambda url: url)

    async def call(self, steps: Sequence[Step], to: str = "", caller: str = "+15550001234",
                   dial: DialPlan | None = None, during_disclosure: str | None = None,
                   forge: bool = False, stream_down: bool = False, echo_marks: bool = True,
                   stay_on_line: bool = False) -> SimulatedCall:
        """Place one call: run the caller's steps against whatever the gateway answers.

        `during_disclosure` is a key pressed during a TwiML <Gather>; `stream_down` makes every
        <Connect><Stream> fail to connect (Twilio then requests the <Connect action>);
        `echo_marks=False` never sends marks back (a robustness check, not Twilio's way).
        A caller whose steps are done hangs up, unless `stay_on_line`: then the call goes on,
        silent, until the gateway ends the stream (two silences reach a person)."""
        sim = SimulatedCall(sid="CA" + uuid.uuid4().hex)
        run = _CallRun(self, sim, list(steps), to, caller, dial or DialPlan(), during_disclosure, forge)
        run.stream_down, run.echo_marks, run.stay_on_line = stream_down, echo_marks, stay_on_line
        async with httpx.AsyncClient(timeout=30) as http:
            run.http = http
            await run.execute()
        return sim

    def sign(self, url: str, params: dict[str, str]) -> str:
        signature: str = self.validator.compute_signature(url, params)
        return signature


class _CallRun:
    """One call's TwiML interpreter."""

    def __init__(self, sim: TwilioSimulator, call: SimulatedCall, steps: list[Step], to: str,
                 caller: str, dial: DialPlan, during_disclosure: str | None, forge: bool) -> None:
        self.sim, self.call, self.steps = sim, call, steps
        self.dial, self.during_disclosure, self.forge = dial, during_disclosure, forge
        self.base_params = {"CallSid": call.sid, "AccountSid": sim.account_sid, "From": caller,
                            "To": to, "Direction": "inbound", "CallStatus": "in-progress"}
        self.http: httpx.AsyncClient
        self.hung_up = False
        self.stream_down = False
        self.echo_marks = True
        self.stay_on_line = False
        self.connect_after_hangup = "none"

    async def post(self, url: str, extra: dict[str, str] | None = None) -> str | None:
        params = {**self.base_params, **(extra or {})}
        signature = "forged" if self.forge else self.sim.sign(url, params)
        reply = await self.http.post(self.sim.reach(url), data=params,
                                     headers={"X-Twilio-Signature": signature})
        self.call.log.append(f"POST {url} -> {reply.status_code}")
        if reply.status_code == 204:
            return None
        if reply.status_code != 200:
            self.call.ended = f"http {reply.status_code}"
            return None
        self.call.documents.append((url, reply.text))
        return reply.text

    async def execute(self) -> None:
        document = await self.post(f"{self.sim.base}/twilio/voice")
        while document is not None and not self.hung_up:
            document = await self.run_document(document)
        if not self.call.ended:
            self.call.ended = "completed"
        await self.post(f"{self.sim.base}/twilio/status",
                        {"CallStatus": "completed", "CallDuration": "1"})

    async def run_document(self, document: str) -> str | None:
        """Execute verbs in order; return the next document when a verb moves to another URL."""
        for verb in ET.fromstring(document):
            handler = getattr(self, f"_verb_{verb.tag.lower()}", None)
            if handler is None:
                raise ValueError(f"simulator does not know <{verb.tag}>")
            result = await handler(verb)
            if result is not None:
                return str(result) if result != "" else None
        return None

    async def _verb_say(self, verb: ET.Element) -> None:
        self.call.said.append(verb.text or "")

    async def _verb_play(self, verb: ET.Element) -> None:
        self.call.said.append(f"[play {verb.text}]")
        await self.fetch(verb.text or "")

    async def fetch(self, url: str) -> bytes:
        """What Twilio plays for a <Play>: the file at its URL (status kept in `played`)."""
        reply = await self.http.get(self.sim.reach(url))
        self.call.played.append((url, reply.status_code))
        return reply.content if reply.status_code == 200 else b""

    async def _verb_gather(self, verb: ET.Element) -> str | None:
        for child in verb:
            await getattr(self, f"_verb_{child.tag.lower()}")(child)
        if self.during_disclosure:
            digit, self.during_disclosure = self.during_disclosure, None
            if digit == "0":
                self.call.request_at = time.monotonic()
            return await self.post(verb.attrib["action"], {"Digits": digit}) or ""
        return None

    async def _verb_connect(self, verb: ET.Element) -> str | None:
        stream = verb.find("Stream")
        assert stream is not None, "<Connect> without <Stream>"
        params = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
        if self.stream_down:
            self.call.stream_refused = 0  # connection refused / timed out (errors 31902, 31901)
        else:
            await _MediaStream(self, stream.attrib["url"], params, verb.attrib.get("action")).run()
        action = verb.attrib.get("action")
        if self.hung_up:
            if action and self.connect_after_hangup == "after":
                await self.post(action, {"CallStatus": "completed"})
            return ""
        return (await self.post(action) or "") if action else None

    async def _verb_dial(self, verb: ET.Element) -> str | None:
        numbers = [n.text or "" for n in verb.findall("Number")]
        self.call.dial_at = self.call.dial_at or time.monotonic()
        self.call.dialed.append(numbers)
        outcome = self.dial.next()
        whisper_url = next((n.attrib.get("url") for n in verb.findall("Number")), None)
        accepted = False
        if outcome in ("completed", "declined", "unattended") and whisper_url:
            accepted = await self._whisper(whisper_url, numbers[0], outcome)
        report = self.dial.report(outcome, accepted if whisper_url else outcome == "completed")
        self.call.dial_reports.append(report)
        action = verb.attrib.get("action")
        if not action:
            return None
        return await self.post(action, report) or ""

    async def _whisper(self, url: str, number: str, outcome: str) -> bool:
        """The person's leg: run the whisper TwiML; 1 takes the call. Returns whether it did."""
        leg = {"CallSid": "CA" + uuid.uuid4().hex, "ParentCallSid": self.call.sid, "To": number}
        whisper = await self.post(url, leg)
        if not whisper:
            return False
        document = ET.fromstring(whisper)
        self.call.whispers += [e.text or "" for e in document.iter("Say")]
        for play in document.iter("Play"):
            self.call.whispers.append("[audio]")
            self.call.whisper_audio.append(await self.fetch(play.text or ""))
        gather = document.find("Gather")
        if gather is None:
            return True  # nothing to answer: the person is connected once the whisper ends
        digits = {"completed": "1", "declined": "9", "unattended": ""}[outcome]
        if not digits and gather.attrib.get("actionOnEmptyResult") != "true":
            return False  # Gather times out, the rest of the whisper runs: <Hangup/>
        answer = await self.post(gather.attrib["action"], {**leg, "Digits": digits})
        return bool(answer) and ET.fromstring(answer or "<Response/>").find("Hangup") is None

    async def _verb_record(self, verb: ET.Element) -> str | None:
        self.call.recorded = True
        callback = verb.attrib.get("recordingStatusCallback")
        rec = {"RecordingSid": "RE" + uuid.uuid4().hex, "RecordingUrl": self.sim.recording_url,
               "RecordingDuration": "4", "RecordingStatus": "completed"}
        if callback:
            await self.post(callback, rec)
        action = verb.attrib.get("action")
        return (await self.post(action, rec) or "") if action else None

    async def _verb_hangup(self, verb: ET.Element) -> str:
        self.call.ended = "hangup by gateway"
        return ""

    async def _verb_redirect(self, verb: ET.Element) -> str:
        return await self.post(verb.text or "") or ""


class _MediaStream:
    """Twilio's side of a bidirectional Media Stream, in real time."""

    def __init__(self, run: _CallRun, url: str, params: dict[str, str], action: str | None = None) -> None:
        self.run_ = run
        self.action = action
        self.call = run.call
        self.url = url
        self.params = params
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.playback: list[bytes | str] = []  # audio chunks and mark names, in order
        self.inbound: list[bytes] = []
        self.last_voiced: bytes | None = None  # the frame whose sending ends the caller's turn
        self.first_voiced: bytes | None = None  # the frame whose sending starts the caller's speech
        self.barge_at: float | None = None  # when the caller started speaking over a prompt
        self.spoke_at: float | None = None  # when the caller's last voiced frame went out
        self.closed = asyncio.Event()
        self.idle = asyncio.Event()
        self.chunk = 0
        # After the caller speaks or presses a key, the gateway's answer (audio, or the end of
        # the stream) is awaited before "quiet" counts: recognition takes its time under load.
        self.reply_after: int | None = None

    async def run(self) -> None:
        signature = "forged" if self.run_.forge else self.run_.sim.sign(self.url, {})
        try:
            async with connect(self.run_.sim.reach(self.url),
                               additional_headers={"X-Twilio-Signature": signature},
                               compression=None, proxy=None, open_timeout=10) as ws:
                self.call.stream_opened = True
                await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
                await ws.send(json.dumps(self._start_message()))
                tasks = [asyncio.create_task(self._receive(ws)), asyncio.create_task(self._tick(ws)),
                         asyncio.create_task(self._caller(ws))]
                await self.closed.wait()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        except InvalidStatus as exc:
            self.call.stream_refused = exc.response.status_code
        except (ConnectionClosed, OSError):
            pass

    def _start_message(self) -> dict[str, Any]:
        return {"event": "start", "sequenceNumber": "1", "streamSid": self.stream_sid,
                "start": {"streamSid": self.stream_sid, "callSid": self.call.sid,
                          "accountSid": self.run_.sim.account_sid, "tracks": ["inbound"],
                          "customParameters": self.params,
                          "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}

    async def _receive(self, ws: Any) -> None:
        try:
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("event")
                if kind == "media":
                    audio = base64.b64decode(message["media"]["payload"])
                    if self.spoke_at is not None:
                        self.call.turn_latencies.append(time.monotonic() - self.spoke_at)
                        self.spoke_at = None
                    self.call.received_audio_bytes += len(audio)
                    self.call.heard += audio
                    self.playback.append(audio)
                    self.idle.clear()
                elif kind == "mark":
                    self.call.sent_marks.append(str(message["mark"]["name"]))
                    self.call.mark_at[str(message["mark"]["name"])] = len(self.call.heard)
                    self.playback.append(str(message["mark"]["name"]))
                    self.idle.clear()
                elif kind == "clear":
                    self.call.cleared += 1
                    if self.barge_at is not None:
                        self.call.barge_ins.append(time.monotonic() - self.barge_at)
                        self.barge_at = None
                    marks = [m for m in self.playback if isinstance(m, str)]
                    self.playback.clear()
                    for name in marks:  # Twilio echoes the marks of cleared audio
                        await ws.send(json.dumps({"event": "mark", "streamSid": self.stream_sid,
                                                  "mark": {"name": name}}))
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def _tick(self, ws: Any) -> None:
        """Every 20 ms: one caller frame in, 20 ms of playback out, marks echoed when reached."""
        start = time.monotonic()
        tick = 0
        silence = SILENCE_BYTE * FRAME_BYTES
        while True:
            tick += 1
            due = start + tick * FRAME_MS / 1000
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.04:
                self.call.late_ticks += 1
            frame = self.inbound.pop(0) if self.inbound else silence
            if frame is self.first_voiced:
                self.first_voiced = None
                if self.playback:  # the gateway is still speaking: this is a barge-in
                    self.barge_at = time.monotonic()
            if frame is self.last_voiced:
                self.spoke_at, self.last_voiced = time.monotonic(), None
                self.call.spoke_last_at = self.spoke_at
                self.call.spoke_ends.append(self.spoke_at)
            payload = SILENCE_B64 if frame is silence else base64.b64encode(frame).decode()
            # Formatted by hand: this runs 50 times a second per call, and json.dumps is slow.
            await ws.send(f'{{"event":"media","streamSid":"{self.stream_sid}","media":{{"track":'
                          f'"inbound","chunk":"{tick}","timestamp":"{tick * FRAME_MS}",'
                          f'"payload":"{payload}"}}}}')
            if self.playback:
                await self._play_out(ws)
            elif not self.idle.is_set():
                self.idle.set()

    async def _play_out(self, ws: Any) -> None:
        budget = FRAME_BYTES
        while self.playback and (budget > 0 or isinstance(self.playback[0], str)):
            head = self.playback[0]
            if isinstance(head, str):
                self.playback.pop(0)
                self.call.marks.append(head)
                if self.run_.echo_marks:
                    await ws.send(json.dumps({"event": "mark", "streamSid": self.stream_sid,
                                              "mark": {"name": head}}))
                continue
            if len(head) <= budget:
                budget -= len(head)
                self.playback.pop(0)
            else:
                self.playback[0] = head[budget:]
                budget = 0
        if not self.playback:
            self.idle.set()

    async def _caller(self, ws: Any) -> None:
        run = self.run_
        while run.steps:
            step = run.steps.pop(0)
            if isinstance(step, Listen):
                await asyncio.sleep(0.1)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._gateway_quiet(), step.max_s)
                self.reply_after = None
            elif isinstance(step, UntilPlayed):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._played(step.prefix), step.max_s)
            elif isinstance(step, Speak):
                frames = [step.ulaw[i:i + FRAME_BYTES] for i in range(0, len(step.ulaw), FRAME_BYTES)]
                frames[-1] = frames[-1].ljust(FRAME_BYTES, SILENCE_BYTE)
                voiced = [f for f in frames if dbfs(ulaw_to_pcm(f)) > VOICED_DB]
                self.last_voiced = voiced[-1] if voiced else None
                self.first_voiced = voiced[0] if voiced else None
                self.inbound.extend(frames)
                while self.inbound:
                    await asyncio.sleep(FRAME_MS / 1000)
                self.reply_after = self.call.received_audio_bytes
            elif isinstance(step, Press):
                if step.digit == "0":
                    self.call.request_at = time.monotonic()
                self.reply_after = self.call.received_audio_bytes
                await ws.send(json.dumps({"event": "dtmf", "streamSid": self.stream_sid,
                                          "dtmf": {"track": "inbound_track", "digit": step.digit}}))
            elif isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, SendRaw):
                await ws.send(step.message)
            elif isinstance(step, DropStream):
                await ws.close(code=1011)
                return
            elif isinstance(step, Then):
                run.steps[:0] = await step.next_steps(self.call)
            elif isinstance(step, HangUp):
                run.connect_after_hangup = step.connect_action
                if step.connect_action == "before" and self.action:
                    await run.post(self.action, {"CallStatus": "completed"})
                await self._hang_up(ws)
                return
        if not run.stay_on_line and not self.closed.is_set():
            # A caller whose last prompt just ended does not hang up in the same instant: the
            # gateway closing the stream for a transfer or a voicemail goes first.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closed.wait(), HANG_UP_AFTER_S)
            if not self.closed.is_set():
                await self._hang_up(ws)

    async def _hang_up(self, ws: Any) -> None:
        self.run_.hung_up = True
        await ws.send(json.dumps({"event": "stop", "streamSid": self.stream_sid,
                                  "stop": {"callSid": self.call.sid}}))
        await ws.close()

    async def _played(self, prefix: str) -> None:
        while not any(m.startswith(prefix) for m in self.call.marks):
            await asyncio.sleep(FRAME_MS / 1000)

    async def _gateway_quiet(self) -> None:
        # A stream's first words take the gateway a moment to render, and an answer to what the
        # caller just said or pressed a moment to recognise: wait for them first (up to 8 s).
        before = self.reply_after or 0
        for _ in range(400):
            if self.call.received_audio_bytes > before or self.closed.is_set():
                break
            await asyncio.sleep(FRAME_MS / 1000)
        while True:
            await self.idle.wait()
            await asyncio.sleep(0.05)
            if self.idle.is_set() or self.closed.is_set():
                return


def form_body(params: dict[str, str]) -> str:
    """URL-encoded form body, as Twilio posts it."""
    return urlencode(params)
