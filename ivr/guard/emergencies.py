"""Emergencies that hold for every business, with the safety line said before the transfer.

They outrank everything and reach the on-call person day or night. A flow's own `emergencies`
are checked first and may carry their own safety line (e.g. a different emergency number).
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.language import primary


@dataclass(frozen=True)
class EmergencyKind:
    """One kind of emergency: words that mean it, and what to say first (if anything)."""

    name: str
    phrases: tuple[str, ...]
    safety: str | None = None


EMERGENCIES: dict[str, tuple[EmergencyKind, ...]] = {
    "en": (
        EmergencyKind("gas", ("smell gas", "smelling gas", "gas smell", "gas leak", "leaking gas",
                              "smells like gas", "smell of gas", "carbon monoxide", "co alarm"),
                      "If you smell gas, leave the building now and call 911 from outside."),
        EmergencyKind("fire", ("fire", "smoke", "something is burning", "sparks", "on fire"),
                      "If there is a fire, get everyone out and call 911."),
        EmergencyKind("water", ("burst pipe", "pipe burst", "pipe has burst", "pipe just burst",
                                "flooding", "flooded", "water everywhere", "water pouring",
                                "water is pouring", "through the ceiling", "sewage")),
        EmergencyKind("no heat", ("no heat", "no heating", "heating is off", "heating stopped",
                                  "heating has stopped", "heating is out", "boiler is off",
                                  "boiler stopped", "boiler has stopped", "furnace is out",
                                  "furnace stopped", "freezing in here", "pipes are frozen",
                                  "frozen pipes")),
        EmergencyKind("medical", ("chest pain", "chest hurts", "can't breathe", "cannot breathe",
                                  "can't breath", "not breathing", "stopped breathing",
                                  "trouble breathing", "bleeding", "heart attack", "stroke",
                                  "unconscious", "passed out", "collapsed", "seizure", "overdose",
                                  "allergic reaction", "ambulance"),
                      "If this is life-threatening, hang up and call 911 now."),
        EmergencyKind("self-harm", ("kill myself", "killing myself", "suicide", "suicidal",
                                    "end my life", "hurt myself", "want to die"),
                      "If you might harm yourself, you can call or text 988 at any time."),
        EmergencyKind("declared", ("emergency", "911", "urgent help", "help me please")),
    ),
    "ko": (
        EmergencyKind("gas", ("가스 냄새", "가스가 새", "가스 누출"),
                      "가스 냄새가 나면 지금 바로 건물 밖으로 나가서 119에 전화하세요."),
        EmergencyKind("fire", ("불이야", "불이 났", "화재"), "불이 났다면 모두 대피하고 119에 전화하세요."),
        EmergencyKind("water", ("배관이 터", "물이 새", "물바다", "누수")),
        EmergencyKind("no heat", ("난방이 안", "보일러가 안", "보일러 고장")),
        EmergencyKind("medical", ("응급", "가슴 통증", "가슴이 아파", "숨을 못", "숨이 안", "피가 나",
                                  "의식이 없", "쓰러졌"),
                      "생명이 위급하면 지금 전화를 끊고 119에 전화하세요."),
        EmergencyKind("self-harm", ("자살", "죽고 싶", "죽을 거"),
                      "위험하다고 느끼시면 언제든 109에 전화하세요."),
    ),
    "zh": (
        EmergencyKind("gas", ("煤气味", "燃气泄漏", "煤气泄漏", "闻到煤气"),
                      "如果闻到煤气味，请立即离开房屋，到室外拨打119。"),
        EmergencyKind("fire", ("着火", "火灾", "冒烟"), "如有火情，请立即撤离并拨打119。"),
        EmergencyKind("water", ("水管爆", "漏水", "淹水", "水漫")),
        EmergencyKind("no heat", ("没有暖气", "暖气坏", "锅炉坏")),
        EmergencyKind("medical", ("急救", "胸痛", "胸口痛", "喘不过气", "不能呼吸", "流血", "昏迷", "晕倒"),
                      "如有生命危险，请立即挂断并拨打120。"),
        EmergencyKind("self-harm", ("自杀", "不想活", "想死"),
                      "如果您有伤害自己的念头，请拨打心理援助热线。"),
    ),
}


def emergencies_for(language: str) -> tuple[EmergencyKind, ...]:
    """The built-in emergencies for a BCP-47 tag (English when the language has no table)."""
    return EMERGENCIES.get(primary(language), EMERGENCIES["en"])


def emergency_phrases(language: str) -> tuple[str, ...]:
    """Every built-in emergency phrase, for recognition grammars."""
    return tuple(p for kind in emergencies_for(language) for p in kind.phrases)
