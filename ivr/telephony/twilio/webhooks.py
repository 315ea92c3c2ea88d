"""Twilio's HTTP side: voice webhook, callbacks and the media-stream websocket, all signed.

Every handler ends in TwiML that keeps the caller moving: a prompt, a person, a message or a
goodbye. Nothing here decides what to say; the engine does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, WebSocket
from fastapi.routing import APIRoute

from ivr.errors import SignatureError
from ivr.flow import events as ev
from ivr.flow.engine import people_to_ring
from ivr.flow.prompts import builtin
from ivr.store.calls import utcnow
from ivr.telephony.calls import LiveCall
from ivr.telephony.gateway import Gateway
from ivr.telephony.handoff import post_handoff
from ivr.telephony.stream import pump_media_stream
from ivr.telephony.twilio.codec import TwilioMediaCodec
from ivr.telephony.twilio.signature import TwilioSignatures
from ivr.telephony.twilio.twiml import TwimlBuilder, whisper_text
from ivr.telephony.twilio.voicemail import transcribe_voicemail

log = logging.getLogger(__name__)
FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
ANSWERED = {"completed", "answered"}


def _xml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


def _decision(actions: list[ev.Action]) -> ev.HandOver | ev.TakeMessage | ev.EndCall | None:
    return next((a for a in actions if isinstance(a, (ev.HandOver, ev.TakeMessage, ev.EndCall))), None)


def twilio_router(gateway: Gateway, signatures: TwilioSignatures, twiml: TwimlBuilder) -> APIRouter:
    """The /twilio/* routes, bound to one gateway."""
    router = APIRouter(prefix="/twilio", route_class=_FallThroughRoute)

    async def signed(request: Request) -> dict[str, str]:
        if not request.headers.get("x-twilio-signature"):  # refused before its body is read
            log.warning("unsigned request to %s from %s refused", request.url.path,
                        request.client.host if request.client else "?")
            raise HTTPException(status_code=403, detail="invalid Twilio signature")
        form = await request.form()
        params = {k: str(v) for k, v in form.items()}
        url = signatures.public_url(request.url.path, request.url.query)
        try:
            signatures.check(url, params, request.headers.get("x-twilio-signature"))
        except SignatureError:
            log.warning("request to %s with a wrong signature refused", request.url.path)
            raise HTTPException(status_code=403, detail="invalid Twilio signature") from None
        request.state.fallback = lambda: _fault_twiml(gateway, twiml, params)
        return params

    async def reply(call: LiveCall, actions: list[ev.Action], attempt: int = 0) -> Response:
        """TwiML for the call's next actions, its prompts in the flow's own voice."""
        await gateway.prepare_prompts(actions, call.flow.voice)
        return _xml(twiml.actions(actions, attempt, voice=call.flow.voice))

    async def call_for(params: dict[str, str], sid_key: str = "CallSid",
                       stream_over: bool = False) -> LiveCall:
        sid = params.get(sid_key, "")
        call = await gateway.load_call(sid, stream_over)
        if call is None:  # no instance has seen it (e.g. a store lost): the caller still moves on
            call = await _new_call(gateway, sid, params)
            call.apply(ev.CallStarted(at=utcnow(), caller=params.get("From", ""), call_id=sid))
        return call

    @router.post("/voice")
    async def voice(request: Request) -> Response:
        params = await signed(request)
        sid = params.get("CallSid", "")
        call = await gateway.load_call(sid) or await _new_call(gateway, sid, params)
        call.pending = call.apply(ev.CallStarted(at=utcnow(), caller=params.get("From", ""), call_id=sid))
        first = call.pending[0]
        assert isinstance(first, ev.PlayPrompt) and first.prompt_id == "disclosure"
        await call.save()  # the stream may open on another instance
        return _xml(twiml.answer(call.flow_name, call.sid))

    @router.post("/key")
    async def key(request: Request) -> Response:
        """A key pressed during the disclosure said by TwiML (the stream had failed)."""
        params = await signed(request)
        call = await call_for(params, stream_over=True)
        if call.decision is not None:  # the caller is already on the way to a person
            return await reply(call, [call.decision])
        digit = params.get("Digits", "")[:1]
        if digit == "0":
            actions = call.apply(ev.Pressed("0", at=utcnow()))
            call.decision = _decision(actions)
            await call.save()
            _note_dial(gateway, call, call.decision)
            return await reply(call, actions)
        call.first_key = digit or None
        await call.save()
        return _xml(twiml.answer(call.flow_name, call.sid))

    @router.post("/connected")
    async def connected(request: Request) -> Response:
        params = await signed(request)
        if params.get("CallStatus", "") in FINAL_STATUSES:
            return await caller_gone(params)
        call = await call_for(params, stream_over=True)
        if call.decision is not None:
            _note_dial(gateway, call, call.decision)
            return await reply(call, [call.decision])
        # The stream broke, never connected, or ended without a decision (its instance died,
        # say): a person takes over, after the disclosure if the caller has not heard it yet.
        detail = "media stream ended without a decision" if call.stream_started else \
            "media stream never started"
        gateway.metrics.faults.labels("stream_ended_undecided" if call.stream_started
                                      else "stream_never_started").inc()
        call.note("fault", detail)
        actions = call.fault(detail)
        call.decision = _decision(actions)
        call.held_by = None
        await call.save()
        _note_dial(gateway, call, call.decision)
        if call.disclosure_heard or call.disclosure is None:
            return await reply(call, actions)
        await gateway.prepare_prompts([call.disclosure, *actions], call.flow.voice)
        return _xml(twiml.disclosure_then(call.disclosure, actions, voice=call.flow.voice))

    async def caller_gone(params: dict[str, str]) -> Response:
        """The <Connect action> after the caller hung up (Twilio posts it with a final
        CallStatus): nobody is dialled, and a call with nothing decided ended by the caller's
        hang-up, not by a fault. The stream's `stop` may come before or after this request."""
        call = await gateway.load_call(params.get("CallSid", ""))
        if call is not None and call.decision is None:
            call.note("status", "caller hung up during the media stream",
                      disclosure_heard=call.disclosure_heard)
            call.apply(ev.CallEnded(at=utcnow()))
            call.update(ended_at=utcnow())
            if gateway.registry.get(call.sid) is not call:  # its stream is over: share it now
                await call.save()
        return _xml(twiml.actions([ev.EndCall()]))

    @router.post("/dial-status")
    async def dial_status(request: Request) -> Response:
        params = await signed(request)
        call = await call_for(params)
        status = params.get("DialCallStatus", "failed")
        attempt = _attempt(request)
        bridged = params.get("DialBridged", "")
        call.note("dial", f"dial {status}", attempt=attempt, bridged=bridged)
        if transfer_taken(status, bridged, attempt in call.accepted_attempts):
            return _xml(twiml.actions([ev.EndCall()]))
        transfer = call.decision
        if isinstance(transfer, ev.HandOver) and transfer.people.ring == "in_order" \
                and attempt + 1 < len(transfer.people.numbers):
            return _xml(twiml.actions([transfer], attempt + 1))
        why = status if status not in ANSWERED else "declined"
        actions = call.apply(ev.TransferFailed(why, at=utcnow()))
        call.decision = _decision(actions)
        await call.save()
        return await reply(call, actions)

    @router.post("/whisper")
    async def whisper(request: Request) -> Response:
        params = await signed(request)
        call = await gateway.load_call(params.get("ParentCallSid", ""))
        transfer = call.decision if call and isinstance(call.decision, ev.HandOver) else None
        if call is None or transfer is None:  # e.g. the store lost the call: still the choice
            return _xml(twiml.whisper("A caller from the automated line.", "en-US", _attempt(request)))
        language = transfer.staff_language
        text = whisper_text(transfer.summary, language)
        url = await gateway.spoken(text, language, _whisper_voice(call, transfer))
        return _xml(twiml.whisper(transfer.summary, language, _attempt(request), audio_url=url))

    @router.post("/whisper-answer")
    async def whisper_answer(request: Request) -> Response:
        params = await signed(request)
        call = await gateway.load_call(params.get("ParentCallSid", ""))
        accepted = params.get("Digits", "") == "1"
        if call is not None:
            who = params.get("To", "")
            call.note("whisper", f"{'accepted' if accepted else 'declined'} by {who}", number=who)
            if accepted:
                call.accepted_attempts.add(_attempt(request))
                call.update(answered_by=who)
                await call.save()  # the dial status may reach another instance
        return _xml(twiml.actions([] if accepted else [ev.EndCall()]))

    @router.post("/recorded")
    async def recorded(request: Request) -> Response:
        params = await signed(request)
        call = await call_for(params)
        actions = call.apply(ev.MessageRecorded("", at=utcnow()))
        await call.save()
        return await reply(call, actions or [ev.EndCall()])

    @router.post("/recording")
    async def recording(request: Request) -> Response:
        params = await signed(request)
        call = await call_for(params)
        sid = params.get("RecordingSid", "")
        # Twilio retries a callback it got no answer to, and a signed one can be replayed: one
        # download, one voicemail and one call-back task per recording.
        if not gateway.claim_recording(sid) or await gateway.store.share(
                gateway.store.calls.has_voicemail, sid):
            return Response(status_code=204)
        gateway.spawn(transcribe_voicemail(gateway, call, params))
        return Response(status_code=204)

    @router.post("/status")
    async def status(request: Request) -> Response:
        params = await signed(request)
        call_status = params.get("CallStatus", "")
        call = await gateway.load_call(params.get("CallSid", ""))
        if call is not None and call_status in FINAL_STATUSES:
            call.apply(ev.CallEnded(at=utcnow()))
            state = call.state
            gateway.metrics.calls.labels(state.outcome or "unknown", state.transfer_reason or "").inc()
            call.update(ended_at=utcnow())
            call.note("status", f"call {call_status}", duration=params.get("CallDuration", ""))
            await call.save()
        return Response(status_code=204)

    @router.websocket("/media")
    async def media(websocket: WebSocket) -> None:
        url = signatures.public_url("/twilio/media", websocket.url.query, scheme="ws")
        try:
            signatures.check(url, {}, websocket.headers.get("x-twilio-signature"))
        except SignatureError:
            await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
            return
        await websocket.accept()
        await pump_media_stream(gateway, websocket, TwilioMediaCodec())

    return router


class _FallThroughRoute(APIRoute):
    """Any fault in a signed webhook answers with TwiML that dials a person, never an error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        route = self.path
        async def guarded(request: Request) -> Response:
            started = time.monotonic()
            try:
                return await handler(request)
            except HTTPException:
                raise
            except Exception:
                fallback = getattr(request.state, "fallback", None)
                log.exception("webhook %s failed; the caller goes to a person", request.url.path)
                if fallback is None:
                    raise
                request.app.state.gateway.metrics.faults.labels("webhook").inc()
                return _xml(fallback())
            finally:
                request.app.state.gateway.metrics.webhook.labels(route).observe(time.monotonic() - started)

        return guarded


def _fault_twiml(gateway: Gateway, twiml: TwimlBuilder, params: dict[str, str]) -> str:
    flow = gateway.flow_for_number(params.get("To", ""))
    person = people_to_ring(flow, flow.routing.person)
    return twiml.actions([ev.PlayPrompt(builtin(flow.language, "fault"), "fault", language=flow.language),
                          ev.HandOver(person, "fault", "Caller reached a person after a fault.")])


def _attempt(request: Request) -> int:
    """Which dial attempt a callback belongs to (0 for the first number or group)."""
    raw = request.query_params.get("attempt", "0")
    return int(raw) if raw.isdigit() else 0


def transfer_taken(status: str, bridged: str, accepted: bool) -> bool:
    """Did the caller reach the person? Twilio may report a declined whisper as `completed`
    (the person's phone did answer), so `DialBridged` decides when present, else whether the
    whisper was accepted on this attempt."""
    if bridged in ("true", "false"):
        return bridged == "true"
    return status in ANSWERED and accepted


async def _new_call(gateway: Gateway, sid: str, params: dict[str, str]) -> LiveCall:
    return gateway.begin_call(sid, params.get("From", ""), params.get("To", ""))


def _note_dial(gateway: Gateway, call: LiveCall, decision: object) -> None:
    if isinstance(decision, ev.HandOver):
        call.update(time_to_human_s=round(call.elapsed(), 3))
        gateway.metrics.time_to_person.labels(decision.reason).observe(call.elapsed())
        gateway.spawn(post_handoff(gateway, call))
        # The whisper, rendered while the person's phone rings: ready when they answer.
        language = decision.staff_language
        gateway.spawn(gateway.spoken(whisper_text(decision.summary, language), language,
                                     _whisper_voice(call, decision)))


def _whisper_voice(call: LiveCall, transfer: ev.HandOver) -> str | None:
    """The Piper voice the people of a group hear their whisper in (None: their language's)."""
    group = call.flow.people.get(transfer.people.group)
    return group.voice if group is not None else None
