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
from tests.telephony.conftest import OPEN_NUMBER, record_of, run

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
