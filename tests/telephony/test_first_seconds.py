"""The first seconds of a call, as Twilio runs them: the caller is heard from the first word of
the disclosure, and the disclosure is heard first even when the media stream fails."""

from __future__ import annotations

import pytest

from ivr.audio.render import PromptRenderer
from ivr.guard.words import find_any, words_for
from testkit.local_gateway import RunningGateway
from testkit.twilio_simulator import (
    DropStream,
    Listen,
    Pause,
    Press,
    SimulatedCall,
    Speak,
    TwilioSimulator,
    UntilPlayed,
)
from tests.telephony.conftest import OPEN_NUMBER, record_of, run

pytestmark = pytest.mark.slow
DESK = ["+8225550311"]
DISCLOSURE = "한빛 미용실 자동 응답입니다"
MENU_MARK = "p1#"  # the menu is the first prompt after the disclosure


def _caller_turns(record: dict[str, object]) -> list[str]:
    return [e["text"] for e in record["events"]  # type: ignore[index, attr-defined]
            if e["kind"] == "turn" and e["speaker"] == "caller"]


def _reached_a_person_without_the_menu(call: SimulatedCall) -> None:
    assert call.dialed == [DESK], call.log
    assert not any(m.startswith(MENU_MARK) for m in call.marks), "the menu played to its end"


def test_the_stream_opens_at_once_and_plays_the_disclosure_first(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([Listen(), Press("0"), Listen()], to=OPEN_NUMBER))
    url, first = call.documents[0]
    assert url.endswith("/twilio/voice")
    assert "<Connect" in first and "/twilio/connected" in first and "<Say" not in first
    assert call.sent_marks[0].startswith("disclosure#") and call.sent_marks[1].startswith(MENU_MARK)
    record = record_of(running, call)
    assert record["disclosure_done_s"] is not None and record["disclosure_done_s"] > 2


def test_person_word_during_the_disclosure_reaches_a_person_at_once(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    call = run(twilio.call([Pause(0.5), Speak(voice.render("상담 원", "ko")), Listen()], to=OPEN_NUMBER))
    _reached_a_person_without_the_menu(call)
    assert not any(m.startswith(MENU_MARK) for m in call.sent_marks)  # not even started
    assert call.cleared >= 1  # the rest of the disclosure was cut for the person
    record = record_of(running, call)
    assert record["transfer_reason"] == "requested"
    korean = words_for("ko-KR")
    assert any(find_any(t, korean.person, korean.match) for t in _caller_turns(record))  # 상담원 or 사람


def test_key_0_during_the_disclosure_reaches_a_person_at_once(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([Pause(0.5), Press("0"), Listen()], to=OPEN_NUMBER))
    _reached_a_person_without_the_menu(call)
    assert not any(m.startswith(MENU_MARK) for m in call.sent_marks)
    assert record_of(running, call)["transfer_reason"] == "requested"


def test_person_word_just_after_the_disclosure_cuts_the_menu(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    steps = [UntilPlayed("disclosure"), Speak(voice.render("상담 원", "ko")), Listen()]
    call = run(twilio.call(steps, to=OPEN_NUMBER))
    _reached_a_person_without_the_menu(call)
    assert call.cleared >= 1
    assert record_of(running, call)["transfer_reason"] == "requested"


def test_key_0_just_after_the_disclosure_cuts_the_menu(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([UntilPlayed("disclosure"), Pause(0.3), Press("0"), Listen()], to=OPEN_NUMBER))
    _reached_a_person_without_the_menu(call)
    assert record_of(running, call)["transfer_reason"] == "requested"


def test_a_choice_said_over_the_disclosure_waits_for_the_menu(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    # 시간 over the disclosure is heard but not acted on: the caller has not heard the menu.
    call = run(twilio.call([Pause(0.5), Speak(voice.render("시간", "ko")), Pause(1.0), Press("0"), Listen()],
                           to=OPEN_NUMBER))
    assert call.dialed == [DESK]
    record = record_of(running, call)
    system = [e["text"] for e in record["events"] if e["kind"] == "turn" and e["speaker"] == "system"]
    assert not any(t.startswith("화요일부터") for t in system)  # the hours answer never came
    assert record["transfer_reason"] == "requested"


def test_a_key_pressed_over_the_disclosure_is_acted_on_when_it_ends(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([Pause(0.5), Press("3"), Listen()], to=OPEN_NUMBER))
    record = record_of(running, call)
    system = [e["text"] for e in record["events"] if e["kind"] == "turn" and e["speaker"] == "system"]
    assert any(t.startswith("화요일부터") for t in system), system
    assert any(m.startswith("disclosure#") for m in call.marks)  # the disclosure played in full


def test_a_stream_that_never_connects_still_says_the_disclosure_then_a_person(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([], to=OPEN_NUMBER, stream_down=True))
    assert not call.stream_opened
    assert call.said[0].startswith(DISCLOSURE)
    assert call.dialed == [DESK]
    url, fallback = call.documents[1]
    assert url.endswith("/twilio/connected")
    assert fallback.index("<Gather") < fallback.index(DISCLOSURE) < fallback.index("<Dial")
    assert record_of(running, call)["transfer_reason"] == "fault"


def test_key_0_during_the_fallback_disclosure_reaches_a_person(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([], to=OPEN_NUMBER, stream_down=True, during_disclosure="0"))
    assert call.dialed == [DESK]
    key = next(doc for url, doc in call.documents if url.endswith("/twilio/key"))
    assert "<Dial" in key  # put through at once, without the rest of the fallback


def test_a_stream_that_dies_during_the_disclosure_says_it_again_by_twiml(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([Pause(0.5), DropStream()], to=OPEN_NUMBER))
    assert call.stream_opened and call.dialed == [DESK]
    assert call.said and call.said[0].startswith(DISCLOSURE)  # by TwiML, after the stream died
    record = record_of(running, call)
    assert record["transfer_reason"] == "fault"
    assert any(e["kind"] == "fault" for e in record["events"])


def test_a_stream_that_dies_after_the_disclosure_goes_straight_to_a_person(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([UntilPlayed("disclosure"), DropStream()], to=OPEN_NUMBER))
    assert call.dialed == [DESK]
    assert not any(s.startswith(DISCLOSURE) for s in call.said)  # heard once is enough


def test_marks_that_never_come_back_do_not_leave_the_caller_in_silence(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([UntilPlayed(MENU_MARK), Press("3"), Listen()], to=OPEN_NUMBER, echo_marks=False))
    record = record_of(running, call)
    system = [e["text"] for e in record["events"] if e["kind"] == "turn" and e["speaker"] == "system"]
    assert any(t.startswith("화요일부터") for t in system), system  # the menu was heard and answered
    assert any(e["kind"] == "fault" and "never came back" in e["text"] for e in record["events"])
