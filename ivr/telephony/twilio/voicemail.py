"""Voicemails: download Twilio's recording, transcribe it here with Vosk, store both."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any

import httpx

from ivr.audio.mulaw import SAMPLE_RATE
from ivr.guard.cards import mask_cards
from ivr.speech.pool import Urgency
from ivr.telephony.calls import LiveCall
from ivr.telephony.gateway import Gateway
from ivr.telephony.twilio.notify import notify_emergency_voicemail

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment

log = logging.getLogger(__name__)


async def transcribe_voicemail(gateway: Gateway, call: LiveCall, params: dict[str, str]) -> None:
    """Fetch, keep and transcribe one recording; failures are logged and the audio URL kept."""
    url = params.get("RecordingUrl", "")
    recording_sid = params.get("RecordingSid", "")
    duration = float(params.get("RecordingDuration", "0") or 0)
    path: Path | None = None
    transcript = ""
    try:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"no usable RecordingUrl ({url!r})")
        settings = gateway.settings
        auth = (settings.twilio_account_sid, settings.twilio_auth_token) \
            if settings.twilio_account_sid else None
        async with httpx.AsyncClient(timeout=30) as client:
            reply = await client.get(f"{url}.wav", auth=auth)
            reply.raise_for_status()
        folder = settings.audio_dir.parent / "var" / "recordings"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # callers' voices: the gateway's alone
        path = folder / f"{_safe_name(recording_sid or call.sid)}.wav"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(reply.content)
        transcript = mask_cards(await transcribe_recording(gateway, call.flow.language, reply.content))
    except (httpx.HTTPError, ValueError) as exc:  # expected failures: one line, not a traceback
        log.warning("call %s: voicemail %r could not be fetched: %s", call.sid, url, exc)
    except Exception:
        log.exception("call %s: voicemail %s could not be fetched or transcribed", call.sid, url)
    store = gateway.store
    store.later(store.calls.add_voicemail, call.sid, recording_sid=recording_sid, recording_url=url,
                audio_path=str(path) if path else None, duration_s=duration, transcript=transcript)
    call.note("voicemail", transcript or "(no transcript)", recording=recording_sid)
    store.later(store.calls.add_callback, call.sid, call.state.caller,
                call.state.transfer_reason or "message", transcript, call.flow.callback_promise)
    if call.state.transfer_reason == "emergency":
        # Blocking HTTP to Twilio, on its own thread: an emergency text never waits behind speech.
        sent = await asyncio.to_thread(notify_emergency_voicemail, gateway, call, transcript)
        call.note("sms", f"texted {sent} on-call number(s) about the emergency voicemail")


def _safe_name(sid: str) -> str:
    """A RecordingSid as a file name (Twilio's are RE + 32 hex; anything else is cleaned)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", sid)[:64] or "recording"


# Seconds of a recording decoded in one job on the speech threads. Free-form decoding costs
# about 0.4 CPU-s an audio second: a two-minute message in one job would hold a thread for most
# of a minute, and callers' words (which go first, but cannot take a thread mid-job) would wait
# behind it. In one-second jobs they wait at most one.
CHUNK_S = 1.0


async def transcribe_recording(gateway: Gateway, language: str, wav: bytes) -> str:
    """What a recording says, decoded here free-form ("" without a model for its language),
    in short jobs of the lowest urgency."""
    loaded = gateway.models.get(language)
    if loaded is None:
        return ""
    pcm = await asyncio.to_thread(_pcm, wav)
    recognizer = await asyncio.to_thread(_free_form, loaded.model)
    step = int(CHUNK_S * SAMPLE_RATE) * 2
    parts = []
    for i in range(0, len(pcm), step):  # one job at a time: the recognizer is used in order
        parts.append(await gateway.run_speech(_accept, recognizer, pcm[i:i + step],
                                              urgency=Urgency.BACKGROUND))
    parts.append(await gateway.run_speech(lambda: _text(recognizer.FinalResult()),
                                          urgency=Urgency.BACKGROUND))
    return " ".join(p for p in parts if p)


def _pcm(wav: bytes) -> bytes:
    segment: Any = AudioSegment.from_file(io.BytesIO(wav))
    pcm: bytes = segment.set_channels(1).set_sample_width(2).set_frame_rate(SAMPLE_RATE).raw_data
    return pcm


def _free_form(model: Any) -> Any:
    import vosk

    return vosk.KaldiRecognizer(model, SAMPLE_RATE)  # free-form: a message is open speech


def _accept(recognizer: Any, pcm: bytes) -> str:
    return _text(recognizer.Result()) if recognizer.AcceptWaveform(pcm) else ""


def _text(raw: str) -> str:
    import json

    return str(json.loads(raw).get("text", "")).strip()



