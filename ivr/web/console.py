"""The console's pages and JSON endpoints, served by the gateway under /console.

Server-rendered HTML (Jinja2), a little plain JavaScript for the editor; no build step.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request, Response, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.datastructures import UploadFile as FormFile

from ivr.audio.wav import ulaw_to_wav
from ivr.errors import FlowError
from ivr.flow import events as ev
from ivr.flow.catalog import prompt_of
from ivr.store.calls import CallStore, describe_heard, utcnow
from ivr.telephony.stream import pump_media_stream
from ivr.web.auth import Accounts, AuthError, LoginLimiter, Session
from ivr.web.dashboard import FilterError, dashboard_figures, filter_calls
from ivr.web.flow_admin import FlowAdmin, PublishRefused
from ivr.web.flow_form import apply_form, form_fields
from ivr.web.flow_map import flow_map_svg
from ivr.web.live_now import calls_in_progress
from ivr.web.prompts_upload import UploadError, save_prompt
from ivr.web.struggle import FIGURES, calls_matching, overlay, step_figures
from ivr.web.try_call import try_call
from ivr.workers import PriorityWorkers

HERE = Path(__file__).resolve().parent
COOKIE = "ivr_session"
MAX_JSON_BYTES = 512 * 1024  # a draft (at most 256 KB of YAML) and its test inputs
LIVE_EVERY_S = 1.0  # how often the live page is brought up to date
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["heard"] = lambda data: describe_heard(data or {})


def console_router(admin: FlowAdmin, accounts: Accounts, calls: CallStore, secure_cookie: bool) -> APIRouter:
    """Routes under /console, bound to the live gateway's flows and records."""
    router = APIRouter(prefix="/console")
    limiter = LoginLimiter()
    # Argon2 costs tens of milliseconds of a core by design: one thread, at a lower priority than
    # the event loop, so a burst of logins queues up instead of taking the cores calls need.
    hasher = PriorityWorkers(1, "ivr-login", niceness=10)
    # Drafts are parsed and linted in pure Python, which holds the GIL: one thread at a time, so
    # a burst of them cannot crowd the event loop out of it.
    drafts = PriorityWorkers(1, "ivr-drafts", niceness=10)

    def page(request: Request, template: str, session: Session | None, status: int = 200,
             **values: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, template, {"session": session, **values},
                                          status_code=status)

    def current(request: Request, area: str | None = None) -> Session:
        session = accounts.session(request.cookies.get(COOKIE))
        if session is None:
            raise HTTPException(303, headers={"Location": "/console/login"})
        if area and not session.user.can(area):
            raise HTTPException(403, f"your role ({session.user.role}) cannot open {area}")
        return session

    async def changing(request: Request, area: str) -> tuple[Session, dict[str, Any]]:
        """A state-changing request: logged in, allowed, and carrying the session's CSRF token."""
        session = current(request, area)
        form = dict(await request.form())
        token = request.headers.get("x-csrf-token") or str(form.get("csrf", ""))
        if token != session.csrf:
            raise HTTPException(403, "missing or wrong CSRF token; reload the page")
        return session, form

    @router.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request) -> HTMLResponse:
        return page(request, "login.html", None, error=None, first=accounts.count() == 0)

    @router.post("/login")
    async def login(request: Request, email: str = Form(...), password: str = Form(...)) -> Response:
        # The address is the peer's, or X-Forwarded-For's only from IVR_TRUSTED_PROXIES (uvicorn).
        address = request.client.host if request.client else "?"
        keys = (f"pair:{email.lower()}|{address}", f"ip:{address}")
        wait = limiter.wait(*keys)
        if wait > 0:
            return page(request, "login.html", None, error=f"Too many failed attempts from here; try "
                        f"again in {wait:.0f} s.", first=False, status=429)
        try:  # Argon2 takes tens of milliseconds by design: off the event loop
            token, _ = await hasher.run(0, accounts.login, email, password)
        except AuthError as exc:
            limiter.failed(*keys)
            return page(request, "login.html", None, error=str(exc), first=False)
        limiter.succeeded(*keys)
        response = RedirectResponse("/console/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure_cookie,
                            max_age=12 * 3600)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        await changing(request, "calls" if current(request).user.can("calls") else "flows")
        accounts.logout(request.cookies.get(COOKIE))
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @router.get("/")
    async def home(request: Request) -> Response:
        session = current(request)
        return RedirectResponse("/console/dashboard" if session.user.can("calls") else "/console/flows",
                                status_code=303)

    # ---- flows -------------------------------------------------------------------------

    @router.get("/flows", response_class=HTMLResponse)
    async def flows(request: Request) -> HTMLResponse:
        session = current(request, "flows")

        def rows() -> list[dict[str, Any]]:  # every flow parsed and linted: off the event loop
            out = []
            for name in admin.gateway.flow_names():
                latest = admin.versions.latest(name)
                live = admin.versions.latest(name, "published")
                _, problems = admin.check(name, latest["yaml"]) if latest else (None, [])
                out.append({"name": name, "flow": admin.gateway.live_flow(name), "live": live,
                            "latest": latest, "errors": sum(p.severity == "error" for p in problems),
                            "warnings": sum(p.severity == "warning" for p in problems)})
            return out
        return page(request, "flows.html", session, rows=await asyncio.to_thread(rows))

    @router.get("/flows/{name}", response_class=HTMLResponse)
    async def flow_page(request: Request, name: str, version: int | None = None) -> HTMLResponse:
        session = current(request, "flows")
        flow = admin.gateway.live_flow(name)
        if flow is None:
            raise HTTPException(404)
        row = admin.versions.get(name, version) if version else admin.versions.latest(name)
        assert row is not None
        shown, problems = await asyncio.to_thread(admin.check, name, row["yaml"])
        return page(request, "flow.html", session, name=name, row=row, problems=problems,
                    flow_map=Markup(flow_map_svg(shown or flow, problems)),
                    versions=admin.versions.versions(name), flow=flow,
                    steps=[sid for sid, s in flow.steps.items() if hasattr(s, "audio")],
                    speech=admin.gateway.speech_status(flow.language),
                    voice=admin.gateway.renderer.voices.choose(flow.language, flow.voice).note,
                    spoken=[(sid, text) for sid in ("disclosure", *(shown or flow).steps)
                            if (text := (prompt_of(shown or flow, sid) or ("",))[0])])

    @router.get("/flows/{name}/prompts/{step}.wav")
    async def prompt_audio(request: Request, name: str, step: str, version: int | None = None) -> Response:
        """A step's prompt in the voice callers hear (rendered once, then from the cache)."""
        current(request, "flows")
        row = admin.versions.get(name, version) if version else admin.versions.latest(name)
        flow = (await asyncio.to_thread(admin.check, name, row["yaml"]))[0] if row else None
        prompt = prompt_of(flow, step) if flow else None
        if flow is None or prompt is None:
            raise HTTPException(404)
        renderer = admin.gateway.renderer
        ulaw = await asyncio.to_thread(renderer.render, prompt[0], flow.language, prompt[1], flow.voice)
        return Response(ulaw_to_wav(ulaw), media_type="audio/wav")

    @router.get("/flows/{name}/form", response_class=HTMLResponse)
    async def flow_form(request: Request, name: str) -> HTMLResponse:
        session = current(request, "flows")
        row = admin.versions.latest(name)
        if row is None:
            raise HTTPException(404)
        note = None
        if (await asyncio.to_thread(admin.check, name, row["yaml"]))[0] is None:  # use the live one
            note = (f"v{row['version']} does not load; the form shows the live version. "
                    f"Fix v{row['version']} in the editor.")
            row = admin.versions.latest(name, "published")
            assert row is not None
        return page(request, "flow_form.html", session, name=name, row=row, note=note,
                    fields=form_fields(row["yaml"]), flow=admin.gateway.live_flow(name))

    @router.post("/flows/{name}/form")
    async def save_form(request: Request, name: str) -> Response:
        session, form = await changing(request, "flows")
        row = admin.versions.get(name, int(str(form.get("version", "0"))))
        if row is None:
            raise HTTPException(400, "no such version")
        try:
            text = apply_form(row["yaml"], {k: str(v) for k, v in form.items()})
        except ValueError as exc:
            raise HTTPException(400, f"not saved: {exc}") from None
        number = await asyncio.to_thread(admin.save_draft, name, text, session.user.email)
        return RedirectResponse(f"/console/flows/{name}?version={number}", status_code=303)

    @router.post("/flows/{name}/draft")
    async def save_draft(request: Request, name: str) -> Response:
        session, form = await changing(request, "flows")
        text = str(form.get("yaml", ""))
        number = await asyncio.to_thread(admin.save_draft, name, text, session.user.email)
        return RedirectResponse(f"/console/flows/{name}?version={number}", status_code=303)

    @router.post("/flows/{name}/publish")
    async def publish(request: Request, name: str) -> Response:
        session, form = await changing(request, "flows")
        version = int(str(form.get("version", "0")))
        try:
            await asyncio.to_thread(admin.publish, name, version, session.user.email)
        except PublishRefused as exc:
            row = admin.versions.get(name, version)
            return page(request, "flow.html", session, name=name, row=row, problems=exc.problems,
                        versions=admin.versions.versions(name), flow=admin.gateway.live_flow(name),
                        steps=[], refused=True, status=409, speech="keypad-only")
        return RedirectResponse(f"/console/flows/{name}", status_code=303)

    @router.post("/flows/{name}/rollback")
    async def rollback(request: Request, name: str) -> Response:
        session, form = await changing(request, "flows")
        version = int(str(form.get("version", "0")))
        await asyncio.to_thread(admin.rollback, name, version, session.user.email)
        return RedirectResponse(f"/console/flows/{name}", status_code=303)

    @router.post("/flows/{name}/audio")
    async def upload(request: Request, name: str) -> Response:
        session, form = await changing(request, "flows")
        upload_file = form.get("file")
        if not isinstance(upload_file, FormFile):  # (starlette's: FastAPI's UploadFile is a subclass)
            raise HTTPException(400, "choose an audio file")
        try:
            number = await save_prompt(admin, name, str(form.get("step", "")), upload_file,
                                       session.user.email)
        except UploadError as exc:
            raise HTTPException(400, str(exc)) from None
        finally:
            await upload_file.close()
        return RedirectResponse(f"/console/flows/{name}?version={number}", status_code=303)

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

    @router.get("/schema.json")
    async def schema(request: Request) -> JSONResponse:
        from ivr.flow.schema import flow_schema

        current(request, "flows")
        return JSONResponse(flow_schema())

    @router.get("/audit", response_class=HTMLResponse)
    async def audit(request: Request) -> HTMLResponse:
        session = current(request, "flows")
        return page(request, "audit.html", session, entries=admin.versions.audit())

    # ---- calls -------------------------------------------------------------------------

    def behind_figure(filters: dict[str, str]) -> Any:
        """The struggle view's drill-down: the calls behind one figure of one step."""
        if not (filters.get("step") and filters.get("figure") and filters.get("flow")):
            return None
        try:
            return calls_matching(calls, filters["flow"], _since(filters.get("days")), filters["step"],
                                  filters["figure"])
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    @router.get("/calls", response_class=HTMLResponse)
    async def call_list(request: Request) -> HTMLResponse:
        session = current(request, "calls")
        filters = dict(request.query_params)
        try:
            found = await asyncio.to_thread(filter_calls, calls, filters, within=behind_figure(filters))
        except FilterError as exc:
            raise HTTPException(400, str(exc)) from None
        return page(request, "calls.html", session, calls=found, filters=filters,
                    flows=admin.gateway.flow_names())

    @router.get("/live", response_class=HTMLResponse)
    async def live_page(request: Request) -> HTMLResponse:
        session = current(request, "calls")
        return page(request, "live.html", session, rows=await asyncio.to_thread(calls_in_progress, calls))

    @router.get("/live/events")
    async def live_events(request: Request) -> StreamingResponse:
        """Server-sent events: the calls in progress, every second, while the page is open."""
        current(request, "calls")

        async def stream() -> AsyncIterator[str]:
            while not await request.is_disconnected():
                rows = await asyncio.to_thread(calls_in_progress, calls)
                yield f"data: {json.dumps(rows, ensure_ascii=False)}\n\n"
                await asyncio.sleep(LIVE_EVERY_S)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @router.get("/flows/{name}/struggle", response_class=HTMLResponse)
    async def struggle(request: Request, name: str, days: int = 7) -> HTMLResponse:
        session = current(request, "calls")
        flow = admin.gateway.live_flow(name)
        if flow is None:
            raise HTTPException(404)
        figures = await asyncio.to_thread(step_figures, calls, name, _since(str(days)))
        rows = [(sid, figures.get(sid)) for sid in flow.steps] + \
               [(sid, f) for sid, f in figures.items() if sid not in flow.steps]  # steps since removed
        return page(request, "struggle.html", session, name=name, flow=flow, days=days, rows=rows,
                    figure_names=FIGURES, map=Markup(flow_map_svg(flow, traffic=overlay(figures))))

    @router.get("/calls.csv")
    async def call_csv(request: Request) -> Response:
        current(request, "calls")
        out = io.StringIO()
        fields = ["sid", "flow", "flow_version", "caller", "started_at", "ended_at", "outcome",
                  "transfer_reason", "transferred_to", "answered_by", "time_to_human_s", "summary",
                  "disclosure", "prompts_heard", "prompts_cut", "prompts_unplayed"]
        writer = csv.DictWriter(out, fields, extrasaction="ignore")
        writer.writeheader()
        filters = dict(request.query_params)
        try:
            rows = await asyncio.to_thread(filter_calls, calls, filters, limit=100_000,
                                           within=behind_figure(filters))
        except FilterError as exc:
            raise HTTPException(400, str(exc)) from None
        heard = await asyncio.to_thread(calls.prompt_figures, [r["sid"] for r in rows])
        # A cell a spreadsheet would run as a formula (=, +, -, @) is written as text.
        writer.writerows({k: _cell(v) for k, v in {**row, **heard.get(row["sid"], {})}.items()}
                         for row in rows)
        return Response(out.getvalue(), media_type="text/csv",
                        headers={"Content-Disposition": "attachment; filename=calls.csv"})

    @router.get("/calls/{sid}", response_class=HTMLResponse)
    async def call_detail(request: Request, sid: str) -> HTMLResponse:
        session = current(request, "calls")
        record = calls.get_call(sid)
        if record is None:
            raise HTTPException(404)
        return page(request, "call.html", session, call=record)

    @router.get("/recordings/{sid}/{index}")
    async def recording(request: Request, sid: str, index: int) -> FileResponse:
        current(request, "calls")
        record = calls.get_call(sid)
        voicemails = record["voicemails"] if record else []
        if index >= len(voicemails) or not voicemails[index]["audio_path"]:
            raise HTTPException(404)
        return FileResponse(voicemails[index]["audio_path"], media_type="audio/wav")

    @router.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request, days: int = 7) -> HTMLResponse:
        session = current(request, "calls")
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=max(1, min(days, 366)))
        figures = await asyncio.to_thread(dashboard_figures, calls, since)
        return page(request, "dashboard.html", session, days=days, flows=admin.gateway.flow_names(),
                    figures=figures)

    @router.get("/callbacks", response_class=HTMLResponse)
    async def callbacks(request: Request) -> HTMLResponse:
        session = current(request, "calls")
        return page(request, "callbacks.html", session, tasks=calls.open_callbacks())

    @router.post("/callbacks/{task_id}/done")
    async def callback_done(request: Request, task_id: int) -> Response:
        session, _ = await changing(request, "calls")
        calls.finish_callback(task_id, session.user.email)
        return RedirectResponse("/console/callbacks", status_code=303)

    return router


def _cell(value: Any) -> Any:
    """A CSV cell that cannot run as a spreadsheet formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _same_origin(websocket: WebSocket) -> bool:
    """A browser's websocket from a page of this server (a page elsewhere cannot use the
    console's cookie to drive a call)."""
    from urllib.parse import urlsplit

    origin = urlsplit(websocket.headers.get("origin", ""))
    return bool(origin.netloc) and origin.netloc == websocket.headers.get("host", "")


def _since(days: str | None) -> dt.datetime:
    """The start of a period of `days` days (7 when not given), capped at a year."""
    n = int(days) if days and days.isdigit() else 7
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=max(1, min(n, 366)))
