"""Card numbers never kept: whatever a caller's words become (transcript, whisper, handoff record,
live view, voicemail transcript, text message, CSV), a card-like number keeps its last four digits.

Callers read numbers out in groups with any separator, and Vosk writes spoken digits as words
("four one one one ..." in English, 사 일 일 일 in Korean, 四 一 一 一 in Chinese), so both
forms count. 13 to 19 digits in a row is a card number's length; a phone number (at most 15
digits, usually 10-12) said alone rarely reaches it, and masking one by mistake loses little.
"""

from __future__ import annotations

import re

SPOKEN_DIGITS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "영": "0", "공": "0", "일": "1", "이": "2", "삼": "3", "사": "4", "오": "5", "육": "6", "륙": "6",
    "칠": "7", "팔": "8", "구": "9",
    "零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5",
    "六": "6", "七": "7", "八": "8", "九": "9",
}
_WORDS = "|".join(sorted((w for w in SPOKEN_DIGITS if w.isascii()), key=len, reverse=True))
_SIGNS = "".join(w for w in SPOKEN_DIGITS if not w.isascii())
_DIGIT = rf"(?:\d|\b(?:{_WORDS})\b|[{_SIGNS}])"
_SEPARATOR = r"[\s.\-/,·]*"
CARD = re.compile(rf"{_DIGIT}(?:{_SEPARATOR}{_DIGIT}){{12,}}", re.IGNORECASE)


def _digits(run: str) -> str:
    tokens = re.findall(rf"\d|[A-Za-z]+|[{_SIGNS}]", run)
    return "".join(t if t.isdigit() else SPOKEN_DIGITS[t.lower()] for t in tokens)


def mask_cards(text: str) -> str:
    """`text` with every card-like number (13-19 digits, written or spoken) cut to its last four."""
    def mask(match: re.Match[str]) -> str:
        digits = _digits(match.group(0))
        return f"**** {digits[-4:]}" if len(digits) >= 13 else match.group(0)

    return CARD.sub(mask, text)
