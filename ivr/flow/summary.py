"""The one sentence the person answering hears, so the caller never has to repeat themselves.

Written in the staff's language (the flow's `staff_language`, a people group's `language`, else
the flow's own), from a template per language. The reasons that detectors give in English are
translated by pattern; the caller's own words are quoted as they were said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.flow.engine import CallState


@dataclass(frozen=True)
class SummaryTemplate:
    """How one language puts the sentence together."""

    why: dict[str, str]  # transfer reason -> what happened; "{detail}" where it belongs
    detail: str  # how a detail is attached: " ({detail})"
    at: str  # the step
    last: str  # the caller's last words
    chose: str
    separator: str  # between chosen intents
    end: str  # full stop
    accept: str  # what the whisper asks of the person answering
    reasons: tuple[tuple[re.Pattern[str], str], ...] = field(default=())


def _reasons(*pairs: tuple[str, str]) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(pattern), template) for pattern, template in pairs)


TEMPLATES: dict[str, SummaryTemplate] = {
    "en": SummaryTemplate(
        why={"requested": "Caller asked for a person", "not understood": "Caller was not understood",
             "distress": "Caller sounded distressed", "emergency": "Caller reported an emergency",
             "flow": "Caller needs {detail}", "fault": "Caller hit a fault in the automated system"},
        detail=" ({detail})", at=" at {step}", last='; last said "{last}"', chose="; chose {chose}",
        separator=", ", end=".", accept="Press 1 to take the call."),
    "ko": SummaryTemplate(
        why={"requested": "고객이 상담원을 요청했습니다", "not understood": "고객의 말을 알아듣지 못했습니다",
             "distress": "고객이 불편을 겪고 있습니다", "emergency": "고객이 긴급 상황을 알렸습니다",
             "flow": "고객 용건: {detail}", "fault": "자동 응답 시스템에 오류가 있었습니다"},
        detail=" ({detail})", at=". 단계: {step}", last='. 마지막 말: "{last}"', chose=". 선택: {chose}",
        separator=", ", end=".", accept="받으시려면 1번을 누르세요.",
        reasons=_reasons(
            (r"^said the same thing twice$", "같은 말을 두 번 했습니다"),
            (r"^(\d+) misses in a row$", r"\1번 연속 알아듣지 못함"),
            (r"^pressed 0$", "0번을 누름"),
            (r"^said yes to a person$", "상담원 연결에 '네'라고 답함"),
            (r"^said (.+)$", r"\1 라고 말함"),
            (r"^shouting \((\d+) dB over their start\)$", r"고함: 처음보다 \1 dB 큼"),
            (r"^shouting \((\d+) dB over ordinary phone speech\)$", r"고함: 보통 통화보다 \1 dB 큼"),
            (r"^shouting \(the line clipped on (\d+)% of it\)$", r"고함: 소리가 \1% 찢어짐"),
            (r"^raised voice \((\d+) dB over their start\)$", r"목소리가 커짐: 처음보다 \1 dB"),
            (r"^answered 'no, no'$", "'아니, 아니'라고 답함"),
            (r"^after (\d+) misunderstanding\(s\)$", r"\1번 잘못 알아들은 뒤"),
            (r"^negative words \(sentiment (.+)\)$", r"부정적인 말: 감정 \1"),
            (r"^media stream .*$", "통화 연결 오류"),
        )),
    "zh": SummaryTemplate(
        why={"requested": "来电者要求转人工", "not understood": "系统没有听懂来电者",
             "distress": "来电者似乎很不满", "emergency": "来电者报告了紧急情况",
             "flow": "来电者需要：{detail}", "fault": "自动系统出现故障"},
        detail="（{detail}）", at="。步骤：{step}", last="。最后说：“{last}”", chose="。选择：{chose}",
        separator="、", end="。", accept="接听请按1。",
        reasons=_reasons(
            (r"^said the same thing twice$", "重复了同样的话"),
            (r"^(\d+) misses in a row$", r"连续\1次没听懂"),
            (r"^pressed 0$", "按了0"),
            (r"^said yes to a person$", "同意转人工"),
            (r"^said (.+)$", r"说了\1"),
            (r"^shouting \((\d+) dB over their start\)$", r"大声喊叫：比开始时高\1分贝"),
            (r"^shouting \((\d+) dB over ordinary phone speech\)$", r"大声喊叫：比普通通话高\1分贝"),
            (r"^shouting \(the line clipped on (\d+)% of it\)$", r"大声喊叫：\1%的声音失真"),
            (r"^raised voice \((\d+) dB over their start\)$", r"提高了声音：比开始时高\1分贝"),
            (r"^answered 'no, no'$", "回答“不，不”"),
            (r"^after (\d+) misunderstanding\(s\)$", r"在\1次误解之后"),
            (r"^negative words \(sentiment (.+)\)$", r"负面词语：情绪\1"),
            (r"^media stream .*$", "通话连接故障"),
        )),
}


def summary_language(language: str) -> str | None:
    """The template key for a BCP-47 language, or None when there is no template for it."""
    key = language.split("-")[0].lower()
    return key if key in TEMPLATES else None


def accept_prompt(language: str) -> str:
    """What the whisper asks of the person answering, after the summary."""
    return TEMPLATES[summary_language(language) or "en"].accept


def summarize(state: CallState, reason: str, detail: str, language: str = "en") -> str:
    """E.g. 'Caller reported an emergency (gas, said "smell gas") at main menu; last said "..."'."""
    template = TEMPLATES[summary_language(language) or "en"]
    shown = "; ".join(_translated(template, part) for part in detail.split("; ")) if detail else ""
    why = template.why.get(reason, reason)
    if "{detail}" in why:
        sentence = why.format(detail=shown)
    elif reason in ("emergency", "distress", "not understood"):
        sentence = why + template.detail.format(detail=shown)
    else:
        sentence = why
    if state.step:
        sentence += template.at.format(step=state.step.replace("_", " "))
    last = state.last_caller_text()
    if last and repr(last) not in detail:  # skip when the detail already quotes it
        sentence += template.last.format(last=_clip(last))
    if state.answered:
        sentence += template.chose.format(chose=template.separator.join(dict.fromkeys(state.answered)))
    return sentence + template.end


def _translated(template: SummaryTemplate, reason: str) -> str:
    # Emergencies read "gas, said 'smell gas'": translate each comma-separated part.
    for pattern, replacement in template.reasons:
        if pattern.match(reason):
            return pattern.sub(replacement, reason)
    if ", " in reason and template.reasons:
        return ", ".join(_translated(template, part) for part in reason.split(", "))
    return reason


def _clip(text: str, words: int = 12) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
