"""The one sentence the person answering hears, so the caller never has to repeat themselves.

Written in the staff's language (the flow's `staff_language`, a people group's `language`, else
the flow's own), from a template per language. The reasons that detectors give in English are
translated by pattern; the caller's own words are quoted as they were said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ivr.flow.state import CallState
from ivr.language import primary


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


# The reasons detectors give (in English), and how the other templates say them; a reason not
# listed here is shown as it is.
REASONS: tuple[tuple[str, dict[str, str]], ...] = (
    (r"^said the same thing twice$", {"ko": r"같은 말을 두 번 했습니다", "zh": r"重复了同样的话"}),
    (r"^(\d+) misses in a row$", {"ko": r"\1번 연속 알아듣지 못함", "zh": r"连续\1次没听懂"}),
    (r"^pressed 0$", {"ko": r"0번을 누름", "zh": r"按了0"}),
    (r"^said yes to a person$", {"ko": r"상담원 연결에 '네'라고 답함", "zh": r"同意转人工"}),
    (r"^said (.+)$", {"ko": r"\1 라고 말함", "zh": r"说了\1"}),
    (r"^shouting \((\d+) dB over their start\)$",
     {"ko": r"고함: 처음보다 \1 dB 큼", "zh": r"大声喊叫：比开始时高\1分贝"}),
    (r"^shouting \((\d+) dB over ordinary phone speech\)$",
     {"ko": r"고함: 보통 통화보다 \1 dB 큼", "zh": r"大声喊叫：比普通通话高\1分贝"}),
    (r"^shouting \(the line clipped on (\d+)% of it\)$",
     {"ko": r"고함: 소리가 \1% 찢어짐", "zh": r"大声喊叫：\1%的声音失真"}),
    (r"^raised voice \((\d+) dB over their start\)$",
     {"ko": r"목소리가 커짐: 처음보다 \1 dB", "zh": r"提高了声音：比开始时高\1分贝"}),
    (r"^answered 'no, no'$", {"ko": r"'아니, 아니'라고 답함", "zh": r"回答“不，不”"}),
    (r"^after (\d+) misunderstanding\(s\)$", {"ko": r"\1번 잘못 알아들은 뒤", "zh": r"在\1次误解之后"}),
    (r"^negative words \(sentiment (.+)\)$", {"ko": r"부정적인 말: 감정 \1", "zh": r"负面词语：情绪\1"}),
    (r"^media stream .*$", {"ko": r"통화 연결 오류", "zh": r"通话连接故障"}),
)


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
        separator=", ", end=".", accept="받으시려면 1번을 누르세요."),
    "zh": SummaryTemplate(
        why={"requested": "来电者要求转人工", "not understood": "系统没有听懂来电者",
             "distress": "来电者似乎很不满", "emergency": "来电者报告了紧急情况",
             "flow": "来电者需要：{detail}", "fault": "自动系统出现故障"},
        detail="（{detail}）", at="。步骤：{step}", last="。最后说：“{last}”", chose="。选择：{chose}",
        separator="、", end="。", accept="接听请按1。"),
}


def summary_language(language: str) -> str | None:
    """The template key for a BCP-47 language, or None when there is no template for it."""
    key = primary(language)
    return key if key in TEMPLATES else None


def accept_prompt(language: str) -> str:
    """What the whisper asks of the person answering, after the summary."""
    return TEMPLATES[summary_language(language) or "en"].accept


def summarize(state: CallState, reason: str, detail: str, language: str = "en") -> str:
    """E.g. 'Caller reported an emergency (gas, said "smell gas") at main menu; last said "..."'."""
    key = summary_language(language) or "en"
    template = TEMPLATES[key]
    shown = "; ".join(_translated(key, part) for part in detail.split("; ")) if detail else ""
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


_COMPILED = tuple((re.compile(pattern), said) for pattern, said in REASONS)


def _translated(language: str, reason: str) -> str:
    for pattern, said in _COMPILED:
        if language in said and pattern.match(reason):
            return pattern.sub(said[language], reason)
    if ", " in reason and language != "en":
        # Emergencies read "gas, said 'smell gas'": translate each comma-separated part.
        return ", ".join(_translated(language, part) for part in reason.split(", "))
    return reason


def _clip(text: str, words: int = 12) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
