"""A real gateway (uvicorn, real Vosk Korean model, SQLite) on loopback, and a Twilio simulator.

The shipped Korean flow is copied twice with fixed hours so tests do not depend on the clock:
one always open, one always closed; the English plumbing flow is open at every hour too.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest

from ivr.audio.render import PromptRenderer
from testkit.local_gateway import RunningGateway, local_settings
from testkit.twilio_simulator import SimulatedCall, TwilioSimulator
from tests import needs
from tests.conftest import FLOWS_DIR

TOKEN = "test-auth-token-0123456789abcdef"
HANDOFF_SECRET = "crm-shared-secret"
OPEN_NUMBER = "+8225550300"
CLOSED_NUMBER = "+8225550399"
RELAY_NUMBER = "+8225550377"  # always open; the desk rings two people in turn
RELAY_DESK = ["+8225550311", "+8225550322"]
T = TypeVar("T")
FIRE = """emergencies:
  - name: fire
    phrases: ["화재"]
    safety: 불이 났다면 모두 대피하고 119에 전화하세요.
"""

ALL_DAY = "\n".join(f'  {d}: ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))


def _flows(folder: Path) -> Path:
    folder.mkdir()
    korean = (FLOWS_DIR / "korean.yaml").read_text(encoding="utf-8")
    hours_start = korean.index("hours:\n")
    hours_end = korean.index("holidays:")
    open_flow = korean[:hours_start] + f"hours:\n{ALL_DAY}\n" + korean[hours_end:]
    closed_flow = korean[:hours_start] + "hours: {}\n" + korean[hours_end:]
    closed_flow = closed_flow.replace(OPEN_NUMBER, CLOSED_NUMBER).replace("start: main", FIRE + "start: main")
    open_flow = open_flow.replace("holidays: [2027-02-16, 2027-02-17]", "holidays: []")
    (folder / "korean_open.yaml").write_text(open_flow, encoding="utf-8")
    (folder / "korean_closed.yaml").write_text(closed_flow, encoding="utf-8")
    relay_flow = open_flow.replace(OPEN_NUMBER, RELAY_NUMBER).replace(
        'numbers: ["+8225550311"]', f'numbers: {json.dumps(RELAY_DESK)}\n    ring: in_order')
    relay_flow = relay_flow.replace("start: main", "staff_language: en-US\nstart: main")
    assert "in_order" in relay_flow
    (folder / "korean_relay.yaml").write_text(relay_flow, encoding="utf-8")
    plumbing = (FLOWS_DIR / "plumbing.yaml").read_text(encoding="utf-8")  # open at every hour too
    hours_start, hours_end = plumbing.index("hours:\n"), plumbing.index("holidays:")
    plumbing = plumbing[:hours_start] + f"hours:\n{ALL_DAY}\n" + plumbing[hours_end:]
    plumbing = plumbing.replace("[2026-12-25, 2027-01-01]", "[]")
    (folder / "plumbing.yaml").write_text(plumbing, encoding="utf-8")
    return folder


class _Recordings(http.server.BaseHTTPRequestHandler):
    """Serves the voicemail audio that the gateway downloads, as Twilio's API would."""

    wav = b""
    posts: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:  # the business's handoff webhook, and Twilio's REST API (SMS)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.posts.append(({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}, body))
        if self.path.endswith("/Messages.json"):
            reply = b'{"sid": "SM0123", "status": "queued", "body": "ok"}'
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            return
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "audio/x-wav")
        self.send_header("Content-Length", str(len(self.wav)))
        self.end_headers()
        self.wfile.write(self.wav)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def voice(tmp_path_factory: pytest.TempPathFactory) -> PromptRenderer:
    """The caller's voice: espeak-ng, converted to 8 kHz mu-law like a phone line."""
    needs.program("espeak-ng")
    root = tmp_path_factory.mktemp("voice")
    return PromptRenderer(root, root)


@pytest.fixture(scope="session")
def recording_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import subprocess

    wav = tmp_path_factory.mktemp("rec") / "message.wav"
    subprocess.run([needs.program("espeak-ng"), "-v", "ko", "-w", str(wav), "안녕하세요 예약 문의 드립니다"],
                   check=True)
    _Recordings.wav = wav.read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recordings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory, recording_server: str) -> Iterator[RunningGateway]:
    needs.korean_model()
    root = tmp_path_factory.mktemp("gateway")
    settings = local_settings(root, _flows(root / "flows"), TOKEN, handoff_webhook=f"{recording_server}/crm",
                              handoff_secret=HANDOFF_SECRET, sms_from="+15550009999",
                              twilio_account_sid="AC" + "0" * 32, twilio_api_base=recording_server)
    gateway = RunningGateway(settings).start()
    yield gateway
    gateway.stop()


@pytest.fixture()
def twilio(running: RunningGateway, recording_server: str) -> TwilioSimulator:
    return TwilioSimulator(running.base_url, TOKEN,
                           recording_url=f"{recording_server}/2010-04-01/Recordings/RE123")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def handoffs_received() -> list[tuple[dict[str, str], bytes]]:
    return _Recordings.posts


def scaled(ulaw: bytes, db: float) -> bytes:
    """The same speech, `db` louder (or quieter): a caller raising their voice."""
    from ivr.audio.mulaw import audioop, pcm_to_ulaw, ulaw_to_pcm

    return pcm_to_ulaw(audioop.mul(ulaw_to_pcm(ulaw), 2, 10 ** (db / 20)))


def record_of(running: RunningGateway, call: SimulatedCall) -> dict[str, Any]:
    """The stored call record, once every queued write has landed."""
    store = running.gateway.store
    store.drain()
    record = store.store.get_call(call.sid)
    assert record is not None, f"call {call.sid} was not stored"
    return record
