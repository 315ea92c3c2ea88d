"""Voice activity: quick to open (40 ms: "yes" lasts 0.3 s), patient to close.

Frames below a threshold that follows the line's own noise floor are silence. The caller's
loudness per utterance is kept, for shouting detection: against ordinary telephone speech and
clipping from the first word, against the caller's own start once they have spoken.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ivr.audio.mulaw import FRAME_MS

OPEN_FRAMES = 2
PREROLL_FRAMES = 10  # 200 ms fed to the recognizer from before the gate opened
MIN_THRESHOLD_DB = -45.0
FLOOR_MARGIN_DB = 15.0
MAX_UTTERANCE_FRAMES = 15_000 // FRAME_MS  # nobody answers a menu for 15 s: cut and recognise
CLIP_PEAK = 32_000  # a sample this high is the line saturating (mu-law tops out at 32,124)
# The level (90th-percentile 20 ms frame) of ordinary speech on a phone line: ITU-T P.56's
# nominal active speech level of -26 dBov sits about 8 dB below the loud part of the words.
TELEPHONE_SPEECH_DB = -18.0


@dataclass(frozen=True)
class Utterance:
    """A finished stretch of speech: its length and mean loudness."""

    duration_ms: int
    mean_db: float  # the level of its loud part: 90th percentile of its frames' loudness
    clipped: float = 0.0  # share of its voiced frames that saturated the line


class VoiceActivity:
    """Feed one frame's loudness at a time; learn when speech starts and ends."""

    def __init__(self, end_ms: int = 300) -> None:
        self.end_frames = max(1, end_ms // FRAME_MS)
        self.floor_db = -70.0
        self.speaking = False
        self._voiced_run = 0
        self.quiet_run = 0
        self._frames = 0
        self._levels: list[float] = []
        self._clipped = 0
        self.preroll: deque[bytes] = deque(maxlen=PREROLL_FRAMES)

    @property
    def threshold_db(self) -> float:
        return max(MIN_THRESHOLD_DB, self.floor_db + FLOOR_MARGIN_DB)

    def frame(self, db: float, peak: int = 0) -> str | None:
        """'start' when speech begins, 'end' when it has stopped, else None. `peak` is the
        frame's largest sample, for clipping."""
        voiced = db >= self.threshold_db
        # The floor follows quieter frames quickly and louder ones slowly, so steady line noise
        # lifts the threshold within seconds while a word barely moves it.
        self.floor_db += (db - self.floor_db) * (0.2 if db < self.floor_db else 0.01)
        if not self.speaking:
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run >= OPEN_FRAMES:
                self.speaking, self.quiet_run = True, 0
                self._frames, self._levels = self._voiced_run, [db] * self._voiced_run
                self._clipped = int(peak >= CLIP_PEAK)
                return "start"
            return None
        self._frames += 1
        if voiced and self._frames < MAX_UTTERANCE_FRAMES:
            self.quiet_run = 0
            self._levels.append(db)
            self._clipped += peak >= CLIP_PEAK
            return None
        self.quiet_run += 1
        if self.quiet_run >= self.end_frames or self._frames >= MAX_UTTERANCE_FRAMES:
            self.speaking, self._voiced_run = False, 0
            return "end"
        return None

    def end_now(self) -> None:
        """The utterance is over before the full silence (the caller said a whole answer)."""
        self.speaking, self._voiced_run = False, 0

    def utterance(self) -> Utterance:
        """The utterance that just ended."""
        # A percentile of the voiced frames moves exactly with the caller's volume, whereas a
        # mean depends on how many soft frames cleared the gate.
        levels = sorted(self._levels) or [-96.0]
        level = levels[min(len(levels) - 1, int(0.9 * len(levels)))]
        clipped = self._clipped / len(self._levels) if self._levels else 0.0
        return Utterance((self._frames - self.quiet_run) * FRAME_MS, level, clipped)


@dataclass(frozen=True)
class Loudness:
    """How loud one utterance was: dB over a reference, and how much of it clipped."""

    db_over: float
    against: str  # "their start" (the caller's own first words) or "phone speech"
    clipped: float = 0.0


class LoudnessBaseline:
    """Judges each utterance's loudness. Until the caller has spoken, against ordinary phone
    speech; then against the caller's own first (not loud) utterances, one is enough."""

    def __init__(self, first: int = 2, learn_below_db: float = 6.0) -> None:
        self.first = first
        self.learn_below_db = learn_below_db
        self._seen: list[float] = []

    def judge(self, utterance: Utterance) -> Loudness:
        level = utterance.mean_db
        if self._seen:
            baseline = sum(self._seen) / len(self._seen)
            judged = Loudness(level - baseline, "their start", utterance.clipped)
        else:
            judged = Loudness(level - TELEPHONE_SPEECH_DB, "phone speech", utterance.clipped)
        # A raised voice never becomes the caller's normal: the baseline learns calm words only.
        calm = judged.db_over < (self.learn_below_db if self._seen else 2 * self.learn_below_db)
        if len(self._seen) < self.first and calm and not utterance.clipped:
            self._seen.append(level)
        return judged
