"""Prompts as 8 kHz mu-law: recorded files converted with pydub, text spoken by espeak-ng.

Both are cached on disk (by content hash) and in memory, so a prompt costs its rendering once.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import subprocess
import threading
import warnings
from pathlib import Path

from ivr.audio.mulaw import SAMPLE_RATE, pcm_to_ulaw
from ivr.errors import IvrError
from ivr.language import primary

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment

log = logging.getLogger(__name__)
RENDER_VERSION = "1"  # bump when rendering changes, so caches refill


class RenderError(IvrError):
    """A prompt could not be turned into audio."""


def espeak_voice(language: str) -> str:
    """The espeak-ng voice for a BCP-47 tag (en-US -> en-us, ko-KR -> ko)."""
    return "en-us" if language.lower().startswith("en-us") else primary(language)


class PromptRenderer:
    """Turns prompts into mu-law bytes, caching every result."""

    def __init__(self, cache_dir: Path, audio_root: Path) -> None:
        self.cache_dir = cache_dir
        self.audio_root = audio_root
        self._memory: dict[str, bytes] = {}
        self.espeak = shutil.which("espeak-ng")

    def render(self, text: str, language: str, audio: str | None = None) -> bytes:
        """Mu-law audio for a prompt: the recorded file when given, else speech of `text`."""
        source = f"file:{audio}" if audio else f"tts:{espeak_voice(language)}:{text}"
        key = hashlib.sha256(f"{RENDER_VERSION}|{source}".encode()).hexdigest()[:24]
        cached = self._memory.get(key)
        if cached is not None:
            return cached
        path = self.cache_dir / f"{key}.ulaw"
        if path.is_file():
            data = path.read_bytes()
        else:
            data = self._convert_file(self.audio_root / audio) if audio else self._speak(text, language)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            # Own temporary name: instances sharing the cache may render the same prompt at once.
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        self._memory[key] = data
        return data

    def _convert_file(self, path: Path) -> bytes:
        try:
            with path.open("rb") as handle:  # pydub leaves files it opens itself open
                segment = AudioSegment.from_file(handle, format=path.suffix.lstrip(".") or None)
        except Exception as exc:  # pydub raises several kinds for unreadable audio
            raise RenderError(f"cannot read audio {path}: {exc}") from exc
        return segment_to_ulaw(segment)

    def _speak(self, text: str, language: str) -> bytes:
        if self.espeak is None:
            raise RenderError("espeak-ng is not installed; install it or record the prompts")
        proc = subprocess.run([self.espeak, "-v", espeak_voice(language), "-s", "165", "--stdout", text],
                              capture_output=True, timeout=30)
        if proc.returncode != 0 or not proc.stdout:
            raise RenderError(f"espeak-ng failed: {proc.stderr.decode(errors='replace')}")
        return segment_to_ulaw(AudioSegment.from_wav(io.BytesIO(proc.stdout)))


def segment_to_ulaw(segment: AudioSegment) -> bytes:
    """Any pydub segment to 8 kHz mono mu-law."""
    segment = segment.set_channels(1).set_sample_width(2).set_frame_rate(SAMPLE_RATE)
    return pcm_to_ulaw(segment.raw_data)
