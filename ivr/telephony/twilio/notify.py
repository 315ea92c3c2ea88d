"""SMS to the on-call people about a new emergency voicemail, through Twilio's REST API.

Configured by IVR_SMS_FROM (a Twilio number) with TWILIO_ACCOUNT_SID and the auth token.
IVR_TWILIO_API_BASE points the SDK at another address; tests use it for a local fake.
"""

from __future__ import annotations

import logging
from typing import Any

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ivr.telephony.calls import LiveCall
from ivr.telephony.gateway import Gateway

log = logging.getLogger(__name__)
TWILIO_API = "https://api.twilio.com"


class _RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's own HTTP client, sending to another base URL (a test fake, a proxy)."""

    def __init__(self, base: str) -> None:
        super().__init__(timeout=10)
        self.base = base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        return super().request(method, url.replace(TWILIO_API, self.base, 1), *args, **kwargs)


def sms_client(gateway: Gateway) -> Client | None:
    settings = gateway.settings
    if not (settings.sms_from and settings.twilio_account_sid):
        return None
    http = _RebasedHttpClient(settings.twilio_api_base) if settings.twilio_api_base else None
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http)


def notify_emergency_voicemail(gateway: Gateway, call: LiveCall, transcript: str) -> int:
    """Text every on-call number; returns how many messages were accepted. Runs off the loop."""
    client = sms_client(gateway)
    if client is None:
        return 0
    flow = call.flow
    group = flow.people[flow.routing.emergency]
    body = (f"Emergency voicemail for {flow.name} from {call.state.caller}: "
            f"{transcript or '(no transcript)'} - nobody answered the transfer.")[:600]
    sent = 0
    for number in group.numbers:
        try:
            client.messages.create(to=number, from_=gateway.settings.sms_from, body=body)
            sent += 1
        except Exception:  # the SDK raises its own and requests' errors; a text is best effort
            log.exception("call %s: SMS to %s failed", call.sid, number)
    return sent
