"""Rendered prompts as WAV files, for people to listen to (the console, `ivr prompts render`)."""

from __future__ import annotations

import io
import wave

from ivr.audio.mulaw import SAMPLE_RATE, ulaw_to_pcm


def ulaw_to_wav(ulaw: bytes) -> bytes:
    """8 kHz mu-law (what callers hear) as a 16-bit PCM WAV file any player opens."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(ulaw_to_pcm(ulaw))
    return out.getvalue()
