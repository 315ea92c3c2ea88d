"""`ivr call --twilio`: a call placed through the real gateway, from the terminal.

The gateway runs on a loopback port; the Twilio simulator calls it. What you type is spoken
by espeak-ng in the flow's language and recognised by Vosk on the gateway, exactly as a
caller's voice would be; `#5` is a key press, an empty line stays silent, `/hangup` hangs up.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ivr.audio.render import PromptRenderer
from ivr.config import Settings
from ivr.errors import IvrError
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
            sim = TwilioSimulator(running.base_url, token)
            call = asyncio.run(sim.call([Listen(), Then(caller.next_steps)], to=to, caller=args.caller))
        caller.show(call)
        print(f"\n--- call ended ({call.ended}); dialed: {call.dialed or 'nobody'}; "
              f"whisper: {call.whispers or '-'}")
        return 0
    finally:
        running.stop()


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



