"""What the gateway itself says, per language. Plain and short: no filler, no pretend feelings."""

from __future__ import annotations

from ivr.language import primary

BUILTIN: dict[str, dict[str, str]] = {
    "en": {
        "no_match": "I didn't catch that.",
        "no_input": "I didn't hear anything.",
        "robot": "Yes, this is an automated system, not a person. "
                 "To speak with a person, say yes or press 0.",
        "anything_else": "Anything else? Say yes or press 1, or say no or press 2.",
        "goodbye": "Thank you for calling. Goodbye.",
        "connecting": "Connecting you to {label}.",
        "closed": "We are closed right now. {hours}",
        "voicemail": "Please leave your name, number and message after the tone. {promise}",
        "fault": "Something went wrong on our side. Connecting you to a person.",
        "nobody": "Nobody could answer right now.",
        "recorded": "Thank you. Your message is recorded. {promise} Goodbye.",
        "hours_none": "We have no regular opening hours.",
        "hours_intro": "Our hours are: ",
        "hours_span": "{start} to {end}",
        "days_range": "{first} to {last}",
    },
    "ko": {
        "no_match": "잘 알아듣지 못했습니다.",
        "no_input": "아무 말씀도 듣지 못했습니다.",
        "robot": "네, 이것은 사람이 아닌 자동 응답 시스템입니다. "
                 "상담원과 통화하시려면 네 라고 하시거나 0번을 누르세요.",
        "anything_else": "더 필요하신 것이 있으세요? 네 또는 1번, 아니요 또는 2번을 누르세요.",
        "goodbye": "전화해 주셔서 감사합니다. 안녕히 계세요.",
        "connecting": "{label}에게 연결합니다.",
        "closed": "지금은 영업시간이 아닙니다. {hours}",
        "voicemail": "삐 소리 후에 성함, 전화번호, 용건을 남겨 주세요. {promise}",
        "fault": "시스템에 문제가 생겼습니다. 상담원에게 연결합니다.",
        "nobody": "지금은 전화를 받을 수 있는 사람이 없습니다.",
        "recorded": "메시지가 녹음되었습니다. {promise} 안녕히 계세요.",
        "hours_none": "정해진 영업시간이 없습니다.",
        "hours_intro": "영업시간은 ",
        "hours_span": "{start}부터 {end}까지",
        "days_range": "{first}부터 {last}까지",
    },
    "zh": {
        "no_match": "我没有听清楚。",
        "no_input": "我没有听到声音。",
        "robot": "是的，这是自动系统，不是真人。如需人工服务，请说是或按0。",
        "anything_else": "还有其他需要吗？请说是或按1，说不或按2。",
        "goodbye": "感谢您的来电，再见。",
        "connecting": "正在为您转接{label}。",
        "closed": "我们现在不在营业时间。{hours}",
        "voicemail": "请在提示音后留下您的姓名、电话和留言。{promise}",
        "fault": "系统出现问题，正在为您转接人工。",
        "nobody": "现在没有人可以接听。",
        "recorded": "您的留言已录下。{promise} 再见。",
        "hours_none": "我们没有固定的营业时间。",
        "hours_intro": "营业时间：",
        "hours_span": "{start}到{end}",
        "days_range": "{first}至{last}",
    },
}

DAY_NAMES: dict[str, dict[str, str]] = {
    "en": {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
           "fri": "Friday", "sat": "Saturday", "sun": "Sunday"},
    "ko": {"mon": "월요일", "tue": "화요일", "wed": "수요일", "thu": "목요일",
           "fri": "금요일", "sat": "토요일", "sun": "일요일"},
    "zh": {"mon": "周一", "tue": "周二", "wed": "周三", "thu": "周四",
           "fri": "周五", "sat": "周六", "sun": "周日"},
}


def builtin(language: str, key: str, **values: str) -> str:
    """A built-in prompt in the flow's language (English when there is no table)."""
    table = BUILTIN.get(primary(language), BUILTIN["en"])
    return table[key].format(**values).strip()


def day_names(language: str) -> dict[str, str]:
    """Weekday names for spoken opening hours."""
    return DAY_NAMES.get(primary(language), DAY_NAMES["en"])
