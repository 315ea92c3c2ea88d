"""Wiring only: settings -> gateway -> FastAPI app; `serve` runs it with uvicorn."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from ivr.audio.wav import ulaw_to_wav
from ivr.config import Settings
from ivr.errors import ConfigError, FlowError
from ivr.flow.catalog import spoken_prompts
from ivr.language import primary
from ivr.metrics import CONTENT_TYPE
from ivr.store.retention import Retention, clean_up
from ivr.telephony.gateway import Gateway
from ivr.telephony.handoff import handoff_record, handoff_token
from ivr.telephony.twilio.codec import TwilioMediaCodec
from ivr.telephony.twilio.signature import TwilioSignatures
from ivr.telephony.twilio.twiml import TwimlBuilder
from ivr.telephony.twilio.webhooks import twilio_router
from ivr.web.auth import Accounts
from ivr.web.console import console_router
from ivr.web.flow_admin import FlowAdmin
from ivr.web.struggle import keep_recent_figures

log = logging.getLogger("ivr")
access = logging.getLogger("ivr.access")
HANDOFF_AFTER_CALL_S = 3600.0  # a handoff link works during the call and an hour after it
FINISH_TASKS_S = 60.0  # a stopping instance lets a voicemail's fetch and transcription finish
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def create_app(settings: Settings, gateway: Gateway | None = None, warm: bool = True,
               warm_out: Any = None) -> FastAPI:
    """The gateway as an ASGI app. `warm` loads speech models and renders prompts at start-up."""
    gateway = gateway or Gateway.build(settings)
    gateway.media_codec = TwilioMediaCodec  # the console's microphone speaks Twilio's format too
    signatures = TwilioSignatures(settings.twilio_auth_token, settings.base_url())
    twiml = TwimlBuilder(settings.base_url(), settings.stream_url(), prompt_url=gateway.prompt_url,
                         stream_token=gateway.stream_token)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm:
            warm_up(gateway, warm_out)
        if getattr(app.state, "settle_gc", False):
            settle_garbage_collector()
        loop = asyncio.get_running_loop()
        background = [loop.create_task(gateway.media_stats.watch_loop()),
                      loop.create_task(_every(settings.flow_poll_seconds, admin.follow_published,
                                              "following published flows")),
                      loop.create_task(_every(settings.cleanup_hours * 3600, lambda: _clean(gateway),
                                              "cleaning up old data", first=True))]
        yield
        for task in background:
            task.cancel()
        if gateway.tasks:  # voicemails being fetched and transcribed, handoff records posted
            log.info("finishing %d voicemail/handoff task(s) before stopping", len(gateway.tasks))
            await asyncio.wait(set(gateway.tasks), timeout=FINISH_TASKS_S)
        await gateway.store.flush()
        gateway.close()

    docs = settings.api_docs  # the API's map is no business of a visitor's
    app = FastAPI(title="IVR gateway", lifespan=lifespan, docs_url="/docs" if docs else None,
                  redoc_url=None, openapi_url="/openapi.json" if docs else None)
    app.add_middleware(SecurityHeaders, https=settings.base_url().startswith("https://"))
    app.state.gateway = gateway
    app.include_router(twilio_router(gateway, signatures, twiml))
    assert gateway.versions is not None
    admin = FlowAdmin(gateway, gateway.versions)
    admin.import_files()
    app.state.flow_admin = admin
    accounts = Accounts(gateway.store.store.engine)
    app.include_router(console_router(admin, accounts, gateway.store.store,
                                      secure_cookie=settings.base_url().startswith("https://")))
    app.mount("/console-static", StaticFiles(directory=Path(__file__).parent / "web" / "static"),
              name="console-static")

    @app.get("/health")
    async def health(request: Request) -> JSONResponse:
        """For the load balancer: 503 while draining, so no new call comes. The details (flows,
        numbers, figures) only for loopback, a bearer token (IVR_HEALTH_TOKEN) or the console."""
        state = "draining" if gateway.draining else "busy" if gateway.full() else "ok"
        code = 200 if state == "ok" else 503  # busy: the balancer sends new calls elsewhere
        if not _may_see_details(request, settings, accounts):
            return JSONResponse({"status": state}, status_code=code)
        flows = {name: {"language": flow.language, "version": gateway.live_version(name),
                        "speech": gateway.speech_status(flow.language),
                        "numbers": flow.phone_numbers}
                 for name in gateway.flow_names() if (flow := gateway.live_flow(name))}
        stats = gateway.media_stats
        media = {"frames": stats.frames, "late_frames": stats.late_frames,
                 "max_lag_ms": round(stats.max_lag_ms, 1), "loop_checks": stats.loop_checks,
                 "loop_stalls": stats.loop_stalls,
                 "max_loop_stall_ms": round(stats.max_loop_stall_ms, 1)}
        body = {"status": state, "instance": gateway.instance,
                "calls_in_progress": len(gateway.registry), "flows": flows, "media": media,
                "key_decisions_ms": dict(sorted(stats.key_decisions_ms.items()))}
        return JSONResponse(body, status_code=code)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        """Prometheus metrics of this instance, for loopback, the bearer token or the console."""
        if not _may_see_details(request, settings, accounts):
            raise HTTPException(403, "metrics need loopback, IVR_HEALTH_TOKEN or a console login")
        return Response(gateway.metrics.exposition(), media_type=CONTENT_TYPE)

    @app.get("/handoff/{sid}")
    async def handoff(sid: str, token: str = "") -> dict[str, Any]:
        """The handoff record of a call, for the person who took it (token from the URL)."""
        expected = handoff_token(settings.handoff_secret_value(), sid)
        if not hmac.compare_digest(token, expected):
            raise HTTPException(403)
        record = await asyncio.to_thread(gateway.store.store.get_call, sid)
        ended = record.get("ended_at") if record else None
        if ended is not None and (time.time() - ended.replace(tzinfo=ended.tzinfo or dt.UTC).timestamp()
                                  > HANDOFF_AFTER_CALL_S):
            raise HTTPException(403, "this handoff link has expired with its call")
        call = await gateway.load_call(sid)
        if call is None:
            raise HTTPException(404, "no such call in progress; see its record")
        return handoff_record(gateway, call)

    @app.get("/prompts/{key}.wav")
    async def rendered_prompt(key: str) -> Response:
        """A prompt rendered here, for Twilio's <Play> (a 96-bit content key: unguessable for
        sentences nobody has seen, such as a whisper)."""
        ulaw = gateway.renderer.cached(key)
        if ulaw is None:
            raise HTTPException(404)
        return Response(ulaw_to_wav(ulaw), media_type="audio/wav")

    @app.get("/audio/{name:path}")
    async def audio(name: str) -> FileResponse:
        root = settings.audio_dir.resolve()
        path = (root / name).resolve()
        if not path.is_file() or root not in path.parents or "cache" in path.relative_to(root).parts:
            raise HTTPException(404)
        return FileResponse(path)

    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options from the settings: X-Forwarded-For is believed only from the proxies
    named in IVR_TRUSTED_PROXIES (none by default: a visitor cannot pick their own address)."""
    return {"proxy_headers": bool(settings.trusted_proxies),
            "forwarded_allow_ips": settings.trusted_proxies or "",
            "access_log": False}  # its lines carry query strings (tokens): see SecurityHeaders


