"""The console's draft APIs (lint, map, try it, try by voice) and the microphone's socket.

JSON in, JSON out, each call logged in, carrying the session's CSRF token and a JSON body of
sane size; drafts are parsed and linted on one thread of their own (pure Python holds the GIL,
so a burst of drafts cannot crowd the event loop out of it).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, WebSocket
from fastapi.responses import JSONResponse

from ivr.errors import FlowError
from ivr.flow import events as ev
from ivr.store.calls import utcnow
from ivr.telephony.stream import pump_media_stream
from ivr.web.auth import COOKIE, Accounts, Session
from ivr.web.flow_admin import FlowAdmin
from ivr.web.flow_map import flow_map_svg
from ivr.web.try_call import try_call
from ivr.workers import PriorityWorkers

MAX_JSON_BYTES = 512 * 1024  # a draft (at most 256 KB of YAML) and its test inputs


def add_draft_routes(router: APIRouter, admin: FlowAdmin, accounts: Accounts,
                     current: Callable[..., Session]) -> None:
    """Register the draft APIs and /media on the console's router."""
    drafts = PriorityWorkers(1, "ivr-drafts", niceness=10)

    async def json_call(request: Request) -> tuple[Session, dict[str, Any]]:
        """A console API call: logged in for flows, its CSRF header, a JSON body of sane size."""
        session = current(request, "flows")
        if request.headers.get("x-csrf-token") != session.csrf:
            raise HTTPException(403, "missing or wrong CSRF token; reload the page")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(415, "send application/json")
        raw = await request.body()
        if len(raw) > MAX_JSON_BYTES:
            raise HTTPException(413, f"at most {MAX_JSON_BYTES // 1024} KB")
        try:
            body = json.loads(raw)
        except ValueError:
            raise HTTPException(400, "not JSON") from None
        if not isinstance(body, dict):
            raise HTTPException(400, "send a JSON object")
        return session, body

    async def check_draft(body: dict[str, Any]) -> tuple[Any, list[Any]]:
        """Load and lint a draft off the event loop (parsing and rendering take time)."""
        checked: tuple[Any, list[Any]] = await drafts.run(0, admin.check, str(body.get("name", "draft")),
                                                          str(body.get("yaml", "")))
        return checked

    @router.post("/api/lint")
    async def lint(request: Request) -> JSONResponse:
        _, body = await json_call(request)
        _, problems = await check_draft(body)
        return JSONResponse([{"line": p.line, "severity": p.severity, "message": p.message}
                             for p in problems])

    @router.post("/api/map")
    async def flow_map(request: Request) -> JSONResponse:
        _, body = await json_call(request)
        flow, problems = await check_draft(body)
        if flow is None:  # the page keeps the last map it could draw
            return JSONResponse({"svg": None, "problems": len(problems)})
        return JSONResponse({"svg": flow_map_svg(flow, problems), "problems": len(problems)})

    @router.post("/api/try")
    async def try_it(request: Request) -> JSONResponse:
        _, body = await json_call(request)
        flow, problems = await check_draft(body)
        if flow is None:
            return JSONResponse({"error": str(FlowError(problems))}, status_code=422)
        lines = try_call(flow, [str(x) for x in body.get("inputs", [])], body.get("at"))
        return JSONResponse({"lines": lines})

    @router.post("/api/voice-call")
    async def voice_call(request: Request) -> JSONResponse:
        """Start a call on the draft that the browser joins with its microphone, over the same
        Media Streams path (and session code) as a phone call."""
        session, body = await json_call(request)
        name = str(body.get("name", "draft"))
        flow, problems = await check_draft(body)
        if flow is None:
            return JSONResponse({"error": str(FlowError(problems))}, status_code=422)
        gateway = admin.gateway
        speech = gateway.speech_status(flow.language)
        if speech == "keypad-only":
            return JSONResponse({"error": f"no speech model for {flow.language} on this machine"},
                                status_code=409)
        sid = "CAconsole" + secrets.token_hex(12)
        call = gateway.begin_call(sid, f"console:{session.user.email}", "console", name,
                                  draft=(flow, str(body.get("yaml", ""))))
        # No TwiML plays the disclosure here, so the stream plays it first.
        call.pending = call.apply(ev.CallStarted(at=utcnow(), caller=f"console:{session.user.email}",
                                                 call_id=sid))
        await call.save()  # the browser's stream may reach another instance
        return JSONResponse({"call_sid": sid, "token": gateway.stream_token(sid)})

    @router.get("/api/voice-call/{sid}")
    async def voice_call_state(request: Request, sid: str) -> JSONResponse:
        current(request, "flows")
        call = await admin.gateway.load_call(sid) if sid.startswith("CAconsole") else None
        if call is None:
            raise HTTPException(404)
        lines = [{"who": "gateway" if t.speaker == "system" else "caller", "text": t.text}
                 for t in call.state.turns]
        decision = call.decision
        if isinstance(decision, ev.HandOver):
            lines.append({"who": "action", "text": f"transfer to {decision.people.label} "
                          f"({decision.reason}); whisper: {decision.summary}"})
        elif decision is not None:
            lines.append({"who": "action", "text": type(decision).__name__.lower()})
        return JSONResponse({"lines": lines, "ended": call.decision is not None})

    @router.websocket("/media")
    async def console_media(websocket: WebSocket) -> None:
        """The browser's microphone as a media stream: a logged-in editor, from this console's
        own pages (Origin), driving only a call they started (`/api/voice-call`)."""
        session = accounts.session(websocket.cookies.get(COOKIE))
        if session is None or not session.user.can("flows") or not _same_origin(websocket):
            await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
            return
        await websocket.accept()
        caller = f"console:{session.user.email}"
        await pump_media_stream(admin.gateway, websocket, admin.gateway.media_codec(),
                                accept_call=lambda call: call.sid.startswith("CAconsole")
                                and call.state.caller == caller)


def _same_origin(websocket: WebSocket) -> bool:
    """A browser's websocket from a page of this server (a page elsewhere cannot use the
    console's cookie to drive a call)."""
    from urllib.parse import urlsplit

    origin = urlsplit(websocket.headers.get("origin", ""))
    return bool(origin.netloc) and origin.netloc == websocket.headers.get("host", "")
