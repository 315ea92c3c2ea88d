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


def test_answer_opens_the_stream_at_once() -> None:
    assert BUILD.answer("plumbing") == (
        HEAD + '<Response>'
        '<Connect action="https://ivr.example.com/twilio/connected">'
        '<Stream url="wss://ivr.example.com/twilio/media"><Parameter name="flow" value="plumbing" />'
        '</Stream></Connect></Response>')


def test_without_a_stream_the_disclosure_comes_first_then_a_person() -> None:
    disclosure = ev.PlayPrompt("This is automated. Say agent or press 0.", "disclosure", language="en-US")
    fault = [ev.PlayPrompt("Something went wrong.", "p1", language="en-US"), ev.HandOver(DESK, "fault", "x")]
    assert BUILD.disclosure_then(disclosure, fault) == (
        HEAD + '<Response>'
        '<Gather action="https://ivr.example.com/twilio/key" actionOnEmptyResult="false" input="dtmf" '
        'numDigits="1" timeout="1"><Say language="en-US">This is automated. Say agent or press 0.</Say>'
        '</Gather><Say language="en-US">Something went wrong.</Say>'
        '<Dial action="https://ivr.example.com/twilio/dial-status?attempt=0" answerOnBridge="true" '
        'timeout="20"><Number url="https://ivr.example.com/twilio/whisper?attempt=0">+15550001</Number>'
        '<Number url="https://ivr.example.com/twilio/whisper?attempt=0">+15550002</Number></Dial></Response>')


def test_the_whisper_speaks_the_staffs_language_and_names_its_attempt() -> None:
    twiml = BUILD.whisper("고객이 상담원을 요청했습니다.", "ko-KR", attempt=1)
    assert twiml == (
        HEAD + '<Response><Gather action="https://ivr.example.com/twilio/whisper-answer?attempt=1" '
        'actionOnEmptyResult="true" input="dtmf" numDigits="1" timeout="6">'
        '<Say language="ko-KR">고객이 상담원을 요청했습니다. 받으시려면 1번을 누르세요.</Say></Gather>'
        '<Hangup /></Response>')


def test_in_order_ringing_dials_one_number_per_attempt() -> None:
    twiml = BUILD.actions([ev.HandOver(ON_CALL, "emergency", "x")], attempt=1)
    assert "+15550010" in twiml and "+15550009" not in twiml and "attempt=1" in twiml


def test_voicemail_records_with_a_transcription_callback() -> None:
    twiml = BUILD.actions([ev.PlayPrompt("Leave a message.", "p1", language="en-US"),
                           ev.TakeMessage(60, "We call back by 9.")])
    assert twiml == (
        HEAD + '<Response><Say language="en-US">Leave a message.</Say>'
        '<Record action="https://ivr.example.com/twilio/recorded" maxLength="60" playBeep="true" '
        'recordingStatusCallback="https://ivr.example.com/twilio/recording" '
        'recordingStatusCallbackEvent="completed" timeout="5" /></Response>')


def test_recorded_prompts_are_played_from_our_audio_route() -> None:
    twiml = BUILD.actions([ev.PlayPrompt("Hi", "p1", audio="audio/hello.mp3"), ev.EndCall()])
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


@pytest.mark.parametrize(("status", "bridged", "accepted", "taken"), [
    ("completed", "true", True, True),
    ("completed", "false", False, False),  # declined whisper, reported as completed
    ("completed", "false", True, False),  # pressed 1, but the caller was gone before the bridge
    ("completed", "", False, False),  # no DialBridged: the whisper was not accepted here
    ("completed", "", True, True),
    ("answered", "", True, True),
    ("no-answer", "", False, False),
    ("busy", "false", False, False),
    ("canceled", "", True, False),
])
def test_a_transfer_counts_as_taken_only_when_bridged_or_accepted(
        status: str, bridged: str, accepted: bool, taken: bool) -> None:
    from ivr.telephony.twilio.webhooks import transfer_taken

    assert transfer_taken(status, bridged, accepted) is taken
