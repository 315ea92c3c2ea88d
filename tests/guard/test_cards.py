"""Card numbers keep only their last four digits, however they were said or written."""

from __future__ import annotations

import pytest

from ivr.guard.cards import mask_cards
from tests.conftest import SHIPPED
from tests.flow.driver import Caller


@pytest.mark.parametrize(("said", "kept"), [
    ("my card is 4111 1111 1111 1234 thanks", "my card is **** 1234 thanks"),
    ("4111-1111-1111-1234", "**** 1234"),
    ("4111.1111.1111.1234", "**** 1234"),
    ("4111/1111/1111/1234", "**** 1234"),
    ("4111111111111234", "**** 1234"),
    ("3782 822463 10005", "**** 0005"),  # 15 digits, grouped 4-6-5
    ("four one one one one one one one one one one one one two three four", "**** 1234"),  # Vosk, en
    ("Four One one one, one one one one. one one one one one two three four", "**** 1234"),
    ("사 일 일 일 일 일 일 일 일 일 일 일 일 이 삼 사", "**** 1234"),  # Vosk, ko
    ("카드 번호는 사일일일 일일일일 일일일일 일이삼사 입니다", "카드 번호는 **** 1234 입니다"),
    ("四一一一 一一一一 一一一一 一二三四", "**** 1234"),  # Vosk, zh
    ("卡号四幺幺幺幺幺幺幺幺幺幺幺幺二三四", "卡号**** 1234"),
])
def test_card_numbers_are_masked_however_they_are_said(said: str, kept: str) -> None:
    assert mask_cards(said) == kept


@pytest.mark.parametrize("said", ["call 555 0100", "+1 555 010 0100", "010 1234 5678", "one two three",
                                  "이 일이 중요해요", "一二三四五", "order 12345678"])
def test_shorter_numbers_and_ordinary_words_stay(said: str) -> None:
    assert mask_cards(said) == said


def test_a_card_said_to_the_engine_is_masked_in_the_transcript_and_the_whisper() -> None:
    plumbing = next(s for s in SHIPPED if s.name == "plumbing")
    caller = Caller(plumbing.load(), plumbing.open_at)
    caller.say("my card is 4111 1111 1111 1234")
    caller.say("agent")
    transfer = caller.transfer()
    assert transfer is not None and "4111" not in transfer.summary
    said = " ".join(t.text for t in caller.state.turns)
    assert "**** 1234" in said and "4111" not in said
