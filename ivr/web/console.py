"""The console's pages and JSON endpoints, served by the gateway under /console.

Server-rendered HTML (Jinja2), a little plain JavaScript for the editor; no build step.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.datastructures import UploadFile as FormFile

from ivr.audio.wav import ulaw_to_wav
from ivr.flow.catalog import prompt_of
from ivr.store.calls import CallStore, describe_heard
from ivr.web.auth import COOKIE, Accounts, AuthError, LoginLimiter, Session
from ivr.web.console_api import add_draft_routes
from ivr.web.dashboard import FilterError, dashboard_figures, filter_calls
from ivr.web.flow_admin import FlowAdmin, PublishRefused
from ivr.web.flow_form import apply_form, form_fields
from ivr.web.flow_map import flow_map_svg
from ivr.web.live_now import calls_in_progress
from ivr.web.prompts_upload import UploadError, save_prompt
from ivr.web.struggle import FIGURES, calls_matching, overlay, step_figures
from ivr.workers import PriorityWorkers

HERE = Path(__file__).resolve().parent
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
        shown, problems = await asyncio.to_thread(admin.check, name, row["yaml"], True)
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

    add_draft_routes(router, admin, accounts, current)

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


def _since(days: str | None) -> dt.datetime:
    """The start of a period of `days` days (7 when not given), capped at a year."""
    n = int(days) if days and days.isdigit() else 7
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=max(1, min(n, 366)))
