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
from typing import TYPE_CHECKING, Any

from ivr.flow.events import CallerLoud, Event, Heard
from ivr.guard.signals import Signal
from ivr.guard.words import find_any, normalize, words_for

if TYPE_CHECKING:
    from ivr.flow.engine import CallState
    from ivr.flow.model import Flow

CLEAR = 1.0  # one clear signal is enough
SOME = 0.5  # needs another signal with it
THRESHOLDS = {"low": 1.5, "normal": 1.0, "high": 0.6}

# Phrases that are, on their own, a clear sign the caller is angry or fed up with the bot.
ANGER: dict[str, tuple[str, ...]] = {
    "en": (
        "fuck", "fucking", "shit", "damn it", "goddamn", "bullshit", "pissed off", "piss off",
        "ridiculous", "useless", "stupid machine", "stupid robot", "stupid bot", "this is stupid",
        "furious", "so angry", "really angry", "i'm angry", "i am angry", "fed up", "sick of this",
        "sick and tired", "waste of time", "wasting my time", "unacceptable", "terrible service",
        "worst service", "pathetic", "joke", "are you kidding me", "you're not listening",
        "you are not listening", "not listening to me", "i already said", "i already told you",
        "i just said", "i said that already", "how many times", "for the last time",
        "this is useless", "doesn't work", "does not work", "nothing works",
        "let me talk to", "i want to complain", "make a complaint", "file a complaint",
        "complaint", "cancel my account", "cancel my subscription", "cancel my service",
        "cancel my contract", "close my account", "i'm leaving", "switch to another company",
        "speak to a manager", "talk to a manager", "get me a manager", "supervisor", "lawyer",
        "sue you", "report you", "shut up", "hate this", "i hate", "what the hell", "hell is wrong",
        "for god's sake", "come on",
    ),
    "ko": (
        "짜증", "화나", "화가 나", "열받", "답답", "불만", "신고", "고소", "쓸모없", "쓸데없",
        "말이 안 돼", "이미 말했", "몇 번", "장난해", "장난하", "최악", "씨발", "시발", "개새끼",
        "젠장", "해지", "안 들려요", "못 알아듣", "그만해", "빨리", "책임자", "뭐하는",
    ),
    "zh": (
        "生气", "气死", "烦死", "投诉", "太差", "没用", "垃圾", "听不懂", "我已经说了", "说了多少遍",
        "退订", "销户", "他妈的", "滚", "废物", "受够了", "什么破", "浪费时间", "找你们经理", "太离谱",
    ),
}

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
    lang = language.split("-")[0].lower()
    found: list[tuple[float, str]] = []
    phrase = find_any(text, ANGER.get(lang, ANGER["en"]), words.match)
    if phrase:
        found.append((CLEAR, f"said {phrase!r}"))
    if lang == "en" and not phrase:
        found.extend(_sentiment(text))
    said = normalize(text)
    substantial = len(said.split()) >= 2 or (words.match != "words" and len(said) >= 4)
    if said and previous and said == normalize(previous[-1]) and substantial and not misses:
        # The bot acted on it and the caller says it again: the answer did not help, a loop.
        # (After a miss, the two-miss rule is already on its way to a person.)
        found.append((CLEAR, "said the same thing twice"))
    if lang == "en" and NEGATION_RUN.search(text):
        found.append((SOME, "answered 'no, no'"))
    if found and misses:
        found.append((SOME * misses, f"after {misses} misunderstanding(s)"))
    return Assessment(sum(w for w, _ in found), tuple(r for _, r in found))


def _sentiment(text: str) -> list[tuple[float, str]]:
    analyzer = _vader()
    if analyzer is None:
        return []
    compound = float(analyzer.polarity_scores(text)["compound"])
    if compound <= -0.6:
        return [(0.6, f"very negative words (sentiment {compound:+.2f})")]
    if compound <= -0.4:
        return [(0.4, f"negative words (sentiment {compound:+.2f})")]
    return []


def assess_loudness(db_over_baseline: float) -> Assessment:
    """Shouting, judged against the caller's own first utterances."""
    if db_over_baseline >= 12:
        return Assessment(CLEAR, (f"shouting ({db_over_baseline:.0f} dB over their start)",))
    if db_over_baseline >= 8:
        return Assessment(SOME, (f"raised voice ({db_over_baseline:.0f} dB over their start)",))
    return Assessment(0.0, ())


def distress(flow: Flow, state: CallState, event: Event) -> Signal | None:
    """Detector for the engine: distress from words, voice and the conversation so far.

    Returns a weighted signal; the engine adds weak ones up over the call and hands over when
    the total reaches the flow's threshold (`distress_sensitivity`)."""
    if isinstance(event, Heard) and event.final:
        said = [t.text for t in state.turns if t.speaker == "caller" and not t.text.startswith("[")]
        previous = tuple(said[:-1])  # the engine has already recorded this utterance
        assessment = assess_text(event.text, flow.language, previous, state.misses)
    elif isinstance(event, CallerLoud):
        assessment = assess_loudness(event.db_over_baseline)
    else:
        return None
    if assessment.score <= 0:
        return None
    return Signal("distress", "; ".join(assessment.reasons), weight=assessment.score)


def threshold(flow: Flow) -> float:
    """Total weight of distress signals that hands a caller over, by the flow's sensitivity."""
    return THRESHOLDS[flow.distress_sensitivity]
