"""Distress and emergency detection: precision and recall per class, on labelled caller
utterances (bench/data/caller_utterances.csv), on MELD's TV dialogue as an outside second
opinion, and on loud/normal speech clips through the gateway's own voice-activity path.

    python -m bench.distress [--meld FILE.csv] [--no-audio]

The last line is `MELD anger+disgust vs neutral: recall R, precision P, neutral flagged F (n=N)`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from ivr.audio.mulaw import FRAME_BYTES, dbfs, peak, ulaw_to_pcm
from ivr.audio.render import segment_to_ulaw
from ivr.flow import events as ev
from ivr.flow.loader import load_flow_text
from ivr.flow.model import Flow
from ivr.flow.state import CallState
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


def as_transcript(text: str) -> str:
    """What a recogniser would give for a line of dialogue: lower case, no punctuation (so
    exclamation marks, which a phone transcript never has, cannot help the detector)."""
    text = text.replace("\u2019", "'").replace("\u0092", "'").lower()
    return " ".join(re.sub(r"[^\w' ]+", " ", text).split())


def meld(path: Path) -> str:
    """Per-emotion share flagged at each sensitivity, VADER alone for reference; returns the
    summary line (anger+disgust vs neutral, at the default sensitivity)."""
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    lines = [(row["Emotion"], as_transcript(row["Utterance"])) for row in rows]
    scores = [(emotion, assess_text(text, "en").score) for emotion, text in lines]
    print(f"\nMELD ({path.name}: {len(rows)} TV-dialogue lines, scored as phone transcripts), "
          "share flagged as distress:")
    print(f"  {'emotion':<9}{'n':>5}  " + "  ".join(f"{s:>6}" for s in ("low", "normal", "high")))
    for emotion in ("anger", "disgust", "sadness", "fear", "surprise", "neutral", "joy"):
        mine = [score for e, score in scores if e == emotion]
        shares = [_ratio(sum(s >= THRESHOLDS[level] for s in mine), len(mine))
                  for level in ("low", "normal", "high")]
        print(f"  {emotion:<9}{len(mine):>5}  " + "  ".join(f"{x:>6}" for x in shares))
    _vader_reference(lines)
    flagged = {e: sum(s >= THRESHOLDS["normal"] for x, s in scores if x == e) for e, _ in scores}
    counts = Counter(e for e, _ in scores)
    tp = flagged.get("anger", 0) + flagged.get("disgust", 0)
    pos = counts["anger"] + counts["disgust"]
    fp = flagged.get("neutral", 0)
    return (f"MELD anger+disgust vs neutral: recall {_ratio(tp, pos)}, precision {_ratio(tp, tp + fp)}, "
            f"neutral flagged {_ratio(fp, counts['neutral'])} (n={pos + counts['neutral']})")


def _vader_reference(lines: list[tuple[str, str]]) -> None:
    """VADER alone, its threshold set to flag at most 1% of neutral lines: the bar to beat."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    negativity = [(e, -float(analyzer.polarity_scores(t)["compound"])) for e, t in lines]
    neutral = sorted((v for e, v in negativity if e == "neutral"), reverse=True)
    if not neutral:
        return
    cut = neutral[int(0.01 * len(neutral))]  # flag only what is more negative than this
    angry = [v for e, v in negativity if e in ("anger", "disgust")]
    caught = sum(v > cut for v in angry)
    print(f"  VADER alone at <=1% of neutral flagged (compound < {-cut:+.2f}): "
          f"recall {_ratio(caught, len(angry))} on anger+disgust")


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


NORMAL_GAIN_DB = -4.0  # puts espeak-ng's voice near ordinary phone speech (about -20 dBFS)


def loudness() -> None:
    level = utterance_of(speech_clip(LOUDNESS_PHRASES[0], NORMAL_GAIN_DB)).mean_db
    print(f"\nLoud vs normal voice (espeak-ng clips through the voice-activity gate). Each caller "
          f"speaks normally ({level:.0f} dBFS) for 0, 1 or 2 utterances, then once louder by:")
    print(f"  {'gain':>6}  {'first words':>11}  {'after one':>9}  {'after two':>9}")
    n = len(LOUDNESS_PHRASES)
    for gain in (0.0, 3.0, 6.0, 10.0, 14.0, 20.0):
        flagged = [0, 0, 0]
        for i, phrase in enumerate(LOUDNESS_PHRASES):
            loud = speech_clip(phrase, NORMAL_GAIN_DB + gain)
            for calm_before in (0, 1, 2):
                baseline = LoudnessBaseline()
                for warmup in [LOUDNESS_PHRASES[(i + k + 1) % n] for k in range(calm_before)]:
                    baseline.judge(utterance_of(speech_clip(warmup, NORMAL_GAIN_DB)))
                flagged[calm_before] += _shouting(baseline, loud)
        print(f"  +{gain:>4.0f} dB  " + "  ".join(f"{f:>{w}}" for f, w in
                                                zip([f"{x}/{n}" for x in flagged], (11, 9, 9), strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.distress", description=__doc__.split("\n\n")[0])
    parser.add_argument("--meld", type=Path, default=MELD, help="a CSV in MELD's format")
    parser.add_argument("--no-audio", action="store_true", help="skip the loudness clips (espeak-ng)")
    args = parser.parse_args(argv)
    for sensitivity in ("normal", "high", "low"):
        caller_set(sensitivity)
    if not args.no_audio:
        loudness()
    if not args.meld.is_file():
        print(f"\nMELD not found at {args.meld}; pass --meld FILE.csv", file=sys.stderr)
        return 2
    print(meld(args.meld))  # the last line, in a fixed format for scripts
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
