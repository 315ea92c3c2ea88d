"""8 kHz mu-law <-> 16-bit PCM and loudness: the per-frame hot path, so C routines only."""

from __future__ import annotations

import math
import warnings

with warnings.catch_warnings():
    # audioop is deprecated in 3.11-3.12 and provided by audioop-lts from 3.13 on.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop as audioop  # (re-exported: the benchmarks mix audio with the same C routines)

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # mu-law: one byte a sample
SILENCE_BYTE = b"\xff"  # mu-law zero


def ulaw_to_pcm(ulaw: bytes) -> bytes:
    """Mu-law bytes to little-endian 16-bit PCM."""
    return audioop.ulaw2lin(ulaw, 2)


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """Little-endian 16-bit PCM to mu-law bytes."""
    return audioop.lin2ulaw(pcm, 2)


def dbfs(pcm: bytes) -> float:
    """Loudness of 16-bit PCM in dB relative to full scale (-96 for digital silence)."""
    rms = audioop.rms(pcm, 2) if pcm else 0
    return 20 * math.log10(rms / 32768) if rms else -96.0


def peak(pcm: bytes) -> int:
    """The largest absolute sample of 16-bit PCM (clipping shows as samples at the top)."""
    return int(audioop.max(pcm, 2)) if pcm else 0


def silence(ms: int) -> bytes:
    """Mu-law silence of `ms` milliseconds."""
    return SILENCE_BYTE * (SAMPLE_RATE * ms // 1000)
