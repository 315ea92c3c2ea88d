"""Wiring only: settings -> gateway -> FastAPI app; `serve` runs it with uvicorn."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from ivr.config import Settings
from ivr.errors import ConfigError, FlowError
from ivr.flow.catalog import spoken_prompts
from ivr.store.flows import FlowVersionStore
from ivr.telephony.gateway import Gateway
from ivr.telephony.handoff import handoff_record, handoff_token
from ivr.telephony.twilio.signature import TwilioSignatures
from ivr.telephony.twilio.twiml import TwimlBuilder
from ivr.telephony.twilio.webhooks import twilio_router
from ivr.web.auth import Accounts
from ivr.web.console import console_router
from ivr.web.flow_admin import FlowAdmin

log = logging.getLogger("ivr")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def create_app(settings: Settings, gateway: Gateway | None = None, warm: bool = True,
               warm_out: Any = None) -> FastAPI:
    """The gateway as an ASGI app. `warm` loads speech models and renders prompts at start-up."""
    gateway = gateway or Gateway.build(settings)
    signatures = TwilioSignatures(settings.twilio_auth_token, settings.base_url())
    twiml = TwimlBuilder(settings.base_url(), settings.stream_url())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm:
            warm_up(gateway, warm_out)
        watcher = asyncio.get_running_loop().create_task(gateway.media_stats.watch_loop())
        yield
        watcher.cancel()
        await gateway.store.flush()
        gateway.close()

    app = FastAPI(title="IVR gateway", lifespan=lifespan)
    app.state.gateway = gateway
    app.include_router(twilio_router(gateway, signatures, twiml))
    admin = FlowAdmin(gateway, FlowVersionStore(gateway.store.store.engine))
    admin.import_files()
    app.state.flow_admin = admin
    accounts = Accounts(gateway.store.store.engine)
    app.include_router(console_router(admin, accounts, gateway.store.store,
                                      secure_cookie=settings.base_url().startswith("https://")))
    app.mount("/console-static", StaticFiles(directory=Path(__file__).parent / "web" / "static"),
              name="console-static")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        flows = {name: {"language": flow.language, "version": gateway.book.versions[name],
                        "speech": gateway.speech_status(flow.language),
                        "numbers": flow.phone_numbers}
                 for name, flow in gateway.book.flows.items()}
        stats = gateway.media_stats
        media = {"frames": stats.frames, "late_frames": stats.late_frames,
                 "max_lag_ms": round(stats.max_lag_ms, 1), "loop_checks": stats.loop_checks,
                 "loop_stalls": stats.loop_stalls,
                 "max_loop_stall_ms": round(stats.max_loop_stall_ms, 1)}
        return {"status": "ok", "calls_in_progress": len(gateway.registry), "flows": flows,
                "media": media}

    @app.get("/handoff/{sid}")
    async def handoff(sid: str, token: str = "") -> dict[str, Any]:
        """The handoff record of a call, for the person who took it (token from the URL)."""
        expected = handoff_token(settings.handoff_secret_value(), sid)
        if not hmac.compare_digest(token, expected):
            raise HTTPException(403)
        call = gateway.registry.get(sid)
        if call is None:
            raise HTTPException(404, "the call is no longer in progress; see its record")
        return handoff_record(gateway, call)

    @app.get("/audio/{name:path}")
    async def audio(name: str) -> FileResponse:
        root = settings.audio_dir.resolve()
        path = (root / name).resolve()
        if not path.is_file() or root not in path.parents or "cache" in path.relative_to(root).parts:
            raise HTTPException(404)
        return FileResponse(path)

    return app


def warm_up(gateway: Gateway, out: Any = None) -> None:
    """Load each flow's speech model and render every prompt, with progress, before calls."""
    out = out or sys.stderr
    for name, flow in gateway.book.flows.items():
        status = gateway.speech_status(flow.language)
        if status == "keypad-only":
            problem = gateway.models.status().get(flow.language.split("-")[0].lower(), "")
            print(f"flow {name} ({flow.language}): KEYPAD-ONLY (callers use keys; 0 and silence still "
                  f"reach a person). For speech, set IVR_VOSK_MODEL to a Vosk model folder. "
                  f"Reason: {problem}", file=out)
        else:
            print(f"flow {name} ({flow.language}): speech by {status}", file=out)
        prompts = spoken_prompts(flow)
        started = time.monotonic()
        live = getattr(out, "isatty", lambda: False)()
        for i, (text, audio) in enumerate(prompts, 1):
            gateway.renderer.render(text, flow.language, audio)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    path.write_text(token)
    path.chmod(0o600)
    return token


def serve(host: str | None = None, port: int | None = None) -> int:
    """`ivr serve`: run the gateway, printing the URLs to paste into Twilio."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    try:
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
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    return 0
