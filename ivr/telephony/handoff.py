"""The handoff record: why the caller is being handed over, for the person and their tools.

Available as JSON at a per-call URL (with an unguessable token), and POSTed to the business's
own webhook when one is configured (CRM screen-pop), signed with HMAC-SHA256 so the receiver
can trust it: header `X-IVR-Signature: sha256=<hex of HMAC(secret, body)>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import httpx

from ivr.flow import events as ev
from ivr.telephony.calls import LiveCall
from ivr.telephony.gateway import Gateway

log = logging.getLogger(__name__)


def handoff_token(secret: str, sid: str) -> str:
    """The token in a call's handoff URL: only someone with the secret can make it."""
    return hmac.new(secret.encode(), f"handoff:{sid}".encode(), hashlib.sha256).hexdigest()[:32]


def sign_body(secret: str, body: bytes) -> str:
    """Value of the X-IVR-Signature header for a webhook body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def handoff_record(gateway: Gateway, call: LiveCall) -> dict[str, Any]:
    """Reason, signals, what the caller said and where they were in the flow."""
    state = call.state
    transfer = call.decision if isinstance(call.decision, ev.HandOver) else None
    said = state.caller_said()
    secret = gateway.settings.handoff_secret_value()
    return {
        "call_sid": call.sid,
        "flow": call.flow_name,
        "business": call.flow.name,
        "caller": state.caller,
        "started_at": state.started_at.isoformat() if state.started_at else None,
        "step": state.step,
        "reason": state.transfer_reason,
        "summary": transfer.summary if transfer else None,
        "signals": [str(s) for s in state.signals],
        "caller_said": said,
        "people": {"group": transfer.people.group, "label": transfer.people.label,
                   "numbers": list(transfer.people.numbers)} if transfer else None,
        "url": f"{gateway.settings.base_url()}/handoff/{call.sid}?token={handoff_token(secret, call.sid)}",
    }


async def post_handoff(gateway: Gateway, call: LiveCall) -> None:
    """Send the handoff record to the configured webhook; failures are logged, never fatal."""
    url = gateway.settings.handoff_webhook
    if not url:
        return
    body = json.dumps(handoff_record(gateway, call), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json",
               "X-IVR-Signature": sign_body(gateway.settings.handoff_secret_value(), body)}
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            reply = await client.post(url, content=body, headers=headers)
        call.note("handoff", f"handoff webhook answered {reply.status_code}")
    except httpx.HTTPError as exc:
        log.warning("call %s: handoff webhook failed: %s", call.sid, exc)
        call.note("handoff", f"handoff webhook failed: {exc}")
