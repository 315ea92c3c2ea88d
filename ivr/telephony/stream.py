"""The thin loop between a media-stream websocket and a call session, for any provider.

The provider's codec turns its messages into neutral media events and the session's audio,
marks and clears back into its messages; Twilio's is `ivr.telephony.twilio.codec`, and the
console's microphone speaks the same format.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from ivr.telephony import media as m
from ivr.telephony.calls import LiveCall
from ivr.telephony.gateway import Gateway
from ivr.telephony.session import CallSession

log = logging.getLogger(__name__)
START_WITHIN_S = 5.0  # Twilio sends `connected` and `start` at once


async def pump_media_stream(gateway: Gateway, websocket: WebSocket, codec: m.MediaCodec,
                            accept_call: Callable[[LiveCall], bool] | None = None) -> None:
    """Run one accepted websocket as a call's media stream until either side ends it
    (`accept_call`: the calls this client may drive; the call's token is checked anyway)."""
    session = CallSession(gateway, _WebSocketOutbound(websocket, codec), accept_call)
    started = asyncio.get_running_loop().time()
    try:
        while not session.closed:
            if session.call is None:  # a stream that never says which call it is goes, soon
                left = START_WITHIN_S - (asyncio.get_running_loop().time() - started)
                try:
                    message = await asyncio.wait_for(websocket.receive(), max(left, 0.0))
                except TimeoutError:
                    log.warning("media stream closed: no start message within %.0f s", START_WITHIN_S)
                    await websocket.close(code=1008)
                    break
            else:
                message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw: Any = message.get("text") if message.get("text") is not None else message.get("bytes")
            await session.handle(codec.decode(raw or ""))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await session.handle(m.StreamStopped())


class _WebSocketOutbound:
    """Session output as the provider's media/mark/clear messages."""

    def __init__(self, websocket: WebSocket, codec: m.MediaCodec) -> None:
        self.websocket = websocket
        self.codec = codec

    async def play(self, ulaw: bytes, mark: str) -> None:
        for message in self.codec.media(ulaw):
            await self.websocket.send_text(message)
        await self.websocket.send_text(self.codec.mark(mark))

    async def clear(self) -> None:
        await self.websocket.send_text(self.codec.clear())

    async def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # already closed by the other side
            await self.websocket.close()
