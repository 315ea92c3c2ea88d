"""The words every call understands, whatever the flow says, and how phrases are matched.

Tables per language (primary BCP-47 subtag). English and Korean are required; Chinese is a start.
The Korean person words are ones the small Korean Vosk model recognises within a grammar.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from ivr.language import primary


@dataclass(frozen=True)
class LanguageWords:
    """Global phrases for one language."""

    person: tuple[str, ...]
    robot: tuple[str, ...]  # "am I talking to a robot?" in its common forms
    repeat: tuple[str, ...]
    yes: tuple[str, ...]
    no: tuple[str, ...]
    # How phrases match: whole words (en), start of a word (ko: particles attach at the end),
    # or anywhere (zh: no spaces between words).
    match: Literal["words", "prefix", "chars"] = "words"
    # For small models, the global words to add to every step's recognition grammar, chosen
    # by measurement: every word in a Vosk grammar competes with the step's own choices.
    # None: add every global phrase (person, robot, repeat, emergencies, distress).
    grammar: tuple[str, ...] | None = None


WORDS: dict[str, LanguageWords] = {
    "en": LanguageWords(
        person=("agent", "representative", "human", "operator", "person", "real person",
                "someone", "customer service"),
        robot=("robot", "a machine", "a computer", "a bot", "is this a real person",
               "are you a real person", "are you a person", "are you human", "are you real",
               "is this a person", "is this automated", "is this a recording"),
        repeat=("repeat", "say that again", "again", "pardon", "come again"),
        yes=("yes", "yeah", "yep", "sure", "correct", "please do", "okay"),
        no=("no", "nope", "no thanks", "that's all", "nothing else", "nothing"),
    ),
    "ko": LanguageWords(
        person=("상담원", "상담사", "사람", "직원", "사람 연결"),
        robot=("로봇", "기계", "사람이에요", "사람인가요", "자동 응답", "자동응답"),
        repeat=("다시", "다시 말해", "반복"),
        yes=("네", "맞아요", "그래요"),  # not 예/응: they begin 예약 and 응급
        no=("아니요", "아니", "없어요", "괜찮아요"),
        match="prefix",
        # Measured with espeak-ng at 8 kHz (tests/speech): these stay recognisable next to a
        # menu's words; 짜증, 최악 and 응급 were misheard as other words or not at all. No
        # emergency word is built in: out-of-grammar speech is forced onto grammar words (화나,
        # "angry", was heard as 화재, "fire"), so a flow opts in with its own `emergencies`.
        grammar=("상담원", "사람", "로봇", "다시", "몇 번"),
    ),
    "zh": LanguageWords(
        person=("人工", "客服", "人工服务", "转人工", "真人", "接线员"),
        robot=("机器人", "你是人吗", "是真人吗", "是机器", "自动"),
        repeat=("重复", "再说一遍", "再说一次"),
        yes=("是", "对", "好", "是的"),
        no=("不", "没有", "不用", "不是"),
        match="chars",
    ),
}

PERSON_KEY = "0"
REPEAT_KEY = "*"
YES_KEY = "1"
NO_KEY = "2"
RESERVED_KEYS = (PERSON_KEY, REPEAT_KEY)


def words_for(language: str) -> LanguageWords:
    """Global phrases for a BCP-47 tag; English when the language has no table yet."""
    return WORDS.get(primary(language), WORDS["en"])


def normalize(text: str) -> str:
    """Lower-case, punctuation to spaces, runs of spaces folded: the form phrases match in."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = re.sub(r"[^\w' ]+", " ", text)
    return " ".join(text.split())


def contains(text: str, phrase: str, match: str = "words") -> bool:
    """Whether `phrase` occurs in `text` under a language's matching mode (see LanguageWords)."""
    text, phrase = normalize(text), normalize(phrase)
    if not phrase:
        return False
    if match == "chars":
        return phrase.replace(" ", "") in text.replace(" ", "")
    pattern = r"\s*".join(re.escape(part) for part in phrase.split())
    end = "" if match == "prefix" else r"(?![\w'])"
    return re.search(rf"(?<![\w']){pattern}{end}", text) is not None


def find_any(text: str, phrases: tuple[str, ...] | list[str], match: str = "words") -> str | None:
    """The longest of `phrases` found in `text`, if any."""
    found = [p for p in phrases if contains(text, p, match)]
    return max(found, key=len) if found else None
