"""What every call on this instance shares: flows, models, prompt cache, store, live calls."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.audio.render import PromptRenderer, RenderError
from ivr.config import Settings
from ivr.flow.engine import Engine
from ivr.flow.events import PlayPrompt
from ivr.flow.loader import load_flow_text, load_flows
from ivr.flow.model import Flow
from ivr.language import primary
from ivr.metrics import Metrics
from ivr.speech.busy import BusySignal
from ivr.speech.models import ModelRegistry
from ivr.speech.pool import SpeechPool, Urgency
from ivr.speech.recognizer import GrammarVocabulary, Recognizer, VoskRecognizer
from ivr.store.calls import AsyncCallStore, CallStore, open_database, utcnow
from ivr.store.flows import FlowVersionStore
from ivr.telephony import snapshot
from ivr.telephony.calls import CallRegistry, LiveCall
from ivr.telephony.media import MediaCodec

log = logging.getLogger(__name__)
# How long the <Connect action> waits for another instance to hand a call back after its
# stream: a live instance does so within milliseconds; a dead one never, and the caller goes on.
RELEASE_WAIT_S = 2.0


@dataclass
class FlowBook:
    """The flows this instance answers with, their versions, and which number goes where."""

    flows: dict[str, Flow]
    versions: dict[str, str]
    default: str

    @classmethod
    def load(cls, folder: Path, default: str = "") -> FlowBook:
        paths = sorted(folder.glob("*.yaml"))
        flows = load_flows(paths)
        if not flows:
            raise FileNotFoundError(f"no flows (*.yaml) in {folder}")
        versions = {p.stem: hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in paths}
        return cls(flows, versions, default if default in flows else next(iter(flows)))

    def for_number(self, number: str) -> str:
        """The flow that answers `number` (the default flow when none claims it)."""
        for name, flow in self.flows.items():
            if number in flow.phone_numbers:
                return name
        return self.default


@dataclass
class MediaStats:
    """How far behind real time caller audio is handled, over every call on this instance."""

    frames: int = 0
    late_frames: int = 0  # handled more than LATE_MS after its place in the stream
    max_lag_ms: float = 0.0
    loop_checks: int = 0
    loop_stalls: int = 0  # times the event loop was busy for more than a frame (20 ms)
    max_loop_stall_ms: float = 0.0
    key_decisions_ms: Counter[int] = field(default_factory=Counter)

    LATE_MS = 100.0
    STALL_MS = 20.0

    def key_decided(self, seconds: float) -> None:
        """A key ended the stream (a transfer, say): its time from arrival to the stream closed,
        the gateway's own part of key 0 -> <Dial>, by whole milliseconds."""
        self.key_decisions_ms[int(seconds * 1000)] += 1

    def record(self, lag_ms: float) -> None:
        self.frames += 1
        if lag_ms > self.LATE_MS:
            self.late_frames += 1
        self.max_lag_ms = max(self.max_lag_ms, lag_ms)

    async def watch_loop(self) -> None:
        """Measure how late the event loop wakes up: the gateway's own share of any lateness,
        whatever the callers' side (or a simulator) does."""
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.02)
            stall = (loop.time() - before - 0.02) * 1000
            self.loop_checks += 1
            if stall > self.STALL_MS:
                self.loop_stalls += 1
            self.max_loop_stall_ms = max(self.max_loop_stall_ms, stall)


