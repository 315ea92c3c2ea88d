"""Call records say what the caller heard: every prompt heard to the end, cut off after so many
seconds (and by what), or never played; and a caller who hangs up is a hang-up, never a fault.

Through the real gateway: Twilio's simulator plays the gateway's audio in real time and echoes
marks only when their audio has played, as Twilio does."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.audio.render import PromptRenderer
from testkit.local_gateway import RunningGateway
from testkit.twilio_simulator import (
    DialPlan,
    DropStream,
    HangUp,
    Listen,
    Pause,
    Press,
    Speak,
    TwilioSimulator,
    UntilPlayed,
)
from tests.telephony.conftest import CLOSED_NUMBER, OPEN_NUMBER, record_of, run

pytestmark = pytest.mark.slow
MENU = "예약은"  # how the Korean menu prompt begins


def _prompts(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in record["events"] if e["kind"] == "turn" and e["speaker"] == "system"]


def _line(record: dict[str, Any], starts: str) -> dict[str, Any]:
    return next(e["data"] for e in _prompts(record) if e["text"].startswith(starts))


def test_0_over_the_disclosure_cuts_it_and_the_menu_is_never_played(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([Pause(1.0), Press("0"), Listen()], to=OPEN_NUMBER))
    record = record_of(running, call)
    assert call.dialed and record["outcome"] == "transferred"
    disclosure = _line(record, "한빛")
    assert disclosure["heard"] == "cut" and disclosure["cut_by"] == "key"
    assert 0.3 < disclosure["played_s"] < 2.5 and disclosure["of_s"] > 3
    menu = _line(record, MENU)
    assert menu["heard"] == "never" and menu["played_s"] == 0 and menu["cut_by"] == "transfer"
    assert [p["text"] for p in _prompts(record) if p["data"].get("heard") != "never"][:1] == [
        record["events"][0]["text"]]  # nothing but the disclosure reached the caller's ear


def test_barge_in_over_the_menu_records_how_much_of_it_was_heard(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    steps = [UntilPlayed("disclosure"), Pause(1.5), Speak(voice.render("시간", "ko")), Listen(), HangUp()]
    call = run(twilio.call(steps, to=OPEN_NUMBER))
    record = record_of(running, call)
    assert call.cleared >= 1
    assert _line(record, "한빛")["heard"] == "full"
    menu = _line(record, MENU)
    assert menu["heard"] == "cut" and menu["cut_by"] == "barge-in"
    assert 0.8 < menu["played_s"] < 3.5 < menu["of_s"]  # (1.5 s pause; room for a loaded machine)


def test_a_hang_up_mid_prompt_cuts_it_where_the_caller_left(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([UntilPlayed("disclosure"), Pause(1.0), HangUp()], to=OPEN_NUMBER))
    record = record_of(running, call)
    menu = _line(record, MENU)
    assert menu["heard"] == "cut" and menu["cut_by"] == "hang-up" and 0.3 < menu["played_s"] < 2.5
    assert record["outcome"] == "hung up" and not call.dialed


@pytest.mark.parametrize("connect_action", ["after", "before", "none"])
def test_a_hang_up_during_the_disclosure_is_an_early_hang_up_not_a_fault(
        twilio: TwilioSimulator, running: RunningGateway, connect_action: str) -> None:
    # Twilio may request the <Connect action> (CallStatus=completed) after the stream's stop,
    # before it (the request overtaking the stop), or not at all: the record is the same.
    call = run(twilio.call([Pause(2.0), HangUp(connect_action)], to=OPEN_NUMBER))
    record = record_of(running, call)
    assert record["outcome"] == "hung up" and record["transfer_reason"] is None
    assert not call.dialed and not [e for e in record["events"] if e["kind"] in ("fault", "transfer")]
    connect = [doc for url, doc in call.documents if url.endswith("/twilio/connected")]
    assert len(connect) == (0 if connect_action == "none" else 1)
    assert all("<Hangup" in doc and "<Dial" not in doc for doc in connect)
    disclosure = _line(record, "한빛")
    assert disclosure["heard"] == "cut" and disclosure["cut_by"] == "hang-up"
    assert 1.0 < disclosure["played_s"] < 3.0  # (2 s pause; room for a loaded machine)
    assert _line(record, MENU)["heard"] == "never"
    assert record["disclosure_done_s"] is None  # it never finished: not counted as heard


@pytest.mark.parametrize(("number", "key", "last_prompt", "outcome"), [
    (OPEN_NUMBER, "1", "예약을 위해 상담원에게 연결합니다", "transferred"),  # booking: "connecting you"
    (CLOSED_NUMBER, "0", "지금은 영업시간이 아닙니다", "voicemail"),  # closed: the voicemail line
])
def test_a_stream_lost_during_the_last_prompt_still_dials_or_records(
        twilio: TwilioSimulator, running: RunningGateway, number: str, key: str, last_prompt: str,
        outcome: str) -> None:
    steps = [UntilPlayed("disclosure"), Press(key), Pause(0.5), DropStream()]
    call = run(twilio.call(steps, to=number, dial=DialPlan(["completed"])))
    record = record_of(running, call)
    # The <Connect action> carries out what was decided: never an empty <Response/> (a hang-up).
    assert (call.dialed if outcome == "transferred" else call.recorded), call.log
    assert record["outcome"] == outcome and not [e for e in record["events"] if e["kind"] == "fault"]
    last = _line(record, last_prompt)
    assert last["heard"] == "cut" and last["cut_by"] == "stream lost"
