"""TwiML for each engine action, exactly; and signature checks with the SDK's validator."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from ivr.errors import SignatureError
from ivr.flow import events as ev
from ivr.telephony.twilio.signature import TwilioSignatures
from ivr.telephony.twilio.twiml import TwimlBuilder

BUILD = TwimlBuilder("https://ivr.example.com", "wss://ivr.example.com/twilio/media")
DESK = ev.Person("desk", "the desk", ("+15550001", "+15550002"), "simultaneous", 20)
ON_CALL = ev.Person("on_call", "on call", ("+15550009", "+15550010"), "in_order", 25)
HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


def test_answer_puts_the_disclosure_first_then_the_stream_then_a_person() -> None:
    disclosure = ev.Say("This is automated. Say agent or press 0.", "disclosure", language="en-US")
    fallback = ev.Transfer(DESK, "fault", "x")
    assert BUILD.answer(disclosure, "plumbing", fallback) == (
        HEAD + '<Response>'
        '<Gather action="https://ivr.example.com/twilio/key" actionOnEmptyResult="false" input="dtmf" '
        'numDigits="1" timeout="1"><Say language="en-US">This is automated. Say agent or press 0.</Say>'
        '</Gather>'
        '<Connect action="https://ivr.example.com/twilio/connected">'
        '<Stream url="wss://ivr.example.com/twilio/media"><Parameter name="flow" value="plumbing" />'
        '</Stream></Connect>'
        '<Dial action="https://ivr.example.com/twilio/dial-status?attempt=0" answerOnBridge="true" '
        'timeout="20"><Number url="https://ivr.example.com/twilio/whisper">+15550001</Number>'
        '<Number url="https://ivr.example.com/twilio/whisper">+15550002</Number></Dial></Response>')


def test_in_order_ringing_dials_one_number_per_attempt() -> None:
    twiml = BUILD.actions([ev.Transfer(ON_CALL, "emergency", "x")], attempt=1)
    assert "+15550010" in twiml and "+15550009" not in twiml and "attempt=1" in twiml


def test_voicemail_records_with_a_transcription_callback() -> None:
    twiml = BUILD.actions([ev.Say("Leave a message.", "p1", language="en-US"),
                           ev.Voicemail(60, "We call back by 9.")])
    assert twiml == (
        HEAD + '<Response><Say language="en-US">Leave a message.</Say>'
        '<Record action="https://ivr.example.com/twilio/recorded" maxLength="60" playBeep="true" '
        'recordingStatusCallback="https://ivr.example.com/twilio/recording" '
        'recordingStatusCallbackEvent="completed" timeout="5" /></Response>')


def test_recorded_prompts_are_played_from_our_audio_route() -> None:
    twiml = BUILD.actions([ev.Say("Hi", "p1", audio="audio/hello.mp3"), ev.Hangup()])
    assert '<Play>https://ivr.example.com/audio/hello.mp3</Play><Hangup />' in twiml


def test_signatures_are_checked_against_the_public_url() -> None:
    signatures = TwilioSignatures("secret", "https://ivr.example.com/")
    params = {"CallSid": "CA1", "From": "+1"}
    url = signatures.public_url("/twilio/voice", "")
    good = RequestValidator("secret").compute_signature("https://ivr.example.com/twilio/voice", params)
    signatures.check(url, params, good)
    with pytest.raises(SignatureError):
        signatures.check(url, {**params, "From": "+2"}, good)
    with pytest.raises(SignatureError):
        signatures.check(url, params, None)
    assert signatures.public_url("/twilio/media", "", scheme="ws") == "wss://ivr.example.com/twilio/media"


def test_no_token_no_gateway() -> None:
    with pytest.raises(SignatureError, match="TWILIO_AUTH_TOKEN"):
        TwilioSignatures("", "https://x")
