"""Distress and emergencies: the first clear signal, with reasons; and the measured targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.distress import UTTERANCES, classify
from ivr.flow import events as ev
from ivr.flow.loader import load_flow_text
from ivr.flow.model import Flow
from ivr.guard.distress import assess_loudness, assess_text
from tests.conftest import SHIPPED
from tests.flow.driver import Caller


def test_a_clear_sign_of_anger_is_enough_and_says_why() -> None:
    result = assess_text("this is ridiculous, put me through", "en-US")
    assert result.score >= 1.0 and result.reasons == ("said 'ridiculous'",)


def test_one_weak_sign_is_not_enough_two_are() -> None:
    assert assess_text("I've been waiting all day", "en-US").score < 1.0
    assert assess_text("nobody came and I've been waiting all day", "en-US").score >= 1.0


@pytest.mark.parametrize("text", ["what are your opening hours", "my heater doesn't work very well",
                                  "I need to cancel my appointment", "thank you so much",
                                  "can someone come on Tuesday"])
def test_routine_requests_are_not_distress(text: str) -> None:
    assert assess_text(text, "en-US").score < 1.0


def test_korean_and_chinese_phrases() -> None:
    assert assess_text("몇 번 말해야 돼요", "ko-KR").score >= 1.0
    assert assess_text("我要投诉", "zh-CN").score >= 1.0
    assert assess_text("예약하고 싶어요", "ko-KR").score == 0


def test_loudness_against_the_callers_start() -> None:
    assert assess_loudness(15).score >= 1.0 and "shouting" in assess_loudness(15).reasons[0]
    assert 0 < assess_loudness(9).score < 1.0
    assert assess_loudness(3).score == 0


def test_loudness_before_the_caller_has_a_start() -> None:
    shout = assess_loudness(13, "phone speech")
    assert shout.score >= 1.0 and "over ordinary phone speech" in shout.reasons[0]
    assert assess_loudness(9, "phone speech").score == 0  # a loud phone is not a raised voice
    clipped = assess_loudness(0, "phone speech", clipped=0.3)
    assert clipped.score >= 1.0 and "clipped" in clipped.reasons[0]


def _caller() -> Caller:
    plumbing = SHIPPED[0]
    return Caller(plumbing.load(), plumbing.open_at)


def test_angry_caller_is_handed_over_on_the_first_clear_signal_with_reasons() -> None:
    caller = _caller()
    caller.say("this stupid machine is useless")
    transfer = caller.transfer()
    assert transfer is not None and transfer.reason == "distress"
    assert "said 'stupid'" in transfer.summary
    assert caller.said() == ["Connecting you to the office."]


def test_weak_signs_add_up_over_a_call() -> None:
    caller = _caller()
    caller.send(ev.CallerLoud(9.0))  # a raised voice: noted
    assert caller.transfer() is None
    caller.say("hours")  # answered
    caller.say("nobody ever calls me back")  # one weak sign more: now clear
    transfer = caller.transfer()
    assert transfer is not None and transfer.reason == "distress"
    assert "raised voice" in transfer.detail and "nobody" in transfer.detail


def test_the_same_thing_twice_after_an_answer_is_a_loop() -> None:
    caller = _caller()
    caller.say("how much does it cost")  # prices answered
    caller.say("yes")  # back to the menu; yes twice would be no loop
    caller.say("how much does it cost")
    transfer = caller.transfer()
    assert transfer is not None and transfer.reason == "distress"
    assert "same thing twice" in transfer.summary


def test_negated_emergency_words_do_not_page_on_call() -> None:
    caller = _caller()
    caller.say("it's not an emergency, what are your hours")
    assert caller.transfer() is None


def test_sensitivity_is_per_flow() -> None:
    plumbing = SHIPPED[0]
    flow: Flow = plumbing.load().model_copy(update={"distress_sensitivity": "low"})
    caller = Caller(flow, plumbing.open_at)
    caller.say("this is useless")
    assert caller.transfer() is None  # low: one clear sign is not enough
    caller.say("you are not listening")
    assert caller.transfer() is not None


def test_flow_emergency_safety_line_outranks_the_built_in_one() -> None:
    caller = _caller()
    caller.say("I smell gas")
    assert caller.said()[0] == "If you smell gas, leave the building now and call 911 from outside."


def test_built_in_emergencies_hold_for_any_flow() -> None:
    caller = _caller()  # the plumbing flow lists no medical emergencies of its own
    caller.say("my husband is having a heart attack")
    assert caller.said()[0].startswith("If this is life-threatening")
    transfer = caller.transfer()
    assert transfer is not None and transfer.reason == "emergency"


def test_labelled_caller_utterances_meet_the_targets() -> None:
    """The numbers bench/distress.py prints, held as a floor (same data, same code)."""
    import csv

    rows = list(csv.DictReader(UTTERANCES.read_text(encoding="utf-8").splitlines()))
    assert len(rows) >= 200
    flows: dict[str, Flow] = {}
    verdicts = [(row["label"], classify(row["text"], row["lang"], flows, "normal")) for row in rows]
    emergencies = [v for label, v in verdicts if label == "emergency"]
    assert sum(v.emergency for v in emergencies) / len(emergencies) >= 0.98
    positives = [v for label, v in verdicts if label in ("frustrated", "angry")]
    flagged = [label for label, v in verdicts if v.distress]
    recall = sum(v.distress or v.emergency for v in positives) / len(positives)
    precision = sum(label in ("frustrated", "angry") for label in flagged) / \
        len([x for x in flagged if x != "ambiguous"])
    assert recall >= 0.9 and precision >= 0.8, (recall, precision)


@pytest.mark.parametrize(("sensitivity", "hands_over"), [("low", False), ("normal", False), ("high", True)])
def test_sensitivity_decides_whether_one_weak_sign_is_enough(sensitivity: str, hands_over: bool) -> None:
    plumbing = SHIPPED[0]
    text = plumbing.path.read_text(encoding="utf-8")
    text = text.replace("\nstart:", f"\ndistress_sensitivity: {sensitivity}\nstart:", 1)
    caller = Caller(load_flow_text(text, "plumbing.yaml"), plumbing.open_at)
    assert assess_text("this is so complicated", "en-US").score == 0.5  # one weak sign
    caller.say("this is so complicated")
    assert (caller.transfer() is not None) is hands_over


def test_the_meld_bench_ends_with_its_summary_line(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from bench.distress import main

    csv_file = tmp_path / "tiny.csv"
    csv_file.write_text(
        "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,"
        "StartTime,EndTime\n"
        '1,"This is ridiculous, you are useless!",A,anger,negative,0,0,1,1,"0","1"\n'
        "2,Could you pass the salt?,B,neutral,neutral,0,1,1,1,0,1\n"
        "3,I went to the shop.,A,neutral,neutral,0,2,1,1,0,1\n"
        "4,Fine.,B,disgust,negative,0,3,1,1,0,1\n", encoding="utf-8")
    assert main(["--meld", str(csv_file), "--no-audio"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "MELD anger+disgust vs neutral: recall 0.50, precision 1.00, neutral flagged 0.00 (n=4)"
