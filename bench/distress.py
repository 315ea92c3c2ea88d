"""Distress and emergency detection: precision and recall per class, on labelled caller
utterances (bench/data/caller_utterances.csv), on MELD's TV dialogue as an outside second
opinion, and on loud/normal speech clips through the gateway's own voice-activity path.

    python -m bench.distress
"""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from ivr.audio.mulaw import FRAME_BYTES, dbfs, peak, ulaw_to_pcm
from ivr.audio.render import segment_to_ulaw
from ivr.flow import events as ev
from ivr.flow.engine import CallState
from ivr.flow.loader import load_flow_text
from ivr.flow.model import Flow
from ivr.guard.distress import THRESHOLDS, assess_loudness, assess_text
from ivr.guard.signals import emergency_words
from ivr.speech.vad import LoudnessBaseline, Utterance, VoiceActivity

HERE = Path(__file__).resolve().parent
UTTERANCES = HERE / "data" / "caller_utterances.csv"
MELD = HERE.parent.parent / "shared" / "data" / "meld" / "dev_sent_emo.csv"
DISTRESS = {"frustrated", "angry"}
NOT_DISTRESS = {"calm", "routine"}


def bare_flow(language: str) -> Flow:
    """A flow with no emergencies of its own: only the built-in ones are measured."""
    return load_flow_text(f"""
name: bench
language: {language}
timezone: UTC
people: {{desk: {{label: desk, numbers: ["+1"]}}}}
routing: {{person: desk, emergency: desk}}
callback_promise: soon
disclosure: {{text: "This is an automated line. Say agent or press 0."}}
start: bye
steps: {{bye: {{kind: hangup}}}}
""", "bench.yaml")


@dataclass
class Verdict:
    emergency: bool
    distress: bool


def classify(text: str, language: str, flows: dict[str, Flow], sensitivity: str) -> Verdict:
    flow = flows.setdefault(language, bare_flow(language))
    state = CallState(call_id="bench", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    if emergency_words(flow, state, ev.Heard(text)) is not None:
        return Verdict(True, False)
    return Verdict(False, assess_text(text, language).score >= THRESHOLDS[sensitivity])


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


def caller_set(sensitivity: str) -> None:
    rows = list(csv.DictReader(UTTERANCES.read_text(encoding="utf-8").splitlines()))
    flows: dict[str, Flow] = {}
    per_class: dict[str, Counter[str]] = defaultdict(Counter)
    misses: list[str] = []
    for row in rows:
        verdict = classify(row["text"], row["lang"], flows, sensitivity)
        label = row["label"]
        per_class[label]["n"] += 1
        per_class[label]["emergency"] += verdict.emergency
        per_class[label]["distress"] += verdict.distress
        wrong = (label == "emergency") != verdict.emergency or \
            (label in DISTRESS and not verdict.distress) or (label in NOT_DISTRESS and verdict.distress)
        if wrong and label != "ambiguous":
            found = "emergency" if verdict.emergency else "distress" if verdict.distress else "none"
            misses.append(f"  {label:<10} {row['lang']} {row['text']!r} -> {found}")
    print(f"\nLabelled caller utterances ({len(rows)}; en/ko/zh), sensitivity {sensitivity}:")
    print(f"  {'class':<11}{'n':>4} {'-> emergency':>13} {'-> distress':>12}")
    for label in ("calm", "routine", "ambiguous", "frustrated", "angry", "emergency"):
        c = per_class[label]
        print(f"  {label:<11}{c['n']:>4} {c['emergency']:>13} {c['distress']:>12}")
    e_tp = per_class["emergency"]["emergency"]
    e_fp = sum(per_class[k]["emergency"] for k in per_class if k != "emergency")
    d_tp = sum(per_class[k]["distress"] for k in DISTRESS)
    d_pos = sum(per_class[k]["n"] for k in DISTRESS)
    d_fp = sum(per_class[k]["distress"] for k in NOT_DISTRESS)
    print(f"  emergency: recall {_ratio(e_tp, per_class['emergency']['n'])}, "
          f"precision {_ratio(e_tp, e_tp + e_fp)}")
    print(f"  distress (frustrated+angry vs calm+routine; ambiguous left out): recall "
          f"{_ratio(d_tp, d_pos)}, precision {_ratio(d_tp, d_tp + d_fp)}")
    if misses and sensitivity == "normal":
        print("  misclassified:")
        print("\n".join(misses))


def meld() -> None:
    if not MELD.is_file():
        print(f"\nMELD not found at {MELD}; skipped")
        return
    rows = list(csv.DictReader(MELD.read_text(encoding="utf-8").splitlines()))
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        text = row["Utterance"].replace("\u2019", "'").replace("\u0092", "'")
        flagged = assess_text(text, "en").score >= THRESHOLDS["normal"]
        counts[row["Emotion"]]["n"] += 1
        counts[row["Emotion"]]["flagged"] += flagged
    print(f"\nMELD dev split ({len(rows)} TV-dialogue utterances), share flagged as distress:")
    for emotion in ("anger", "disgust", "sadness", "fear", "surprise", "neutral", "joy"):
        c = counts[emotion]
        print(f"  {emotion:<9}{c['n']:>5}  {_ratio(c['flagged'], c['n'])}")
    tp = counts["anger"]["flagged"] + counts["disgust"]["flagged"]
    pos = counts["anger"]["n"] + counts["disgust"]["n"]
    fp = counts["neutral"]["flagged"] + counts["joy"]["flagged"]
    print(f"  anger+disgust vs neutral+joy: recall {_ratio(tp, pos)}, precision {_ratio(tp, tp + fp)}"
          " (TV dialogue is mostly mild; a second opinion, not the target)")


LOUDNESS_PHRASES = ["I need someone to look at my boiler", "the water is still leaking",
                    "can someone come today", "I already told you the address",
                    "why is nobody answering", "this is the third time I have called"]


def speech_clip(text: str, gain_db: float) -> bytes:
    """espeak-ng speech at a given gain, as 8 kHz mu-law (what the gateway receives)."""
    import io
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from pydub import AudioSegment
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "--stdout", text], capture_output=True,
                         check=True).stdout
    return segment_to_ulaw(AudioSegment.from_wav(io.BytesIO(wav)).apply_gain(gain_db))


