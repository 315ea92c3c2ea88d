"""The whisper summary is written in the staff's language, with the caller's own words quoted."""

from __future__ import annotations

import pytest

from ivr.flow import events as ev
from ivr.flow.loader import load_flow_text
from ivr.flow.state import CallState
from ivr.flow.summary import accept_prompt, summarize
from tests.conftest import FLOWS_DIR, SHIPPED
from tests.flow.driver import Caller

STATE = CallState(step="main_menu", turns=(ev.Turn("caller", "몇 번 말해야 돼요", "main_menu"),),
                  answered=("예약",))


@pytest.mark.parametrize(("language", "expected"), [
    ("en-US", "Caller sounded distressed (shouting (15 dB over their start); said '몇 번') at main menu; "
              'last said "몇 번 말해야 돼요"; chose 예약.'),
    ("ko-KR", "고객이 불편을 겪고 있습니다 (고함: 처음보다 15 dB 큼; '몇 번' 라고 말함). 단계: main menu. "
              '마지막 말: "몇 번 말해야 돼요". 선택: 예약.'),
    ("zh-CN", "来电者似乎很不满（大声喊叫：比开始时高15分贝; 说了'몇 번'）。步骤：main menu。"
              "最后说：“몇 번 말해야 돼요”。选择：예약。"),
])
def test_a_summary_in_each_staff_language(language: str, expected: str) -> None:
    detail = "shouting (15 dB over their start); said '몇 번'"
    assert summarize(STATE, "distress", detail, language) == expected


def test_emergencies_translate_each_part_and_keep_the_name() -> None:
    summary = summarize(CallState(step="main"), "emergency", "fire, said '화재'", "ko-KR")
    assert summary == "고객이 긴급 상황을 알렸습니다 (fire, '화재' 라고 말함). 단계: main."


def test_a_language_without_a_template_falls_back_to_english() -> None:
    assert summarize(CallState(), "requested", "pressed 0", "fr-FR") == "Caller asked for a person."
    assert accept_prompt("fr-FR") == "Press 1 to take the call."
    assert accept_prompt("ko") == "받으시려면 1번을 누르세요."


def _korean(extra: str) -> str:
    text = (FLOWS_DIR / "korean.yaml").read_text(encoding="utf-8")
    return text.replace("start: main", extra + "start: main")


def test_staff_hear_the_flows_language_unless_told_otherwise() -> None:
    at = next(s for s in SHIPPED if s.name == "korean").open_at
    default = Caller(load_flow_text(_korean(""), "korean.yaml"), at)
    default.press("0")
    transfer = default.transfer()
    assert transfer is not None and transfer.staff_language == "ko-KR"
    assert transfer.summary.startswith("고객이 상담원을 요청했습니다")
    english = Caller(load_flow_text(_korean("staff_language: en-US\n"), "korean.yaml"), at)
    english.press("0")
    transfer = english.transfer()
    assert transfer is not None and transfer.staff_language == "en-US"
    assert transfer.summary == "Caller asked for a person at main."


def test_a_people_group_can_have_its_own_language() -> None:
    owner = '    numbers: ["+8210555503"]'
    text = _korean("").replace(owner, owner + "\n    language: zh-CN")
    flow = load_flow_text(text, "korean.yaml")
    assert flow.staff_language_of("owner") == "zh-CN" and flow.staff_language_of("desk") == "ko-KR"
