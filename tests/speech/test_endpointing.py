"""Grammar-aware end-pointing, with a scripted recognizer (real Vosk: test_recognizer.py)."""

from __future__ import annotations

from collections.abc import Sequence

from ivr.audio.mulaw import FRAME_BYTES
from ivr.speech.endpointing import Begin, EndPointer, Feed, Finish, Resume, Settle, run_work, settled_phrase
from ivr.speech.recognizer import SpeechResult

LOUD = (b"\x00\x40" * FRAME_BYTES)  # 16-bit PCM at about -6 dBFS
QUIET = b"\x00\x00" * FRAME_BYTES
GRAMMAR = ("시간", "영업 시간", "예약", "opening hours", "hours", "상담원")


class Scripted:
    """Answers `finish` with the next scripted text; records what it was given."""

    def __init__(self, *finals: str) -> None:
        self.finals = list(finals)
        self.started = 0
        self.fed = 0  # bytes
        self.finished = 0

    def start(self, grammar: Sequence[str] | None) -> None:
        self.started += 1

    def feed(self, pcm: bytes) -> SpeechResult | None:
        self.fed += len(pcm)
        return None

    def finish(self) -> SpeechResult:
        self.finished += 1
        return SpeechResult(self.finals.pop(0), 0.9, True)


def _drive(pointer: EndPointer, recognizer: Scripted, frames: list[bytes]) -> list[tuple[int, str, str]]:
    """(frame index, work done, final text) for each item of work, as the gateway runs it."""
    done = []
    for i, frame in enumerate(frames):
        work = pointer.push(frame)
        if work is None:
            continue
        final = pointer.settle(work, run_work(recognizer, work, GRAMMAR), GRAMMAR)
        done.append((i, type(work).__name__, final.text if final else ""))
    return done


def test_a_whole_phrase_nothing_extends_is_settled() -> None:
    assert settled_phrase("시간", GRAMMAR)
    assert settled_phrase(" Opening  Hours ", GRAMMAR)
    assert not settled_phrase("영업", GRAMMAR)  # only the start of 영업 시간
    assert not settled_phrase("opening", GRAMMAR)
    assert not settled_phrase("시간 예약", GRAMMAR)  # two phrases strung together
    assert not settled_phrase("", GRAMMAR)
    assert not settled_phrase("시간", ("시간", "시간표"))  # the caller may be saying 시간표


def test_a_settled_phrase_ends_the_turn_after_the_short_pause() -> None:
    recognizer = Scripted("시간")
    done = _drive(EndPointer(end_ms=300, quick_ms=160), recognizer, [QUIET] * 5 + [LOUD] * 20 + [QUIET] * 20)
    kinds = [kind for _, kind, _ in done]
    assert kinds[0] == "Begin" and kinds.count("Feed") >= 3
    assert done[-1] == (24 + 8, "Settle", "시간")  # 8 quiet frames (160 ms) after the last voiced one
    assert recognizer.finished == 1 and recognizer.started == 1


def test_an_unsettled_result_waits_for_the_full_silence() -> None:
    recognizer = Scripted("영업")
    done = _drive(EndPointer(end_ms=300, quick_ms=160), recognizer, [LOUD] * 20 + [QUIET] * 20)
    ends = [d for d in done if d[1] in ("Settle", "Finish")]
    assert ends == [(19 + 8, "Settle", ""), (19 + 15, "Finish", "영업")]
    assert recognizer.finished == 1  # the settle's result is reused, not recognised again


def test_speech_after_an_unsettled_pause_is_decoded_anew_from_the_start() -> None:
    recognizer = Scripted("영업", "영업 시간")
    pointer = EndPointer(end_ms=300, quick_ms=160)
    frames = [LOUD] * 10 + [QUIET] * 10 + [LOUD] * 10 + [QUIET] * 20
    done = _drive(pointer, recognizer, frames)
    resume = next(i for i, kind, _ in done if kind == "Resume")
    assert resume == 20  # the first voiced frame after the pause
    assert recognizer.started == 2
    assert done[-1][1:] == ("Settle", "영업 시간")  # whole now: settled at the second pause
    assert recognizer.fed >= 2 * 20 * len(LOUD)  # the first part went to the recognizer twice


def test_quick_end_pointing_can_be_turned_off() -> None:
    recognizer = Scripted("시간")
    done = _drive(EndPointer(end_ms=300, quick_ms=0), recognizer, [LOUD] * 20 + [QUIET] * 20)
    assert "Settle" not in [kind for _, kind, _ in done]
    assert done[-1] == (19 + 15, "Finish", "시간")


def test_work_items_are_what_the_recognizer_is_asked_to_do() -> None:
    recognizer = Scripted("예약")
    assert run_work(recognizer, Begin(QUIET), GRAMMAR) is None and recognizer.started == 1
    run_work(recognizer, Feed(QUIET), GRAMMAR)
    run_work(recognizer, Resume(QUIET), GRAMMAR)
    assert recognizer.started == 2 and recognizer.fed == 3 * len(QUIET)
    assert run_work(recognizer, Settle(b""), GRAMMAR) == SpeechResult("예약", 0.9, True)
    known = SpeechResult("시간", 0.8, True)
    assert run_work(recognizer, Finish(b"", known), GRAMMAR) is known and recognizer.finished == 1