def _may_see_details(request: Request, settings: Settings, accounts: Accounts) -> bool:
    host = request.client.host if request.client else ""
    bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if host in LOOPBACK:
        return True
    if settings.health_token and hmac.compare_digest(bearer, settings.health_token):
        return True
    from ivr.web.auth import COOKIE

    return accounts.session(request.cookies.get(COOKIE)) is not None


class SecurityHeaders:
    """Every answer says: not in a frame, no guessing content types, scripts and styles from
    this server only (the console has no inline script), and, behind https, https for good.
    Also the access log, without query strings (they carry handoff tokens). Plain ASGI, not
    `@app.middleware`: Starlette's BaseHTTPMiddleware runs each request in a task group with a
    streamed copy of the response, which cost more than the webhook itself."""

    POLICY = ("default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
              "connect-src 'self' ws://{host} wss://{host}; frame-ancestors 'none'; base-uri 'none'; "
              "form-action 'self'")
    COMMON = ((b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
              (b"referrer-policy", b"same-origin"))

    def __init__(self, app: Any, https: bool) -> None:
        self.app = app
        self.extra = self.COMMON + (((b"strict-transport-security", b"max-age=31536000"),) if https else ())

    def _policy(self, scope: Any) -> bytes:
        host = next((v for k, v in scope.get("headers", ()) if k == b"host"), b"").decode("latin-1")
        return self.POLICY.format(host=host.replace(";", "").replace(" ", "")).encode("latin-1")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.monotonic(), [0]
        path: str = scope.get("path", "")

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                extra = list(self.extra)
                if path.startswith("/console"):
                    extra.append((b"content-security-policy", self._policy(scope)))
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        finally:
            client = scope.get("client")
            access.info("%s %s %s %d %.0f ms", client[0] if client else "-", scope.get("method", ""),
                        path, status[0], (time.monotonic() - started) * 1000)


async def _every(seconds: float, work: Callable[[], Any], what: str, first: bool = False) -> None:
    """Run blocking `work` off the event loop every `seconds`; a failure is logged, not fatal."""
    loop = asyncio.get_running_loop()
    if not first:
        await asyncio.sleep(seconds)
    while True:
        try:
            await loop.run_in_executor(None, work)
        except Exception:
            log.exception("%s failed; will try again in %.0f s", what, seconds)
        await asyncio.sleep(seconds)


def _clean(gateway: Gateway) -> None:
    settings = gateway.settings
    # The console's per-day figures first: they outlast the transcripts the clean-up removes,
    # and long periods open at once (ivr.store.rollups).
    keep_recent_figures(gateway.store.store)
    done = clean_up(gateway.store.store.engine, Retention(settings.keep_transcripts_days,
                                                          settings.keep_recordings_days))
    log.info("clean-up: removed %s", done)


def warm_up(gateway: Gateway, out: Any = None) -> None:
    """Load each flow's speech model and render every prompt, with progress, before calls."""
    out = out or sys.stderr
    for name in gateway.flow_names():
        flow = gateway.live_flow(name)
        assert flow is not None
        status = gateway.speech_status(flow.language)
        if status == "keypad-only":
            problem = gateway.models.status().get(primary(flow.language), "")
            print(f"flow {name} ({flow.language}): KEYPAD-ONLY (callers use keys; 0 and silence still "
                  f"reach a person). For speech, set IVR_VOSK_MODEL to a Vosk model folder. "
                  f"Reason: {problem}", file=out)
        else:
            print(f"flow {name} ({flow.language}): speech by {status}", file=out)
        voice = gateway.renderer.voices.choose(flow.language, flow.voice)
        print(f"flow {name} ({flow.language}): prompts spoken by {voice.note}", file=out)
        prompts = spoken_prompts(flow)
        started = time.monotonic()
        live = getattr(out, "isatty", lambda: False)()
        for i, (text, audio) in enumerate(prompts, 1):
            gateway.renderer.render(text, flow.language, audio, flow.voice)
            if live:
                print(f"\r  rendering prompts {i}/{len(prompts)}", end="", file=out, flush=True)
        print(f"{chr(13) if live else ''}  {len(prompts)} prompts ready "
              f"({time.monotonic() - started:.1f} s)", file=out)


def _dev_token(settings: Settings) -> str:
    """Without TWILIO_AUTH_TOKEN, a loopback-only gateway gets a random token for the simulator."""
    if settings.host not in LOOPBACK:
        raise ConfigError(
            f"TWILIO_AUTH_TOKEN is not set and the gateway would listen on {settings.host}. "
            "Set the token (Twilio console -> Account -> API keys & tokens) or bind to 127.0.0.1.")
    path = Path("var") / "dev-twilio-token"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    write_private(path, token.encode())
    return token


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, from its first byte (never chmod'ed after)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def serve(host: str | None = None, port: int | None = None) -> int:
    """`ivr serve`: run the gateway, printing the URLs to paste into Twilio."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # What the gateway writes (the database, var/, recordings, caches) is its user's alone:
    # folders 0700, files 0600, as they are created.
    os.umask(0o077)
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    try:
        settings = Settings.load(**overrides)
        if not settings.twilio_auth_token:
            settings = settings.model_copy(update={"twilio_auth_token": _dev_token(settings)})
            print("No TWILIO_AUTH_TOKEN: local development mode. Requests must be signed with the "
                  "token in var/dev-twilio-token (the simulator does: ivr call --twilio).")
        app = create_app(settings)
    except (FlowError, ConfigError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    base = settings.base_url()
    print(f"\nIVR gateway on http://{settings.host}:{settings.port}\n"
          f"  Manager console: {base}/console/ (first owner: ivr users add EMAIL --role owner)\n"
          f"  Twilio number -> A call comes in (webhook, POST): {base}/twilio/voice\n"
          f"  Twilio number -> Call status changes (POST):      {base}/twilio/status\n"
          f"  Health: {base}/health\n"
          f"  Set IVR_PUBLIC_URL to the https address Twilio reaches (e.g. behind a proxy).\n")
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                            **server_options(settings))
    app.state.settle_gc = True  # this process serves calls until it stops
    DrainingServer(config, app.state.gateway, settings.drain_seconds).run()
    return 0


def settle_garbage_collector() -> None:
    """Before calls: what start-up loaded (models, flows, libraries) lives as long as the
    process, so the collector stops walking it; and a young generation of 10,000 objects
    rather than 700, since every 20 ms frame of every call allocates a few short-lived ones
    (at 100 calls the default collected ~10 times a second, 6% of the event loop's time)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


class DrainingServer:
    """uvicorn, except that SIGTERM drains: /health turns 503 so the balancer sends no new
    call, media streams held here run to their end (at most `drain_seconds`), then it exits.
    A second SIGTERM, or SIGINT (Ctrl-C), stops at once."""

    BALANCER_GRACE_S = 3.0  # long enough for the balancer's health checks to see the 503

    def __init__(self, config: Any, gateway: Gateway, drain_seconds: float) -> None:
        import signal

        import uvicorn

        self.gateway = gateway
        self.drain_seconds = drain_seconds
        outer = self

        class _Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: Any) -> None:
                if sig == signal.SIGTERM and not gateway.draining and drain_seconds > 0:
                    gateway.draining = True
                    asyncio.get_event_loop().create_task(outer._drain(self))
                    return
                super().handle_exit(sig, frame)

        self.server = _Server(config)

    def run(self) -> None:
        self.server.run()

    async def _drain(self, server: Any) -> None:
        started = time.monotonic()
        log.info("SIGTERM: draining (%d calls in progress here; at most %.0f s)",
                 len(self.gateway.registry), self.drain_seconds)
        await asyncio.sleep(min(self.BALANCER_GRACE_S, self.drain_seconds))
        while len(self.gateway.registry) and time.monotonic() - started < self.drain_seconds:
            await asyncio.sleep(0.2)
        left = len(self.gateway.registry)
        if left:
            log.warning("drain limit reached with %d calls in progress; they go to a person", left)
        else:
            log.info("drained in %.1f s", time.monotonic() - started)
        server.should_exit = True
