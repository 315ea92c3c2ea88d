"""`ivr call --twilio`: a call placed through the real gateway, from the terminal.

The gateway runs on a loopback port; the Twilio simulator calls it. What you type is spoken
by espeak-ng in the flow's language and recognised by Vosk on the gateway, exactly as a
caller's voice would be; `#5` is a key press, an empty line stays silent, `/hangup` hangs up.
A voicemail is a short spoken message, served to the gateway as Twilio serves recordings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import secrets
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from ivr.audio.render import PromptRenderer
from ivr.audio.wav import ulaw_to_wav
from ivr.config import Settings
from ivr.errors import IvrError
from ivr.language import primary
from testkit.local_gateway import RunningGateway, free_port
from testkit.twilio_simulator import (
    HangUp,
    Listen,
    Pause,
    Press,
    SimulatedCall,
    Speak,
    Step,
    Then,
    TwilioSimulator,
)


def run_terminal_call(args: argparse.Namespace) -> int:
    """Start a local gateway, place one simulated call, print both sides, stop."""
    token = secrets.token_hex(16)
    folder = args.flow.resolve().parent  # serve the flows beside the one being called
    settings = Settings(host="127.0.0.1", port=free_port(), twilio_auth_token=token,
                        flows_dir=folder, audio_dir=folder.parent / "audio")
    print("starting the gateway (loading speech models, rendering prompts)...", file=sys.stderr)
    try:
        running = RunningGateway(settings, warm_out=sys.stderr).start()
    except (IvrError, OSError) as exc:
        print(f"cannot start the gateway: {exc}", file=sys.stderr)
        return 1
    try:
        flow_name = args.flow.stem
        flow = running.gateway.book.flows.get(flow_name)
        if flow is None:
            print(f"{args.flow} is not in {settings.flows_dir}/; the gateway serves only those",
                  file=sys.stderr)
            return 1
        speech = running.gateway.speech_status(flow.language)
        print(f"calling {flow.name} through the gateway; speech: {speech}")
        lines = iter(args.script.read_text(encoding="utf-8").splitlines()) if args.script else None
        with tempfile.TemporaryDirectory() as tmp:
            voice = PromptRenderer(Path(tmp), Path(tmp))
            caller = _TerminalCaller(running, flow.language, voice, lines)
            to = flow.phone_numbers[0] if flow.phone_numbers else ""
            message = voice.render(MESSAGE.get(primary(flow.language), MESSAGE["en"]), flow.language)
            with _served_recording(message) as recording_url:
                sim = TwilioSimulator(running.base_url, token, recording_url=recording_url)
                call = asyncio.run(sim.call([Listen(), Then(caller.next_steps)], to=to,
                                            caller=args.caller))
        caller.show(call)
        print(f"\n--- call ended ({call.ended}); dialed: {call.dialed or 'nobody'}; "
              f"whisper: {call.whispers or '-'}")
        return 0
    finally:
        running.stop()


MESSAGE = {"en": "hello, this is a test message, please call me back",
           "ko": "안녕하세요 예약 문의 드립니다 전화 주세요",
           "zh": "你好 请给我回电话"}


@contextlib.contextmanager
def _served_recording(ulaw: bytes) -> Iterator[str]:
    """A voicemail recording at a local URL, as Twilio serves one (`<url>.wav`)."""
    body = ulaw_to_wav(ulaw)

    class Recording(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "audio/x-wav")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/Recordings/RE-terminal"
    finally:
        server.shutdown()
        server.server_close()


class _TerminalCaller:
    def __init__(self, running: RunningGateway, language: str, voice: PromptRenderer,
                 lines: Iterator[str] | None) -> None:
        self.running, self.language, self.voice, self.lines = running, language, voice, lines
        self.shown_said = 0
        self.shown_turns = 0

    def show(self, call: SimulatedCall) -> None:
        # The engine's turns first: TwiML (a voicemail's goodbye, a fallback) comes after them.
        gateway = self.running.gateway
        live = gateway.registry.get(call.sid) or gateway.read_call(call.sid)
        turns = live.state.turns if live else ()
        for turn in turns[self.shown_turns:]:
            if turn.text in call.said:  # said by TwiML: shown below, once
                continue
            who = "gateway" if turn.speaker == "system" else "heard  "
            print(f"  {who}: {turn.text}")
        self.shown_turns = len(turns)
        for text in call.said[self.shown_said:]:
            print(f"  gateway (TwiML): {text}")
        self.shown_said = len(call.said)

    async def next_steps(self, call: SimulatedCall) -> list[Step]:
        self.show(call)
        line = await asyncio.get_running_loop().run_in_executor(None, self._read)
        if line is None or line.strip() == "/hangup":
            return [HangUp()]
        line = line.strip()
        step: Step
        if line.startswith("#") and len(line) == 2:
            step = Press(line[1])
        elif not line:
            step = Pause(8)
        else:
            step = Speak(self.voice.render(line, self.language), line)
        return [step, Listen(), Then(self.next_steps)]

    def _read(self) -> str | None:
        if self.lines is not None:
            line = next(self.lines, None)
            while line is not None and line.startswith("//"):
                line = next(self.lines, None)
            if line is not None:
                print(f"caller> {line}")
            return line
        try:
            return input("you> ")
        except EOFError:
            return None



