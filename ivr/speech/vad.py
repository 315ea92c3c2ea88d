"""Voice activity: quick to open (40 ms: "yes" lasts 0.3 s), patient to close.

Frames below a threshold that follows the line's own noise floor are silence. The caller's
loudness per utterance is kept, for shouting detection against their own first utterances.
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


@dataclass(frozen=True)
class Utterance:
    """A finished stretch of speech: its length and mean loudness."""

    duration_ms: int
    mean_db: float  # the level of its loud part: 90th percentile of its frames' loudness


class VoiceActivity:
    """Feed one frame's loudness at a time; learn when speech starts and ends."""

    def __init__(self, end_ms: int = 300) -> None:
        self.end_frames = max(1, end_ms // FRAME_MS)
        self.floor_db = -70.0
        self.speaking = False
        self._voiced_run = 0
        self._quiet_run = 0
        self._frames = 0
        self._levels: list[float] = []
        self.preroll: deque[bytes] = deque(maxlen=PREROLL_FRAMES)

    @property
    def threshold_db(self) -> float:
        return max(MIN_THRESHOLD_DB, self.floor_db + FLOOR_MARGIN_DB)

    def frame(self, db: float) -> str | None:
        """'start' when speech begins, 'end' when it has stopped, else None."""
        voiced = db >= self.threshold_db
        # The floor follows quieter frames quickly and louder ones slowly, so steady line noise
        # lifts the threshold within seconds while a word barely moves it.
        self.floor_db += (db - self.floor_db) * (0.2 if db < self.floor_db else 0.01)
        if not self.speaking:
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run >= OPEN_FRAMES:
                self.speaking, self._quiet_run = True, 0
                self._frames, self._levels = self._voiced_run, [db] * self._voiced_run
                return "start"
            return None
        self._frames += 1
        if voiced and self._frames < MAX_UTTERANCE_FRAMES:
            self._quiet_run = 0
            self._levels.append(db)
            return None
        self._quiet_run += 1
        if self._quiet_run >= self.end_frames or self._frames >= MAX_UTTERANCE_FRAMES:
            self.speaking, self._voiced_run = False, 0
            return "end"
        return None

    def utterance(self) -> Utterance:
        """The utterance that just ended."""
        # A percentile of the voiced frames moves exactly with the caller's volume, whereas a
        # mean depends on how many soft frames cleared the gate.
        levels = sorted(self._levels) or [-96.0]
        level = levels[min(len(levels) - 1, int(0.9 * len(levels)))]
        return Utterance((self._frames - self._quiet_run) * FRAME_MS, level)


class LoudnessBaseline:
    """The caller's own normal loudness: the mean of their first utterances."""

    def __init__(self, first: int = 2) -> None:
        self.first = first
        self._seen: list[float] = []

    def over(self, mean_db: float) -> float | None:
        """dB over the baseline, or None while the baseline is still being learned."""
        if len(self._seen) < self.first:
            self._seen.append(mean_db)
            return None
        return mean_db - sum(self._seen) / len(self._seen)
