"""The real gateway on a loopback port, in a thread: for `ivr call --twilio`, tests and benchmarks."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import uvicorn

from ivr.app import FINISH_TASKS_S, create_app, server_options
from ivr.config import Settings
from ivr.telephony.gateway import Gateway


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_settings(root: Path, flows_dir: Path, token: str, **overrides: Any) -> Settings:
    """Settings for a gateway on a free loopback port, keeping its files under `root`."""
    values: dict[str, Any] = {
        "host": "127.0.0.1", "port": free_port(), "flows_dir": flows_dir, "audio_dir": root / "audio",
        "database_url": f"sqlite:///{root / 'ivr.sqlite3'}", "twilio_auth_token": token,
        "download_models": False, **overrides}
    return Settings(**values)


class RunningGateway:
    """Start with `start()`, stop with `stop()`; `gateway` gives the live services."""

    def __init__(self, settings: Settings, warm_out: TextIO | None = None) -> None:
        self.settings = settings
        self.gateway = Gateway.build(self.settings)
        self.app = create_app(self.settings, self.gateway, warm=True, warm_out=warm_out)
        port = settings.port
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port,
                                                    log_level="warning", ws="websockets-sansio",
                                                    **server_options(settings)))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return self.settings.base_url()

    def start(self) -> RunningGateway:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("gateway did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop as `ivr serve` does: voicemails being fetched and transcribed finish first."""
        self.server.should_exit = True
        self.thread.join(timeout=FINISH_TASKS_S + 10)
