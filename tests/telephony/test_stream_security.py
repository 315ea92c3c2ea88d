"""A media stream belongs to its call: the handshake's signature covers a URL that is the same
for every call, so a stream must also carry its call's token, and a call held by one stream is
never handed to a second one. Probed as an attacker would, against the real gateway."""

from __future__ import annotations

import asyncio
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from testkit.local_gateway import RunningGateway
from testkit.twilio_simulator import (
    HangUp,
    Listen,
    Press,
    SimulatedCall,
    Step,
    Then,
    TwilioSimulator,
    UntilPlayed,
)
from tests.telephony.conftest import CLOSED_NUMBER, OPEN_NUMBER, record_of, run

pytestmark = pytest.mark.slow


def _stream_of(call: SimulatedCall) -> tuple[str, str]:
    """The stream URL and the token Twilio was told, as an eavesdropper on a start message has."""
    answer = ET.fromstring(call.documents[0][1])
    stream = answer.find("Connect/Stream")
    assert stream is not None
    token = next(p.attrib["value"] for p in stream.findall("Parameter") if p.attrib["name"] == "token")
    return stream.attrib["url"], token


async def _attach(twilio: TwilioSimulator, url: str, sid: str, token: str | None) -> dict[str, Any]:
    """Open a correctly signed handshake, claim call `sid`, press 0; what did the gateway do?"""
    seen: dict[str, Any] = {"closed": False, "media": 0}
    async with connect(url, additional_headers={"X-Twilio-Signature": twilio.sign(url, {})},
                       proxy=None) as ws:
        params = {"flow": "korean_open", **({"token": token} if token is not None else {})}
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(json.dumps({"event": "start", "streamSid": "MZevil", "start": {
            "streamSid": "MZevil", "callSid": sid, "customParameters": params, "tracks": ["inbound"]}}))
        await ws.send(json.dumps({"event": "dtmf", "streamSid": "MZevil", "dtmf": {"digit": "0"}}))
        try:
            async with asyncio.timeout(5):
                async for message in ws:
                    seen["media"] += json.loads(message).get("event") == "media"
        except ConnectionClosed:
            pass
        seen["closed"] = True
    return seen


@pytest.mark.parametrize("token", ["forged", "replayed"])
def test_a_second_stream_cannot_take_over_a_live_call(
        twilio: TwilioSimulator, running: RunningGateway, token: str,
        caplog: pytest.LogCaptureFixture) -> None:
    attacks: dict[str, Any] = {}

    async def attack(call: SimulatedCall) -> list[Step]:
        url, real = _stream_of(call)
        attacks["seen"] = await _attach(twilio, url, call.sid, real if token == "replayed" else "0" * 32)
        return [Press("3"), Listen(), HangUp()]

    call = run(twilio.call([UntilPlayed("disclosure"), Then(attack)], to=OPEN_NUMBER))
    record = record_of(running, call)
    assert attacks["seen"]["closed"] and attacks["seen"]["media"] == 0  # refused at its start
    assert not call.dialed and record["outcome"] == "answered" and record["transfer_reason"] is None
    keys = [e["text"] for e in record["events"] if e["kind"] == "turn" and e["speaker"] == "caller"]
    assert keys == ["[key 3]"]  # the caller's own key went through; the attacker's 0 did not
    reason = "its token does not match" if token == "forged" else "another stream holds the call"
    assert any(reason in r.getMessage() for r in caplog.records), caplog.text


def test_a_stream_without_a_token_never_touches_the_call(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    seen: dict[str, Any] = {}

    async def attack(call: SimulatedCall) -> list[Step]:
        url, _ = _stream_of(call)
        seen.update(await _attach(twilio, url, call.sid, None))
        return [Listen(), HangUp()]

    call = run(twilio.call([UntilPlayed("disclosure"), Then(attack)], to=OPEN_NUMBER))
    assert seen["closed"] and not call.dialed
    assert record_of(running, call)["outcome"] == "hung up"


def test_every_call_gets_its_own_stream_token(twilio: TwilioSimulator) -> None:
    first = run(twilio.call([HangUp()], to=OPEN_NUMBER))
    second = run(twilio.call([HangUp()], to=OPEN_NUMBER))
    (url1, token1), (url2, token2) = _stream_of(first), _stream_of(second)
    assert url1 == url2 and token1 != token2 and re.fullmatch(r"[0-9a-f]{32}", token1)


def test_a_replayed_recording_callback_keeps_one_voicemail_and_one_call_back(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    import os
    import stat
    import time

    import httpx

    call = run(twilio.call([Listen(), Press("0"), Listen()], to=CLOSED_NUMBER))
    assert call.recorded
    assert any(line.endswith("/twilio/recording -> 204") for line in call.log)
    url = f"{running.base_url}/twilio/recording"
    params = {"CallSid": call.sid, "AccountSid": "ACsimulated", "From": "+15550001234",
              "To": CLOSED_NUMBER, "Direction": "inbound", "CallStatus": "in-progress",
              "RecordingSid": _recording_sid(running, call), "RecordingUrl": twilio.recording_url,
              "RecordingDuration": "4", "RecordingStatus": "completed"}
    for _ in range(3):  # Twilio's retry, and a replay of the signed request
        reply = httpx.post(url, data=params, headers={"X-Twilio-Signature": twilio.sign(url, params)})
        assert reply.status_code == 204
    time.sleep(2)
    running.gateway.store.drain()
    record = record_of(running, call)
    assert len(record["voicemails"]) == 1 and len(record["callbacks"]) == 1
    path = record["voicemails"][0]["audio_path"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # a caller's voice: the gateway's alone
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def _recording_sid(running: RunningGateway, call: SimulatedCall) -> str:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = record_of(running, call)
        if record["voicemails"]:
            return str(record["voicemails"][0]["recording_sid"])
        time.sleep(0.2)
    raise AssertionError("the voicemail never arrived")


def test_a_stream_that_never_says_start_is_closed_within_seconds(
        twilio: TwilioSimulator, running: RunningGateway) -> None:
    import time

    url = running.settings.stream_url()

    async def silent() -> float:
        started = time.monotonic()
        async with connect(url, additional_headers={"X-Twilio-Signature": twilio.sign(url, {})},
                           proxy=None) as ws:
            try:
                async with asyncio.timeout(15):
                    async for _ in ws:
                        pass
            except ConnectionClosed:
                pass
        return time.monotonic() - started

    assert run(silent()) < 7


def test_an_unsigned_request_is_refused_before_its_body_is_read(
        running: RunningGateway, caplog: pytest.LogCaptureFixture) -> None:
    import socket
    import time

    host, port = "127.0.0.1", running.settings.port
    with socket.create_connection((host, port), timeout=5) as sock:
        # A billion bytes announced, none sent: the answer must not wait for them.
        sock.sendall(b"POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/x-www-form-urlencoded\r\nContent-Length: 1000000000\r\n\r\n")
        started = time.monotonic()
        answer = sock.recv(200)
    assert answer.startswith(b"HTTP/1.1 403") and time.monotonic() - started < 2
    assert any("unsigned request to /twilio/voice" in r.getMessage() for r in caplog.records)
