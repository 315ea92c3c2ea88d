"""What is playing on the line: prompts sent whole, each followed by a mark, played one after
another in real time by the provider; a `clear` empties it (barge-in). Pure bookkeeping: the
session asks it when each prompt starts and ends, which marks a returning mark settles, and how
much of each prompt a caller heard before it was cut off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.flow import events as ev

CUT_BELOW_S = 0.05  # played for less than this: never heard at all


@dataclass(frozen=True)
class SentMark:
    """A mark sent after a prompt's audio: the prompt it ends, its unique name on the line, and
    when the prompt's audio starts playing there (loop time) and for how long."""

    say: ev.PlayPrompt
    seq: int
    starts: float = 0.0
    seconds: float = 0.0

    @property
    def prompt_id(self) -> str:
        return self.say.prompt_id

    @property
    def name(self) -> str:
        return f"{self.prompt_id}#{self.seq}"


@dataclass(frozen=True)
class Heard:
    """How much of a prompt the caller heard: `full`, `cut` or `never`, and `played_s`."""

    say: ev.PlayPrompt
    heard: str
    played_s: float
    of_s: float


@dataclass
class Playback:
    """Prompts on the line, oldest first."""

    pending: list[SentMark] = field(default_factory=list)
    cleared: set[str] = field(default_factory=set)  # marks of cleared audio, echoed back later
    lost: set[str] = field(default_factory=set)  # marks taken as played when they never came back
    _seq: int = 0
    _end: float = 0.0  # loop time when everything sent so far has played

    def sent(self, say: ev.PlayPrompt, seconds: float, now: float) -> SentMark:
        """A prompt's audio and mark went out: it plays once everything before it has."""
        self._seq += 1
        mark = SentMark(say, self._seq, max(self._end, now), seconds)
        self.pending.append(mark)
        self._end = mark.starts + mark.seconds
        return mark

    def returned(self, name: str) -> list[SentMark] | None:
        """A mark came back: the prompts it settles (it and every one before it), or None for
        a mark of cleared audio or one never sent."""
        if name in self.cleared:
            self.cleared.discard(name)
            return None
        names = [sent.name for sent in self.pending]
        if name not in names:
            return None
        done = self.pending[: names.index(name) + 1]
        del self.pending[: len(done)]
        return done

    def cut(self, now: float, clear: bool = True) -> list[Heard]:
        """Everything on the line stops now: how much of each prompt was heard. With `clear`,
        the provider is told to drop it and will echo the marks, which are then ignored."""
        heard = []
        for sent in self.pending:
            played = min(max(now - sent.starts, 0.0), sent.seconds)
            heard.append(Heard(sent.say, "cut" if played >= CUT_BELOW_S else "never", played, sent.seconds))
        if clear:
            self.cleared.update(sent.name for sent in self.pending)
        self.pending.clear()
        self._end = 0.0  # the line's buffer is empty again
        return heard
