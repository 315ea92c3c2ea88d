"""Prometheus metrics after real calls through the gateway: the names operators' dashboards and
alerts use, values that moved with the calls, and no caller's number or words in any label."""

from __future__ import annotations

import re

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ivr.audio.render import PromptRenderer
from testkit.local_gateway import RunningGateway
from testkit.twilio_simulator import HangUp, Listen, Press, Speak, TwilioSimulator, UntilPlayed
from tests.telephony.conftest import OPEN_NUMBER, run

pytestmark = pytest.mark.slow
CALLER = "+15550009876"


def _samples(running: RunningGateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = httpx.get(f"{running.base_url}/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_with_real_calls_and_carry_no_caller_data(
        twilio: TwilioSimulator, voice: PromptRenderer, running: RunningGateway) -> None:
    before = _samples(running)
    key = run(twilio.call([UntilPlayed("disclosure"), Press("0"), Listen()], to=OPEN_NUMBER, caller=CALLER))
    spoken = run(twilio.call([UntilPlayed("disclosure"), Speak(voice.render("시간", "ko")), Listen(),
                              HangUp()], to=OPEN_NUMBER, caller=CALLER))
    assert key.dialed and spoken.turn_latencies
    after = _samples(running)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("ivr_calls_total", outcome="transferred", reason="requested") == 1
    assert grew("ivr_calls_total", outcome="answered", reason="") == 1
    assert grew("ivr_time_to_person_seconds_count", reason="requested") == 1
    assert grew("ivr_key_decision_seconds_count") == 1
    assert grew("ivr_turn_seconds_count") >= 1
    assert grew("ivr_turn_seconds_sum") / grew("ivr_turn_seconds_count") < 2.0
    assert grew("ivr_webhook_seconds_count", route="/twilio/voice") == 2
    assert grew("ivr_webhook_seconds_count", route="/twilio/connected") >= 1
    assert grew("ivr_recognizer_cpu_seconds_total") > 0
    assert grew("ivr_speech_wait_seconds_count", urgency="turn_end") >= 1
    assert grew("ivr_db_write_lag_seconds_count") > 0
    assert _value(after, "ivr_calls_in_progress") >= 0
    assert ("ivr_speech_queue_depth", ()) in after
    assert ("ivr_faults_total", (("kind", "webhook"),)) not in after
    text = httpx.get(f"{running.base_url}/metrics").text
    assert CALLER not in text and "시간" not in text  # labels are outcomes, routes and kinds only
    assert not re.search(r'\{[^}]*"\+?\d{7,}"', text)


def test_a_fault_is_counted_by_kind(twilio: TwilioSimulator, running: RunningGateway) -> None:
    before = _samples(running)
    call = run(twilio.call([], to=OPEN_NUMBER, stream_down=True))
    assert call.dialed
    after = _samples(running)
    kind = (("kind", "stream_never_started"),)
    assert after[("ivr_faults_total", kind)] - before.get(("ivr_faults_total", kind), 0) == 1


def test_an_instance_whose_recognition_queues_says_busy_and_then_ok_again(running: RunningGateway) -> None:
    """Real decoding, more than the speech threads can do at once: free-form Vosk over 2 s of
    speech costs most of a CPU-second, and eight callers finish speaking at the same moment."""
    import asyncio
    import time

    from ivr.audio.mulaw import ulaw_to_pcm
    from ivr.speech.endpointing import Begin, Finish, run_work
    from ivr.speech.pool import Urgency

    gateway = running.gateway
    words = gateway.renderer.render("안녕하세요 영업 시간 예약 상담 원 주소 가격", "ko-KR")
    speech = ulaw_to_pcm((words * 4)[:8000 * 2])

    def decode() -> None:
        recognizer = gateway.recognizer("ko-KR")
        assert recognizer is not None
        run_work(recognizer, Begin(speech), None)
        run_work(recognizer, Finish(b""), None)

    async def finals_at_once() -> None:
        await asyncio.gather(*(gateway.run_speech(decode, urgency=Urgency.TURN_END) for _ in range(8)))

    assert httpx.get(f"{running.base_url}/health").status_code == 200
    cpu_before = _value(_samples(running), "ivr_recognizer_cpu_seconds_total")
    asyncio.run(finals_at_once())  # on the gateway's own speech threads
    decoded = _value(_samples(running), "ivr_recognizer_cpu_seconds_total") - cpu_before
    assert decoded > 1.5, f"only {decoded:.2f} CPU-s of decoding: the load was not real"
    health = httpx.get(f"{running.base_url}/health")
    assert health.status_code == 503 and health.json()["status"] == "busy"
    assert _value(_samples(running), "ivr_busy") == 1
    deadline = time.monotonic() + 20
    while httpx.get(f"{running.base_url}/health").status_code != 200:  # calm for 5 s: ok again
        assert time.monotonic() < deadline, "the instance stayed busy"
        time.sleep(0.5)
    assert _value(_samples(running), "ivr_busy") == 0


def test_with_the_busy_signal_off_a_queueing_instance_stays_ok(running: RunningGateway) -> None:
    import asyncio
    import time

    from ivr.speech.busy import BusySignal
    from ivr.speech.pool import Urgency

    gateway = running.gateway
    saved = gateway.settings
    gateway.settings = saved.model_copy(update={"busy_signal": False})  # IVR_BUSY_SIGNAL=false
    try:
        async def flood() -> None:
            await asyncio.gather(*(gateway.run_speech(time.sleep, 0.4, urgency=Urgency.LIVE)
                                   for _ in range(8)))

        asyncio.run(flood())
        assert gateway.busy.busy()  # recognition did queue
        assert httpx.get(f"{running.base_url}/health").status_code == 200
        assert _value(_samples(running), "ivr_busy") == 0
    finally:
        gateway.settings = saved
        gateway.busy = BusySignal()  # calm again for the tests after this one
