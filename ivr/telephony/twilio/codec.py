"""Twilio Media Streams messages <-> neutral media events. The websocket route never sees JSON.

Inbound: connected, start, media, dtmf, mark, stop. Outbound: media, mark, clear.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ivr.telephony import media as m

MAX_MESSAGE_BYTES = 64 * 1024  # a 20 ms frame is ~250 bytes of JSON; anything this big is garbage
OUTBOUND_CHUNK_BYTES = 8000  # one second of mu-law per media message


class TwilioMediaCodec:
    """Stateless apart from the stream SID, which every outbound message must carry."""

    def __init__(self) -> None:
        self.stream_sid = ""
        self._decoders = {
            "connected": self._connected, "start": self._start, "media": self._media,
            "dtmf": self._dtmf, "mark": self._mark, "stop": self._stop,
        }

    def decode(self, raw: str | bytes) -> m.MediaEvent:
        """One websocket message to one event; garbage becomes `Ignored`, never an exception."""
        if len(raw) > MAX_MESSAGE_BYTES:
            return m.Ignored(f"oversized message ({len(raw)} bytes)")
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return m.Ignored("not JSON")
        if not isinstance(message, dict):
            return m.Ignored("not a JSON object")
        decoder = self._decoders.get(str(message.get("event")))
        if decoder is None:
            return m.Ignored(f"unknown event {str(message.get('event'))[:40]!r}")
        try:
            return decoder(message)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            return m.Ignored(f"malformed {message.get('event')} message: {exc}")

    def _connected(self, message: dict[str, Any]) -> m.MediaEvent:
        return m.Ignored("connected")

    def _start(self, message: dict[str, Any]) -> m.MediaEvent:
        start = message["start"]
        self.stream_sid = str(message.get("streamSid") or start["streamSid"])
        params = start.get("customParameters") or {}
        return m.StreamStarted(str(start["callSid"]), self.stream_sid,
                               {str(k): str(v) for k, v in params.items()})

    def _media(self, message: dict[str, Any]) -> m.MediaEvent:
        media = message["media"]
        if media.get("track", "inbound") != "inbound":
            return m.Ignored("outbound track")
        stamp = media.get("timestamp")
        # strict: only the base64 alphabet and correct padding, as validate=True, in C alone
        return m.Audio(binascii.a2b_base64(media["payload"], strict_mode=True),
                       int(stamp) if stamp is not None else None)

    def _dtmf(self, message: dict[str, Any]) -> m.MediaEvent:
        digit = str(message["dtmf"]["digit"])
        if len(digit) != 1 or digit not in "0123456789*#":
            raise ValueError(f"not a key: {digit[:10]!r}")
        return m.Key(digit)

    def _mark(self, message: dict[str, Any]) -> m.MediaEvent:
        return m.MarkPlayed(str(message["mark"]["name"]))

    def _stop(self, message: dict[str, Any]) -> m.MediaEvent:
        return m.StreamStopped(hung_up=True)

    # ---- outbound ----

    def media(self, ulaw: bytes) -> list[str]:
        """Audio for the caller, in one-second messages."""
        return [json.dumps({"event": "media", "streamSid": self.stream_sid,
                            "media": {"payload": base64.b64encode(ulaw[i:i + OUTBOUND_CHUNK_BYTES])
                                      .decode("ascii")}})
                for i in range(0, len(ulaw), OUTBOUND_CHUNK_BYTES)]

    def mark(self, name: str) -> str:
        """Ask Twilio to tell us when the audio sent so far has played."""
        return json.dumps({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    def clear(self) -> str:
        """Drop audio Twilio has buffered (barge-in)."""
        return json.dumps({"event": "clear", "streamSid": self.stream_sid})
