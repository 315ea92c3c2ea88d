"""When has the caller finished? Grammar-aware end-pointing, free of I/O.

The voice gate ends an utterance after `end_ms` of silence (300 ms): long enough for a pause
between words of open speech. A menu answer is usually one phrase of the step's grammar, and
once the caller has said a phrase that no other phrase extends, nothing they could add would
change the answer. So after a short pause (`quick_ms`) the recognizer is finalised; if its
result is such a phrase the turn ends there, about 150 ms sooner. If not, the result waits for
the full silence, and should the caller speak again within it, the utterance so far is
decoded anew (finalising cannot be undone in Vosk) and goes on as if nothing happened.

`EndPointer.push` takes one 20 ms frame and returns the recognizer work it calls for (or None);
`run_work` does that work on a recognizer (on a speech thread, one trip per item); `settle`
reads the result. The gateway's media session and `bench.endpoint` both drive it this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ivr.audio.mulaw import FRAME_MS, dbfs, peak
from ivr.speech.recognizer import Recognizer, SpeechResult
from ivr.speech.vad import VoiceActivity

BATCH_FRAMES = 5  # the recognizer is fed every 100 ms of speech


@dataclass(frozen=True)
class Begin:
    """Speech started: start the recognizer on the step's grammar and feed what came first."""

    pcm: bytes


@dataclass(frozen=True)
class Feed:
    pcm: bytes


@dataclass(frozen=True)
class Settle:
    """A short pause: finalise now and see whether the caller has said a whole phrase."""

    pcm: bytes


@dataclass(frozen=True)
class Resume:
    """Speech went on after a settle that was not an answer: decode the utterance anew."""

    pcm: bytes


@dataclass(frozen=True)
class Finish:
    """The full silence: the final result (`known` when a settle already produced it)."""

    pcm: bytes
    known: SpeechResult | None = None


Work = Begin | Feed | Settle | Resume | Finish


def run_work(recognizer: Recognizer, work: Work, grammar: Sequence[str] | None) -> SpeechResult | None:
    """Do one item of recognizer work; blocking (Vosk), so the gateway runs it on a speech thread."""
    if isinstance(work, Finish) and work.known is not None:
        return work.known
    if isinstance(work, (Begin, Resume)):
        recognizer.start(grammar)
    result = recognizer.feed(work.pcm) if work.pcm else None
    if isinstance(work, (Settle, Finish)):
        return recognizer.finish()
    return result


def settled_phrase(text: str, grammar: Sequence[str]) -> bool:
    """Is `text` one whole phrase of the grammar that no other phrase starts with? ("시간" is,
    unless the grammar also has "시간표"; "opening" is not when "opening hours" is there.)"""
    said = " ".join(text.lower().split())
    if not said:
        return False
    phrases = {" ".join(p.lower().split()) for p in grammar}
    return said in phrases and not any(p != said and p.startswith(said) for p in phrases)


class EndPointer:
    """One call's utterances: the voice gate plus the settle-early logic."""

    def __init__(self, end_ms: int = 300, quick_ms: int = 120) -> None:
        self.vad = VoiceActivity(end_ms)
        # 0 turns quick end-pointing off; it must come before the full silence to mean anything.
        self.quick_frames = quick_ms // FRAME_MS if 0 < quick_ms < end_ms else 0
        self._batch: list[bytes] = []
        self._audio: list[bytes] = []  # the utterance so far, for a resume
        self._tentative: SpeechResult | None = None  # a settle's result that was not an answer

    @property
    def in_utterance(self) -> bool:
        """Between speech starting and the turn ending (the gate's own state: one truth)."""
        return self.vad.speaking

    def push(self, pcm: bytes) -> Work | None:
        """One 20 ms frame of caller audio (16-bit PCM)."""
        was_in_utterance = self.in_utterance  # the gate's state before this frame moves it
        gate = self.vad.frame(dbfs(pcm), peak(pcm))
        if not was_in_utterance:
            self.vad.preroll.append(pcm)
            if gate != "start":
                return None
            self._tentative = None
            self._audio = list(self.vad.preroll)
            self.vad.preroll.clear()
            return Begin(b"".join(self._audio))
        self._audio.append(pcm)
        quiet = self.vad.quiet_run  # frames since the last voiced one
        if gate == "end":
            return self._finish()
        if self._tentative is not None:
            if quiet:
                return None  # still the pause after a settle: the recognizer is finalised
            self._tentative, self._batch = None, []
            return Resume(b"".join(self._audio))
        self._batch.append(pcm)
        if self.quick_frames and quiet == self.quick_frames:
            return Settle(self._take())
        if len(self._batch) >= BATCH_FRAMES:
            return Feed(self._take())
        return None

    def settle(self, work: Work, result: SpeechResult | None, grammar: Sequence[str]) -> SpeechResult | None:
        """Read a work item's result: the utterance's final result once it is over, else None."""
        if isinstance(work, Finish):
            return result
        if isinstance(work, Settle) and result is not None:
            if settled_phrase(result.text, grammar):
                self.vad.end_now()
                self._audio, self._batch = [], []
                return result
            self._tentative = result
        return None

    def partial(self, work: Work, result: SpeechResult | None) -> SpeechResult | None:
        """A partial result worth passing on (a person word acts before the caller finishes)."""
        if isinstance(work, (Begin, Feed, Resume)) and result is not None and result.text:
            return result
        return None

    def _finish(self) -> Finish:
        known, self._tentative = self._tentative, None
        self._audio = []
        return Finish(b"" if known is not None else self._take(), known)

    def _take(self) -> bytes:
        chunk, self._batch = b"".join(self._batch), []
        return chunk
