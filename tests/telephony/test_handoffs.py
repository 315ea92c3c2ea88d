"""Handoffs callers trust, through the real gateway path with real Vosk (the Korean flow)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from ivr.audio.render import PromptRenderer
from ivr.telephony.handoff import handoff_token
from testkit.local_gateway import RunningGateway
from testkit.twilio_simulator import DialPlan, Listen, Speak, TwilioSimulator
from tests.telephony.conftest import (
    CLOSED_NUMBER,
    HANDOFF_SECRET,
    OPEN_NUMBER,
    RELAY_DESK,
    RELAY_NUMBER,
    handoffs_received,
    record_of,
    run,
    scaled,
)

pytestmark = pytest.mark.slow
DESK, OWNER = ["+8225550311"], ["+8210555503"]


def _system_turns(record: dict[str, object]) -> list[str]:
    return [e["text"] for e in record["events"]  # type: ignore[attr-defined, index]
            if e["kind"] == "turn" and e["speaker"] == "system"]


def test_angry_caller_is_handed_over_on_the_first_clear_signal(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    call = run(twilio.call([Listen(), Speak(voice.render("몇 번", "ko-KR")), Listen()], to=OPEN_NUMBER))
    assert call.dialed == [DESK]
    # Staff of a Korean flow hear the summary in Korean, and it is spoken as Korean.
    assert call.whispers[0].startswith("고객이 불편을 겪고 있습니다 ('몇 번' 라고 말함)")
    assert call.whispers[0].endswith("받으시려면 1번을 누르세요.")
    whisper = next(doc for url, doc in call.documents if "/twilio/whisper?" in url)
    assert 'language="ko-KR"' in whisper
    record = record_of(running, call)
    assert record["transfer_reason"] == "distress" and record["answered_by"] == DESK[0]
    assert record["signals"] == ["distress: said '몇 번'"]


def test_shouting_caller_is_handed_over(twilio: TwilioSimulator, voice: PromptRenderer,
                                        running: RunningGateway) -> None:
    quiet = {w: scaled(voice.render(w, "ko-KR"), -8) for w in ("시간", "네")}
    loud = scaled(voice.render("예약", "ko-KR"), 6)  # ~13 dB over the first two answers
    steps = [Listen(), Speak(quiet["시간"]), Listen(), Speak(quiet["네"]), Listen(), Speak(loud), Listen()]
    call = run(twilio.call(steps, to=OPEN_NUMBER))
    record = record_of(running, call)
    assert record["transfer_reason"] == "distress", record["events"]
    assert "shouting" in record["signals"][-1] and "고함" in record["summary"]


def test_shouting_from_the_second_utterance_is_distress_not_a_miss(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    calm = scaled(voice.render("시간", "ko-KR"), -10)
    loud = [scaled(voice.render(w, "ko-KR"), 5) for w in ("네", "예약")]  # 15 dB over the first
    steps = [Listen(), Speak(calm), Listen(), Speak(loud[0]), Listen(), Speak(loud[1]), Listen()]
    call = run(twilio.call(steps, to=OPEN_NUMBER))
    assert call.dialed == [DESK]
    record = record_of(running, call)
    assert record["transfer_reason"] == "distress", record["events"]
    shouting = record["signals"][-1]
    assert shouting.startswith("distress: shouting") and "over their start" in shouting
    assert call.whispers[0].startswith("고객이 불편을 겪고 있습니다 (고함: 처음보다")


def test_shouting_from_the_first_word_is_distress(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    shout = scaled(voice.render("예약", "ko-KR"), 15)  # saturates the line
    call = run(twilio.call([Listen(), Speak(shout), Listen()], to=OPEN_NUMBER))
    record = record_of(running, call)
    assert record["transfer_reason"] == "distress", record["events"]
    assert "shouting" in record["signals"][-1] and "고함" in record["summary"]


def test_saying_the_same_thing_twice_is_a_loop_handed_over(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    hours, yes = voice.render("시간", "ko-KR"), voice.render("네", "ko-KR")
    steps = [Listen(), Speak(hours), Listen(), Speak(yes), Listen(), Speak(hours), Listen()]
    call = run(twilio.call(steps, to=OPEN_NUMBER))
    record = record_of(running, call)
    assert record["transfer_reason"] == "distress"
    assert "같은 말을 두 번" in record["summary"]
    assert call.dialed == [DESK]


def test_emergency_at_night_says_the_safety_line_then_reaches_on_call(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    call = run(twilio.call([Listen(), Speak(voice.render("화재", "ko-KR")), Listen()], to=CLOSED_NUMBER))
    assert call.dialed == [OWNER]
    record = record_of(running, call)
    turns = _system_turns(record)
    safety = turns.index("불이 났다면 모두 대피하고 119에 전화하세요.")
    assert safety < turns.index("[transfer to 원장님: emergency]")
    assert record["transfer_reason"] == "emergency"
    assert any(m.startswith("p") for m in call.marks)  # the safety line played to its end


def test_routine_caller_after_hours_hears_the_hours_and_leaves_a_message(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    call = run(twilio.call([Listen(), Speak(voice.render("예약", "ko-KR")), Listen()], to=CLOSED_NUMBER))
    assert call.dialed == [] and call.recorded
    record = _wait(running, call, "callbacks")
    turns = " ".join(_system_turns(record))
    assert "지금은 영업시간이 아닙니다" in turns and "다음 영업일 오전 11시까지" in turns
    task = record["callbacks"][0]
    assert task["number"] == "+15550001234" and task["done_at"] is None
    assert task["promise"] == "다음 영업일 오전 11시까지 다시 전화드립니다."


@pytest.mark.parametrize(("outcome", "report"), [
    ("declined", "no-answer"),  # the leg reported unanswered
    ("declined", "completed"),  # the person's phone did answer: completed, DialBridged=false
    ("declined", "completed-unbridged-unknown"),  # completed, no DialBridged: the gateway knows
    ("unattended", "completed"),  # the person's own voicemail picked up and pressed nothing
])
def test_an_unaccepted_whisper_goes_on_to_voicemail_never_a_hang_up(
        twilio: TwilioSimulator, running: RunningGateway, outcome: str, report: str) -> None:
    from testkit.twilio_simulator import Press

    call = run(twilio.call([Listen(), Press("0"), Listen()], to=OPEN_NUMBER,
                           dial=DialPlan([outcome], declined_report=report)))
    assert call.whispers and call.dial_reports[0] == DialPlan.REPORTS[report]
    assert call.recorded, call.log  # a message with the call-back promise, not a hang-up
    record = record_of(running, call)
    assert any(e["kind"] == "whisper" and e["text"].startswith("declined") for e in record["events"])
    assert record["outcome"] == "voicemail" and record["answered_by"] is None


def test_an_unaccepted_whisper_rings_the_next_person_in_turn(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    from ivr.audio.mulaw import ulaw_to_pcm
    from testkit.twilio_simulator import Press

    call = run(twilio.call([Listen(), Press("0"), Listen()], to=RELAY_NUMBER,
                           dial=DialPlan(["unattended", "completed"], declined_report="completed")))
    assert call.dialed == [[RELAY_DESK[0]], [RELAY_DESK[1]]]
    assert call.dial_reports[-1] == {"DialCallStatus": "completed", "DialBridged": "true"}
    # en-US staff hear the whisper in the Piper voice, rendered here: exactly these words
    assert call.whispers[-1] == "[audio]" and all(status == 200 for _, status in call.played)
    words = running.gateway.renderer.render(
        "Caller asked for a person at main. Press 1 to take the call.", "en-US")
    assert call.whisper_audio[-1][44:] == ulaw_to_pcm(words)  # (after the WAV header)
    assert not call.recorded and call.ended == "hangup by gateway"  # after the conversation
    record = record_of(running, call)
    assert record["outcome"] == "transferred" and record["answered_by"] == RELAY_DESK[1]


def test_handoff_record_is_posted_signed_and_served_by_token(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    from testkit.twilio_simulator import Press

    def crm() -> list[tuple[dict[str, str], bytes]]:
        return [p for p in handoffs_received() if p[0]["path"] == "/crm"]

    before = len(crm())
    call = run(twilio.call([Listen(), Press("0"), Listen()], to=OPEN_NUMBER))
    deadline = time.monotonic() + 10
    while len(crm()) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    headers, body = crm()[-1]
    expected = "sha256=" + hmac.new(HANDOFF_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-ivr-signature"] == expected
    record = json.loads(body)
    assert record["call_sid"] == call.sid and record["reason"] == "requested"
    assert record["people"]["numbers"] == DESK
    served = httpx.get(f"{running.base_url}/handoff/{call.sid}",
                       params={"token": handoff_token(HANDOFF_SECRET, call.sid)})
    assert served.status_code == 200 and served.json()["summary"] == record["summary"]
    forged = httpx.get(f"{running.base_url}/handoff/{call.sid}", params={"token": "0" * 32})
    assert forged.status_code == 403


def _wait(running: RunningGateway, call: object, key: str) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while True:
        record = record_of(running, call)  # type: ignore[arg-type]
        if record[key] or time.monotonic() > deadline:
            return record
        time.sleep(0.2)


def test_emergency_voicemail_texts_the_on_call_people(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    call = run(twilio.call([Listen(), Speak(voice.render("화재", "ko-KR")), Listen()], to=CLOSED_NUMBER,
                           dial=DialPlan(["no-answer"])))
    assert call.dialed == [OWNER] and call.recorded
    deadline = time.monotonic() + 60  # after a free-form transcription, behind other workers' calls
    texts: list[tuple[dict[str, str], bytes]] = []
    while not texts and time.monotonic() < deadline:
        texts = [p for p in handoffs_received() if p[0]["path"].endswith("/Messages.json")]
        time.sleep(0.2)
    headers, body = texts[-1]
    form = dict(x.split("=", 1) for x in body.decode().split("&"))
    assert form["To"] == "%2B8210555503" and form["From"] == "%2B15550009999"
    assert "Emergency+voicemail" in form["Body"]
    assert headers["path"] == "/2010-04-01/Accounts/AC" + "0" * 32 + "/Messages.json"
