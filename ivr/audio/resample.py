"""Neural-voice audio to the phone line: one band-limited resampling to 8 kHz, even loudness.

pydub's `set_frame_rate` (audioop.ratecv) interpolates without a low-pass filter, which folds
everything above 4 kHz of a 22.05 kHz voice back into the band as hiss. Here a Kaiser-windowed
sinc filter, cut off just under the new Nyquist frequency, is evaluated at each output instant.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

ZERO_CROSSINGS = 16  # of the sinc on each side: about 90 taps at 22.05 -> 8 kHz
KAISER_BETA = 8.6  # about 80 dB of stop-band rejection
CUTOFF = 0.92  # of the output's Nyquist frequency (3.68 kHz at 8 kHz; the line stops at 3.4)
BLOCK = 4096  # output samples computed at once (bounds the tap matrix to a few MB)
TARGET_DBFS = -20.0  # RMS of the voiced part, about espeak-ng's and a recorded prompt's level
PEAK_LIMIT = 0.89  # -1 dBFS: mu-law clips hard


def resample(samples: Any, from_rate: int, to_rate: int) -> Any:
    """Float samples at `from_rate` to `to_rate`, band-limited (no aliasing)."""
    x = np.asarray(samples, dtype=np.float64)
    if from_rate == to_rate or x.size == 0:
        return x.astype(np.float32)
    step = Fraction(from_rate, to_rate)  # input samples per output sample: 441/160 for 22.05 kHz
    cutoff = CUTOFF * min(1.0, 1.0 / float(step))  # in cycles per input sample, times 2
    half = int(np.ceil(ZERO_CROSSINGS / cutoff))
    offsets = np.arange(-half, half + 1)
    # Output instants fall on `step.denominator` distinct fractions of an input sample: one set
    # of filter weights per fraction, computed once.
    phases = np.arange(step.denominator) / step.denominator
    distance = phases[:, None] - offsets[None, :]
    weights = cutoff * np.sinc(cutoff * distance) * _kaiser(distance / (half + 1))
    padded = np.concatenate([np.zeros(half), x, np.zeros(half + 1)])
    count = x.size * step.denominator // step.numerator
    out = np.empty(count, dtype=np.float64)
    for start in range(0, count, BLOCK):
        n = np.arange(start, min(count, start + BLOCK)) * step.numerator
        base, phase = n // step.denominator, n % step.denominator
        out[start:start + n.size] = np.einsum("ij,ij->i", padded[base[:, None] + offsets + half],
                                              weights[phase])
    return out.astype(np.float32)


def _kaiser(position: Any) -> Any:
    """The Kaiser window at any position in [-1, 1] (zero outside)."""
    inside = np.clip(1.0 - np.asarray(position) ** 2, 0.0, None)
    return np.i0(KAISER_BETA * np.sqrt(inside)) / np.i0(KAISER_BETA)


def normalise(samples: Any, target_dbfs: float = TARGET_DBFS) -> Any:
    """Scale so the voiced part's RMS is `target_dbfs`, never peaking above -1 dBFS."""
    x = np.asarray(samples, dtype=np.float32)
    if x.size == 0:
        return x
    frame = 160
    usable = x[: x.size - x.size % frame].reshape(-1, frame) if x.size >= frame else x.reshape(1, -1)
    energy = np.sqrt((usable.astype(np.float64) ** 2).mean(axis=1))
    voiced = energy[energy > max(energy.max() * 0.05, 1e-6)]
    if voiced.size == 0:
        return x
    rms = float(np.sqrt((voiced ** 2).mean()))
    gain = 10 ** (target_dbfs / 20) / rms
    top = float(np.abs(x).max())
    gain = min(gain, PEAK_LIMIT / top) if top > 0 else gain
    return (x * gain).astype(np.float32)


def to_pcm16(samples: Any) -> bytes:
    """Float samples in [-1, 1] to little-endian 16-bit PCM."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return bytes((clipped * 32767.0).astype("<i2").tobytes())
