"""Twilio Media Streams messages <-> neutral events, from recorded-shape messages."""

from __future__ import annotations

import base64
import json

from ivr.telephony import media as m
from ivr.telephony.twilio.codec import OUTBOUND_CHUNK_BYTES, TwilioMediaCodec

START = {"event": "start", "sequenceNumber": "1", "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0",
         "start": {"accountSid": "AC123", "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0",
                   "callSid": "CA123", "tracks": ["inbound"],
                   "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                   "customParameters": {"flow": "plumbing"}}}
MEDIA = {"event": "media", "sequenceNumber": "3", "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0",
         "media": {"track": "inbound", "chunk": "1", "timestamp": "5",
                   "payload": base64.b64encode(b"\x7f" * 160).decode()}}


def test_inbound_messages_become_events() -> None:
    codec = TwilioMediaCodec()
    assert codec.decode(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})) \
        == m.Ignored("connected")
    assert codec.decode(json.dumps(START)) == m.StreamStarted(
        "CA123", "MZ18ad3ab5a668481ce02b83e7395059f0", {"flow": "plumbing"})
    assert codec.decode(json.dumps(MEDIA)) == m.Audio(b"\x7f" * 160, 5)
    assert codec.decode('{"event":"dtmf","streamSid":"MZ1","dtmf":{"track":"inbound_track","digit":"0"}}') \
        == m.Key("0")
    assert codec.decode('{"event":"mark","streamSid":"MZ1","mark":{"name":"p1#1"}}') == m.MarkPlayed("p1#1")
    stop = '{"event":"stop","streamSid":"MZ1","stop":{"callSid":"CA123"}}'
    assert codec.decode(stop) == m.StreamStopped(hung_up=True)  # the call is over


def test_garbage_is_ignored_with_a_reason_never_raised() -> None:
    codec = TwilioMediaCodec()
    cases = {
        "{not json": "not JSON", b"\xff\xfe": "not JSON", "[1, 2]": "not a JSON object",
        '{"event": "nope"}': "unknown event 'nope'",
        '{"event": "media", "media": {"payload": "@@@"}}': "malformed media message",
        '{"event": "start"}': "malformed start message",
        '{"event": "dtmf", "dtmf": {"digit": "11"}}': "malformed dtmf message",
        "x" * 70_000: "oversized message",
    }
    for raw, why in cases.items():
        event = codec.decode(raw)
        assert isinstance(event, m.Ignored) and event.why.startswith(why), (raw[:20], event)


def test_outbound_messages_carry_the_stream_sid() -> None:
    codec = TwilioMediaCodec()
    codec.decode(json.dumps(START))
    audio = b"\x01" * (OUTBOUND_CHUNK_BYTES + 10)
    media = [json.loads(x) for x in codec.media(audio)]
    assert len(media) == 2
    assert all(x["event"] == "media" and x["streamSid"] == START["streamSid"] for x in media)
    assert b"".join(base64.b64decode(x["media"]["payload"]) for x in media) == audio
    assert json.loads(codec.mark("p2#7")) == {"event": "mark", "streamSid": START["streamSid"],
                                              "mark": {"name": "p2#7"}}
    assert json.loads(codec.clear()) == {"event": "clear", "streamSid": START["streamSid"]}
