"""Language tags: one helper, so every table is looked up the same way."""

from __future__ import annotations


def primary(language: str) -> str:
    """The primary subtag, lower case: "ko-KR" -> "ko", "en-us" -> "en", "zh" -> "zh"."""
    return language.strip().split("-")[0].lower()
