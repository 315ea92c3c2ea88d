"""An instance too loaded to recognise a caller's words in time hands the caller to a person
instead of leaving them in silence. Through the real gateway: the caller's audio goes through
the voice gate and to the speech threads, which other work holds (as other callers' decoding
would on an overloaded machine)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from ivr.audio.render import PromptRenderer
from ivr.speech.busy import BusySignal
from ivr.speech.pool import Urgency
from testkit.local_gateway import RunningGateway
from testkit.twilio_simulator import Listen, Speak, TwilioSimulator, UntilPlayed
from tests.telephony.conftest import OPEN_NUMBER, record_of, run
from tests.telephony.test_metrics import _samples, _value

pytestmark = pytest.mark.slow


def test_words_recognition_cannot_reach_in_time_go_to_a_person(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway,
        monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = running.gateway
    monkeypatch.setattr(gateway.settings, "reply_deadline_seconds", 1.5)
    faults = _value(_samples(running), "ivr_faults_total", kind="recognition_overdue")
    let_go = threading.Event()
    holders = [gateway.speech_pool.submit(Urgency.TURN_END, let_go.wait, 60)
               for _ in range(gateway.settings.recognizer_threads)]
    try:
        started = time.monotonic()
        call = run(twilio.call([UntilPlayed("disclosure"), Speak(voice.render("시간", "ko")), Listen()],
                               to=OPEN_NUMBER))
        waited = time.monotonic() - started
        health = httpx.get(f"{running.base_url}/health")  # and it tells the balancer it is full
    finally:
        let_go.set()
        for held in holders:
            held.result(timeout=10)
        gateway.speech_pool.submit(Urgency.BACKGROUND, lambda: None).result(timeout=30)  # the rest ran
        gateway.busy = BusySignal()  # calm again for the tests after this one
    assert call.dialed, call.log  # a person, not silence
    record = record_of(running, call)
    assert record["outcome"] == "transferred" and record["transfer_reason"] == "fault"
    assert any(e["kind"] == "fault" and "behind the caller" in e["text"] for e in record["events"])
    assert _value(_samples(running), "ivr_faults_total", kind="recognition_overdue") == faults + 1
    assert waited < 60  # the person came long before the speech threads were let go
    assert health.status_code == 503 and health.json()["status"] == "busy"


def test_voicemails_being_transcribed_keep_no_callers_words_waiting(running: RunningGateway) -> None:
    """Free-form decoding of long messages on every speech thread: a caller's turn gets a
    thread after the chunk in progress, long before the messages are done (real Vosk)."""
    import asyncio
    import io
    import wave

    from ivr.audio.mulaw import SAMPLE_RATE, ulaw_to_pcm
    from ivr.telephony.twilio.voicemail import transcribe_recording

    gateway = running.gateway
    words = gateway.renderer.render("안녕하세요 영업 시간 예약 상담 원 주소 가격", "ko-KR")
    seconds = 10
    pcm = ulaw_to_pcm(words * (1 + seconds * SAMPLE_RATE // len(words)))[:seconds * SAMPLE_RATE * 2]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm)
    message = buffer.getvalue()

    async def scenario() -> tuple[list[str], list[str]]:
        order: list[str] = []

        async def transcribed(i: int) -> str:
            text = await transcribe_recording(gateway, "ko-KR", message)
            order.append(f"message {i}")
            return text

        cpu = _value(_samples(running), "ivr_recognizer_cpu_seconds_total")
        messages = [asyncio.create_task(transcribed(i)) for i in range(gateway.settings.recognizer_threads)]
        while _value(_samples(running), "ivr_recognizer_cpu_seconds_total") < cpu + 0.3:
            await asyncio.sleep(0.05)  # decoding is under way on the speech threads
        await gateway.run_speech(order.append, "caller's turn", urgency=Urgency.TURN_END)
        texts = await asyncio.gather(*messages)
        return order, texts

    order, texts = asyncio.run(scenario())
    assert order[0] == "caller's turn", order
    assert all(texts), "the messages were transcribed all the same"
