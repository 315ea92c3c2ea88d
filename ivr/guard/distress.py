"""Distress: notice it on the first clear signal, and say why.

Signals from the words (our phrase lists for English, Korean and Chinese, plus the VADER
sentiment lexicon for English), the voice (loudness against the caller's own start) and the
conversation (the same thing said twice, "no, no", misses piling up) add up to a score. A
clear signal alone reaches the threshold; weaker ones need company. Each carries a reason
that is stored on the call and told to the person who answers.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from ivr.flow.events import CallerLoud, Event, Heard
from ivr.flow.model import Flow
from ivr.flow.state import CallState
from ivr.guard.signals import Signal
from ivr.guard.words import find_any, normalize, words_for
from ivr.language import primary

CLEAR = 1.0  # one clear signal is enough
SOME = 0.5  # needs another signal with it
SHOUT_DB = 10.0  # over the caller's own start
RAISED_DB = 6.0
SHOUT_OVER_PHONE_DB = 12.0  # before the caller has a start: over ordinary phone speech
CLIPPED_SHARE = 0.1  # a tenth of an utterance saturating the line is shouting into the phone
THRESHOLDS = {"low": 1.5, "normal": 1.0, "high": 0.5}  # high: one weak sign is enough

# English, as word patterns: each family generalises beyond the exact sentences we have seen.
STRONG_EN = re.compile("|".join([
    r"\b(fuck\w*|shit\w*|bullshit|damn\w*|goddamn\w*|crap|wtf|what the hell|bloody hell)\b",
    r"\b(idiot\w*|stupid|incompetent|useless|pathetic|moron\w*|fools?|clowns?|disgrace\w*)\b",
    r"\b(is this a joke|what a joke|a complete joke|are you kidding( me)?|you'?re kidding)\b",
    r"\b(furious|livid|fuming|outraged|outrageous|infuriat\w*|pissed\w*)\b",
    r"\b(i'?m|i am|so|really|getting)\s+(mad|angry|upset)\b",
    r"\b(frustrat\w*|annoy\w*|disappoint\w*|irritat\w*|exasperat\w*)\b",
    r"\b(sue|suing|lawyer|attorney|report you|better business bureau|ombudsman|legal action)\b",
    r"\bcancel (my|the|this|our) (account|subscription|service|contract|membership)\b",
    r"\b(close my account|never (use|call|recommend) you|take my business|i'?m leaving|money back|refund)\b",
    r"\b(manager|supervisor|your boss|someone in charge)\b",
    r"\b(you'?re|you are|you'?re not|nobody'?s) not listening|not listening to me|are you deaf\b",
    r"\b(i|i'?ve) (already|just) (said|told|explained)|how many times|for the last time\b",
    r"\b(stop asking|same question|repeating myself|not what i (said|asked|meant|wanted))\b",
    r"\b(third|fourth|fifth|tenth) time|again and again|over and over\b",
    r"\b(waste of (my )?time|wasting my time|nothing you('ve| have)? said)\b",
    r"\b(ridiculous|unacceptable|absurd|insane|appalling|disgusting)\b",
    r"\b(worst|terrible|awful|horrible|shocking) (service|company|experience|customer)\b",
    r"\b(i hate|hate this|hate you|shut up|had it with|fed up|sick (of|and tired)|tired of)\b",
    r"\b(i'?ve had enough|enough is enough|hanging up|i'?ll hang up)\b",
]), re.I)
CUES_EN = re.compile("|".join([
    r"\b(terrible|awful|horrible|worst|complain\w*|upset|confus\w*|complicated|so hard)\b",
    r"\b(all day|all week|keep (getting|saying|asking|telling|calling)|still (not|no|haven'?t|hasn'?t))\b",
    r"\b(nobody|no one|never (showed|came|called|arrived|turned up)|didn'?t (show|come|call|turn up))\b",
    r"\b(promised|twice|wrong|ruined|damaged|won'?t answer|cut off|and nothing|right now)\b",
    r"\b(same problem|came back|trying to reach|you people|why is (this|it) so|why (this|it) is so)\b",
]), re.I)

# Korean and Chinese phrases that are, on their own, a clear sign of anger or frustration.
ANGER: dict[str, tuple[str, ...]] = {
    "ko": (
        "짜증", "화나", "화가 나", "열받", "답답", "불만", "신고", "고소", "쓸모없", "쓸데없",
        "말이 안 돼", "이미 말했", "몇 번", "장난해", "장난하", "최악", "씨발", "시발", "개새끼",
        "젠장", "해지", "못 알아듣", "그만해", "책임자", "뭐하는",
    ),
    "zh": (
        "生气", "气死", "烦死", "投诉", "太差", "没用", "垃圾", "听不懂", "我已经说了", "说了多少遍",
        "退订", "销户", "他妈的", "滚", "废物", "受够了", "什么破", "浪费时间", "找你们经理", "太离谱",
    ),
}

# Words worth adding to a step's recognition grammar so that anger can be heard at all when
# recognition is restricted (English patterns cannot be listed; free-form steps hear them).
GRAMMAR_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("useless", "ridiculous", "stupid", "manager", "supervisor", "complaint", "furious",
           "frustrated", "not listening", "waste of time", "damn it"),
    "ko": ANGER["ko"],
    "zh": ANGER["zh"],
}


def distress_phrases(language: str) -> tuple[str, ...]:
    """Distress words for recognition grammars."""
    return GRAMMAR_WORDS.get(primary(language), GRAMMAR_WORDS["en"])


NEGATION_RUN = re.compile(r"\b(no[,.!]?\s+){1,}no\b|\bnope[,.!]?\s+no\b", re.I)


@dataclass(frozen=True)
class Assessment:
    """The score of one utterance, with the reasons behind it."""

    score: float
    reasons: tuple[str, ...]


@functools.lru_cache(maxsize=1)
def _vader() -> Any:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:  # the lexicon is optional; the phrase lists still work
        return None
    return SentimentIntensityAnalyzer()


def assess_text(text: str, language: str, previous: tuple[str, ...] = (), misses: int = 0) -> Assessment:
    """Score what a caller said, in the context of what they said before."""
    words = words_for(language)
    lang = primary(language)
    found: list[tuple[float, str]] = []
    if lang in ANGER:
        phrase = find_any(text, ANGER[lang], words.match)
        if phrase:
            found.append((CLEAR, f"said {phrase!r}"))
    else:
        found.extend(_english_words(text))
    said = normalize(text)
    trivial = {normalize(w) for w in (*words.yes, *words.no, *words.repeat)}
    if said and said not in trivial and not misses and said in {normalize(p) for p in previous}:
        # The bot acted on it and the caller says it again: the answer did not help, a loop.
        # (After a miss, the two-miss rule is already on its way to a person.)
        found.append((CLEAR, "said the same thing twice"))
    if lang == "en" and NEGATION_RUN.search(text):
        found.append((SOME, "answered 'no, no'"))
    if found and misses:
        found.append((SOME * misses, f"after {misses} misunderstanding(s)"))
    return Assessment(sum(w for w, _ in found), tuple(r for _, r in found))


def _english_words(text: str) -> list[tuple[float, str]]:
    strong = STRONG_EN.search(text)
    if strong:
        return [(CLEAR, f"said {strong.group(0)!r}")]
    found = [(SOME, f"said {m.group(0)!r}") for m in CUES_EN.finditer(text)]
    analyzer = _vader()
    if analyzer is not None:
        compound = float(analyzer.polarity_scores(text)["compound"])
        if compound <= -0.5:
            found.append((SOME, f"negative words (sentiment {compound:+.2f})"))
    return found[:2]  # two weak signs make a clear one; more do not add certainty


def assess_loudness(db_over: float, against: str = "their start", clipped: float = 0.0) -> Assessment:
    """Shouting: the line clipping, or a voice well over ordinary phone speech from the first
    word; once the caller has spoken, a voice raised over their own start."""
    # Measured on 8 kHz mu-law, whose companding shrinks level differences: 14 dB louder speech
    # measures about 12 dB louder (bench/distress.py).
    if clipped >= CLIPPED_SHARE:
        return Assessment(CLEAR, (f"shouting (the line clipped on {clipped:.0%} of it)",))
    if against != "their start":
        if db_over >= SHOUT_OVER_PHONE_DB:
            return Assessment(CLEAR, (f"shouting ({db_over:.0f} dB over ordinary phone speech)",))
        return Assessment(0.0, ())  # phones differ too much to call a voice merely raised
    if db_over >= SHOUT_DB:
        return Assessment(CLEAR, (f"shouting ({db_over:.0f} dB over their start)",))
    if db_over >= RAISED_DB:
        return Assessment(SOME, (f"raised voice ({db_over:.0f} dB over their start)",))
    return Assessment(0.0, ())


def distress(flow: Flow, state: CallState, event: Event) -> Signal | None:
    """Detector for the engine: distress from words, voice and the conversation so far.

    Returns a weighted signal; the engine adds weak ones up over the call and hands over when
    the total reaches the flow's threshold (`distress_sensitivity`)."""
    if isinstance(event, Heard) and event.final:
        said = state.caller_said()
        previous = tuple(said[:-1])  # the engine has already recorded this utterance
        assessment = assess_text(event.text, flow.language, previous, state.misses)
    elif isinstance(event, CallerLoud):
        assessment = assess_loudness(event.db_over, event.against, event.clipped)
    else:
        return None
    if assessment.score <= 0:
        return None
    return Signal("distress", "; ".join(assessment.reasons), weight=assessment.score)


def threshold(flow: Flow) -> float:
    """Total weight of distress signals that hands a caller over, by the flow's sensitivity."""
    return THRESHOLDS[flow.distress_sensitivity]