@dataclass
class Gateway:
    """Shared services, built once at start-up and handed to webhooks and media sessions."""

    settings: Settings
    book: FlowBook
    store: AsyncCallStore
    renderer: PromptRenderer
    models: ModelRegistry
    versions: FlowVersionStore | None = None
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    registry: CallRegistry = field(default_factory=CallRegistry)
    draining: bool = False  # SIGTERM: unhealthy for the balancer, live streams finish first
    engines: dict[str, Engine] = field(default_factory=dict)
    speech_pool: SpeechPool = field(default_factory=lambda: SpeechPool(2))
    vocabularies: dict[str, GrammarVocabulary] = field(default_factory=dict)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    media_stats: MediaStats = field(default_factory=MediaStats)
    # The provider's media-stream format, wired by the app (Twilio's): the console's microphone
    # speaks it too, so the web layer needs no provider module.
    media_codec: Callable[[], MediaCodec] = field(default=lambda: _no_provider())
    _old_engines: dict[tuple[str, str], tuple[Flow, Engine]] = field(default_factory=dict)
    _recordings: dict[str, None] = field(default_factory=dict)  # recording callbacks taken, in order
    metrics: Metrics = field(default_factory=Metrics)
    busy: BusySignal = field(default_factory=BusySignal)  # full: the balancer sends calls elsewhere

    def __post_init__(self) -> None:
        self.metrics.watch(lambda: len(self.registry), self.speech_pool.pending)
        self.metrics.busy.set_function(lambda: float(self.full()))
        self.store.write_lag = self.metrics.db_write_lag.observe

    def full(self) -> bool:
        """Tell the balancer this instance is full? (Recognition queues; IVR_BUSY_SIGNAL.)"""
        return self.settings.busy_signal and self.busy.busy()

    @classmethod
    def build(cls, settings: Settings, models: ModelRegistry | None = None) -> Gateway:
        book = FlowBook.load(settings.flows_dir, settings.default_flow)
        store = AsyncCallStore(CallStore(open_database(settings.database_url)))
        renderer = PromptRenderer(settings.audio_dir / "cache", settings.audio_dir.parent)
        models = models or ModelRegistry(settings.vosk_model, settings.download_models)
        gateway = cls(settings, book, store, renderer, models,
                      speech_pool=SpeechPool(settings.recognizer_threads))
        gateway.engines = {name: Engine(flow) for name, flow in book.flows.items()}
        gateway.versions = FlowVersionStore(store.store.engine)
        if settings.instance_name:
            gateway.instance = settings.instance_name
        return gateway

    # ---- the flows this instance answers with ---------------------------------------------

    def flow_names(self) -> list[str]:
        return sorted(self.book.flows)

    def live_flow(self, name: str) -> Flow | None:
        """The version new calls to `name` get (None: no such flow)."""
        return self.book.flows.get(name)

    def live_version(self, name: str) -> str | None:
        """"v7" for a published version; a file hash before the store has seen the file."""
        return self.book.versions.get(name)

    def flow_for_number(self, number: str) -> Flow:
        """The live flow that answers calls to `number` (the default flow when none claims it)."""
        return self.book.flows[self.book.for_number(number)]

    def activate(self, name: str, flow: Flow, version: int) -> None:
        """Make a flow version live for new calls; calls in progress keep theirs."""
        self.book.flows[name] = flow
        self.book.versions[name] = f"v{version}"
        self.engines[name] = Engine(flow)

    # ---- calls any instance may have started -----------------------------------------------

    def new_call(self, sid: str, name: str, flow: Flow | None = None,
                 draft_yaml: str | None = None) -> LiveCall:
        """A call starting here on flow `name` (its live version, or a console draft)."""
        if flow is None:
            flow, engine, version = self.book.flows[name], self.engines[name], self.book.versions[name]
        else:
            engine, version = Engine(flow), "draft"
        return LiveCall(sid, name, flow, engine, self.store, flow_version=version, draft_yaml=draft_yaml)

    def begin_call(self, sid: str, caller: str, called: str, name: str | None = None,
                   draft: tuple[Flow, str] | None = None) -> LiveCall:
        """A call arriving now, on the flow that answers `called` (or flow `name`; or a console
        draft: its flow and YAML), with its record started in the store. Twilio's voice webhook
        and the console's try-it both begin calls here."""
        name = name or self.book.for_number(called)
        flow, yaml = draft if draft is not None else (None, None)
        call = self.new_call(sid, name, flow=flow, draft_yaml=yaml)
        self.store.share_later(self.store.calls.start_call, sid, call.flow_name, call.flow_version,
                               caller, called, utcnow(), self.speech_status(call.flow.language))
        return call

    async def load_call(self, sid: str, stream_over: bool = False) -> LiveCall | None:
        """The call as the last instance to act on it left it: the copy of a media stream running
        here, else the shared store's. None when no instance has seen the call.

        `stream_over` (the <Connect action>): the stream's instance closes the stream before it
        hands the call back, so a row still held by another instance is waited for, up to
        RELEASE_WAIT_S; an instance that died never hands it back, and then this one takes over."""
        held = self.registry.get(sid)
        if held is not None:
            return held
        call: LiveCall | None = await self.store.share(self.read_call, sid)
        deadline = time.monotonic() + RELEASE_WAIT_S
        while stream_over and call is not None and call.held_by not in (None, self.instance) \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            call = await self.store.share(self.read_call, sid)
        return call

    def read_call(self, sid: str) -> LiveCall | None:
        """Blocking `load_call` from the store alone (store thread, terminal, tests)."""
        row = self.store.live.load(sid)
        if row is None:
            return None
        data = snapshot.loads(row["snapshot"])
        name, version = row["flow"], row["flow_version"]
        flow, engine = self._flow_at(name, version, data.get("draft_yaml"))
        call = LiveCall(sid, name, flow, engine, self.store, flow_version=version,
                        held_by=row["held_by"], holder_as_read=row["held_by"])
        return call.restore(data)

    def _flow_at(self, name: str, version: str, draft_yaml: str | None) -> tuple[Flow, Engine]:
        """The flow version a call started on: calls keep it through a publish, on any instance."""
        if draft_yaml is None and self.book.versions.get(name) == version:
            return self.book.flows[name], self.engines[name]
        key = (name, version if draft_yaml is None else hashlib.sha256(draft_yaml.encode()).hexdigest())
        if key not in self._old_engines:
            text = draft_yaml
            if text is None and self.versions is not None and version.startswith("v") \
                    and version[1:].isdigit():
                row = self.versions.get(name, int(version[1:]))
                text = row["yaml"] if row else None
            if text is None:  # a version nobody recorded: the live one is the best there is
                log.warning("flow %s %s is not stored; the call goes on with the live version",
                            name, version)
                current = name if name in self.book.flows else self.book.default
                return self.book.flows[current], self.engines[current]
            flow = load_flow_text(text, f"{name}.yaml", self.settings.audio_dir.parent)
            self._old_engines[key] = (flow, Engine(flow))
        return self._old_engines[key]

    def recognizer(self, language: str) -> Recognizer | None:
        """A recognizer for one call, or None when the language is keypad-only."""
        loaded = self.models.get(language)
        if loaded is None:
            return None
        key = primary(language)
        if key not in self.vocabularies:
            self.vocabularies[key] = GrammarVocabulary(loaded.model)
        return VoskRecognizer(loaded.model, self.vocabularies[key])

    def claim_recording(self, recording_sid: str) -> bool:
        """True the first time this instance sees a recording (a replay or a retry of its
        callback while the first is still being fetched is not)."""
        if recording_sid in self._recordings:
            return False
        if recording_sid:
            self._recordings[recording_sid] = None
            while len(self._recordings) > 10_000:  # the store remembers older ones
                self._recordings.pop(next(iter(self._recordings)))
        return True

    def stream_token(self, sid: str) -> str:
        """The token a call's media stream must present (a <Parameter> of its <Stream>): the
        handshake's signature covers a URL that is the same for every call, so this binds the
        stream to one call."""
        key = self.settings.twilio_auth_token.encode()
        return hmac.new(key, f"media-stream:{sid}".encode(), hashlib.sha256).hexdigest()[:32]

    # ---- prompts said by TwiML (Twilio plays audio rendered here, in the flow's voice) --------

    def prompt_url(self, say: PlayPrompt, voice: str | None = None) -> str | None:
        """Where Twilio fetches a prompt rendered here: only for neural voices (Twilio's own
        <Say> beats espeak-ng), and only once rendered (`prepare_prompts`)."""
        renderer = self.renderer
        if say.audio or not renderer.neural(say.language, voice):
            return None
        key = renderer.key(say.text, say.language, None, voice)
        return f"{self.settings.base_url()}/prompts/{key}.wav" if renderer.cached(key) else None

    async def prepare_prompts(self, actions: list[Any], voice: str | None = None) -> None:
        """Render the prompts a TwiML answer will play, off the event loop (cached: at once)."""
        for say in actions:
            if isinstance(say, PlayPrompt) and not say.audio and self.renderer.neural(say.language, voice):
                try:
                    await asyncio.to_thread(self.renderer.render, say.text, say.language, None, voice)
                except RenderError:  # Twilio says it instead
                    log.exception("prompt %r could not be rendered", say.text)

    async def spoken(self, text: str, language: str, voice: str | None = None) -> str | None:
        """A dynamic sentence (the whisper) rendered now in a neural voice: its URL, or None."""
        say = PlayPrompt(text, "whisper", language=language)
        await self.prepare_prompts([say], voice)
        return self.prompt_url(say, voice)

    def speech_status(self, language: str) -> str:
        loaded = self.models.get(language)
        return loaded.source if loaded else "keypad-only"

    async def run_speech(self, fn: Any, *args: Any, urgency: Urgency = Urgency.LIVE) -> Any:
        """Run blocking recognition on the speech threads (Vosk releases the GIL), by urgency;
        its wait for a thread and its CPU time go to the metrics."""
        queued, metrics = time.monotonic(), self.metrics

        def timed() -> Any:
            started, cpu = time.monotonic(), time.thread_time()
            try:
                return fn(*args)
            finally:
                if urgency is not Urgency.BACKGROUND:  # a voicemail waiting keeps no caller waiting
                    self.busy.waited(started - queued)
                metrics.speech_wait.labels(urgency.name.lower()).observe(started - queued)
                metrics.recognizer_cpu.inc(time.thread_time() - cpu)
        return await self.speech_pool.run(urgency, timed)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run background work (voicemail transcription) and keep it alive until done."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def close(self) -> None:
        self.speech_pool.shutdown()
        self.store.close()


def _no_provider() -> MediaCodec:
    raise RuntimeError("no media-stream provider is wired to this gateway (create_app wires Twilio's)")
