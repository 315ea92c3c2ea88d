"""Mu-law, loudness and prompt rendering (espeak-ng and recorded files via pydub)."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from ivr.audio.mulaw import dbfs, pcm_to_ulaw, silence, ulaw_to_pcm
from ivr.audio.render import PromptRenderer, RenderError, Voices, espeak_voice
from tests import needs


def _tone(seconds: float, rate: int = 16000, amplitude: float = 0.5) -> bytes:
    return b"".join(struct.pack("<h", int(amplitude * 32767 * math.sin(2 * math.pi * 440 * i / rate)))
                    for i in range(int(seconds * rate)))


def test_mulaw_round_trip_keeps_the_signal() -> None:
    pcm = _tone(0.1, rate=8000)
    back = ulaw_to_pcm(pcm_to_ulaw(pcm))
    assert len(back) == len(pcm)
    assert abs(dbfs(back) - dbfs(pcm)) < 0.5


def test_loudness() -> None:
    assert dbfs(ulaw_to_pcm(silence(20))) == -96.0
    assert -10 < dbfs(_tone(0.05, amplitude=0.5)) < -8  # a sine at half scale is -9 dBFS


def test_recorded_prompt_is_converted_to_8khz_mulaw_and_cached(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    with wave.open(str(audio / "hello.wav"), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(16000)
        mono = _tone(1.0)
        out.writeframes(b"".join(mono[i:i + 2] * 2 for i in range(0, len(mono), 2)))
    renderer = PromptRenderer(tmp_path / "cache", tmp_path)
    ulaw = renderer.render("Hello", "en-US", "audio/hello.wav")
    assert len(ulaw) == 8000  # one second, one byte a sample
    assert len(list((tmp_path / "cache").glob("*.ulaw"))) == 1
    again = PromptRenderer(tmp_path / "cache", tmp_path).render("Hello", "en-US", "audio/hello.wav")
    assert again == ulaw


def test_text_is_spoken_by_espeak(tmp_path: Path) -> None:
    needs.program("espeak-ng")
    espeak_only = Voices(tmp_path, neural=False)
    ulaw = PromptRenderer(tmp_path, tmp_path, espeak_only).render("Press zero for a person.", "en-US")
    assert 0.8 < len(ulaw) / 8000 < 4
    assert dbfs(ulaw_to_pcm(ulaw)) > -40


def test_unreadable_audio_is_a_render_error(tmp_path: Path) -> None:
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    with pytest.raises(RenderError, match="cannot read audio"):
        PromptRenderer(tmp_path / "c", tmp_path).render("x", "en-US", "bad.wav")


def test_espeak_voices() -> None:
    assert espeak_voice("en-US") == "en-us" and espeak_voice("ko-KR") == "ko"
