"""The console, probed as an attacker and a careless user would: uploads stay in their folder,
flows cannot point at files outside audio/, and the microphone socket drives only the caller's
own try-out call, from the console's own pages."""

from __future__ import annotations

import asyncio
import io
import json
import math
import struct
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ivr.errors import FlowError
from ivr.flow.loader import load_flow_text
from testkit.local_gateway import RunningGateway
from tests.conftest import FLOWS_DIR
from tests.web.conftest import csrf_of, logged_in

pytestmark = pytest.mark.slow


def _tone() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 8))) for i in range(8000)))
    return out.getvalue()


@pytest.mark.parametrize("step", ["../../var/evil", "../korean/main", "main/../../x", "nosuchstep"])
def test_an_upload_for_a_bad_step_writes_nothing(console: RunningGateway, step: str) -> None:
    root = console.settings.audio_dir.parent
    before = {p for p in root.rglob("*.wav")}
    with logged_in(console, "editor@example.com") as client:
        token = csrf_of(client, "/console/flows/plumbing")
        reply = client.post("/console/flows/plumbing/audio", data={"csrf": token, "step": step},
                            files={"file": ("x.wav", _tone(), "audio/wav")})
    assert reply.status_code == 400
    assert {p for p in root.rglob("*.wav")} == before  # nothing written, nothing overwritten


def test_an_upload_for_a_real_step_lands_in_the_flows_audio_folder(console: RunningGateway) -> None:
    with logged_in(console, "editor@example.com") as client:
        token = csrf_of(client, "/console/flows/plumbing")
        reply = client.post("/console/flows/plumbing/audio", data={"csrf": token, "step": "main"},
                            files={"file": ("x.wav", _tone(), "audio/wav")})
    assert reply.status_code == 303, reply.text
    assert (console.settings.audio_dir / "plumbing" / "main.wav").is_file()


@pytest.mark.parametrize("audio", ["../var/recordings/RE1.wav", "/etc/passwd", "audio/cache/x.ulaw",
                                   "audio/../../outside.wav"])
def test_a_flow_cannot_point_at_files_outside_the_audio_folder(tmp_path: Path, audio: str) -> None:
    (tmp_path / "var" / "recordings").mkdir(parents=True)
    (tmp_path / "var" / "recordings" / "RE1.wav").write_bytes(_tone())  # a caller's voicemail
    text = (FLOWS_DIR / "plumbing.yaml").read_text(encoding="utf-8")
    text = text.replace("  text: Riverside Plumbing's automated line.",
                        f"  audio: {audio}\n  text: Riverside Plumbing's automated line.")
    with pytest.raises(FlowError, match="recorded prompts are files in audio/") as caught:
        load_flow_text(text, "plumbing.yaml", tmp_path)
    assert "not found" not in str(caught.value)  # the same answer whether the file exists or not


async def _drive(console: RunningGateway, cookie: str, origin: str, sid: str, token: str) -> dict[str, Any]:
    url = console.base_url.replace("http://", "ws://") + "/console/media"
    seen = {"media": 0}
    async with connect(url, additional_headers={"Cookie": cookie, "Origin": origin}, proxy=None) as ws:
        await ws.send(json.dumps({"event": "start", "streamSid": "MZc", "start": {
            "streamSid": "MZc", "callSid": sid, "customParameters": {"token": token}}}))
        try:
            async with asyncio.timeout(4):
                async for message in ws:
                    seen["media"] += json.loads(message).get("event") == "media"
        except (ConnectionClosed, TimeoutError):
            pass
    return seen


def test_the_microphone_socket_drives_only_your_own_call_from_the_consoles_pages(
        console: RunningGateway) -> None:
    yaml = (console.settings.flows_dir / "korean.yaml").read_text(encoding="utf-8")
    with logged_in(console, "editor@example.com") as editor, logged_in(console, "owner@example.com") as owner:
        csrf = csrf_of(editor, "/console/flows/korean")
        started = editor.post("/console/api/voice-call", json={"name": "korean", "yaml": yaml},
                              headers={"X-CSRF-Token": csrf}).json()
        cookies = {who: f"ivr_session={client.cookies.get('ivr_session')}"
                   for who, client in (("editor", editor), ("owner", owner))}
    own_origin = console.base_url
    sid, token = started["call_sid"], started["token"]
    with pytest.raises(InvalidStatus) as refused:  # a page elsewhere, riding the cookie
        asyncio.run(_drive(console, cookies["editor"], "http://evil.example", sid, token))
    assert refused.value.response.status_code == 403
    assert asyncio.run(_drive(console, cookies["owner"], own_origin, sid, token))["media"] == 0
    assert asyncio.run(_drive(console, cookies["editor"], own_origin, sid, token))["media"] > 0
    assert httpx.get(f"{console.base_url}/health").status_code == 200