def utterance_of(ulaw: bytes) -> Utterance:
    """The one utterance the voice-activity gate finds in a clip (level and clipping)."""
    vad = VoiceActivity(300)
    for i in range(0, len(ulaw) + FRAME_BYTES * 20, FRAME_BYTES):
        frame = ulaw[i:i + FRAME_BYTES] or b"\xff" * FRAME_BYTES
        pcm = ulaw_to_pcm(frame)
        if vad.frame(dbfs(pcm), peak(pcm)) == "end":
            return vad.utterance()
    raise RuntimeError("no utterance found")


def _shouting(baseline: LoudnessBaseline, ulaw: bytes) -> bool:
    loud = baseline.judge(utterance_of(ulaw))
    return assess_loudness(loud.db_over, loud.against, loud.clipped).score >= THRESHOLDS["normal"]


def loudness() -> None:
    print("\nLoud vs normal voice (espeak-ng clips through the voice-activity gate). Each caller "
          "speaks normally (-18 dB gain) for 0, 1 or 2 utterances, then once at the given gain:")
    print(f"  {'gain':>6}  {'first words':>11}  {'after one':>9}  {'after two':>9}")
    n = len(LOUDNESS_PHRASES)
    for gain in (0.0, 3.0, 6.0, 10.0, 14.0, 20.0):
        flagged = [0, 0, 0]
        for i, phrase in enumerate(LOUDNESS_PHRASES):
            loud = speech_clip(phrase, -18.0 + gain)
            for calm_before in (0, 1, 2):
                baseline = LoudnessBaseline()
                for warmup in [LOUDNESS_PHRASES[(i + k + 1) % n] for k in range(calm_before)]:
                    baseline.judge(utterance_of(speech_clip(warmup, -18.0)))
                flagged[calm_before] += _shouting(baseline, loud)
        print(f"  +{gain:>4.0f} dB  " + "  ".join(f"{f:>{w}}" for f, w in
                                                zip([f"{x}/{n}" for x in flagged], (11, 9, 9), strict=True)))


def main() -> int:
    for sensitivity in ("normal", "high", "low"):
        caller_set(sensitivity)
    meld()
    if "--no-audio" not in sys.argv:
        loudness()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
