"""Scripted calls through the pure engine proving each promise, for every shipped flow."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ivr.flow import events as ev
from ivr.flow.model import Flow
from ivr.flow.summary import TEMPLATES, summary_language
from ivr.guard.signals import emergency_words
from ivr.guard.words import find_any, words_for
from tests.conftest import SHIPPED, ShippedFlow
from tests.flow.driver import Caller, listening_paths


def _why(flow: Flow, reason: str) -> str:
    """How a summary in the staff's language begins, for a transfer reason."""
    return TEMPLATES[summary_language(flow.language) or "en"].why[reason]


# 1. The disclosure is the first action of every call ---------------------------------------


@pytest.mark.parametrize("when", ["open_at", "closed_at"])
def test_disclosure_is_the_first_action(shipped: ShippedFlow, when: str) -> None:
    flow = shipped.load()
    caller = Caller(flow, getattr(shipped, when))
    first = caller.first_actions[0]
    assert isinstance(first, ev.PlayPrompt)
    assert first.prompt_id == "disclosure"
    assert first.text == flow.disclosure.text
    assert caller.state.turns[0].text == flow.disclosure.text
    # every prompt knows its transcript line, so what the line did with it lands on that line
    prompts = [a for a in caller.first_actions if isinstance(a, ev.PlayPrompt)]
    lines = [caller.state.turns[p.line].text for p in prompts if p.line is not None]
    assert lines == [p.text for p in prompts]
    assert first.line == 0


def test_over_the_disclosure_a_person_is_honoured_and_a_choice_waits(shipped: ShippedFlow) -> None:
    flow = shipped.load()
    words = words_for(flow.language)
    for ask in (lambda c: c.say(words.person[0]), lambda c: c.press("0")):
        caller = Caller(flow, shipped.open_at, disclosure_played=False)
        ask(caller)
        transfer = caller.transfer()
        assert transfer is not None and transfer.reason == "requested"
    caller = Caller(flow, shipped.open_at, disclosure_played=False)
    menu = caller.listening()
    assert menu is not None
    choice = next(p for p in menu.grammar if not find_any(p, words.person, words.match))
    for event in (ev.Heard(choice), ev.Pressed(menu.keys[0]), ev.Silence(), ev.Heard("", final=True)):
        assert caller.send(event) == [], event  # no choice, no miss before the disclosure ends
    assert caller.state.misses == 0 and caller.state.step == menu.step


# 2. A person is one word or key 0 away at every step ---------------------------------------


def test_every_listening_step_is_reached_by_the_walk(shipped: ShippedFlow) -> None:
    """The walk below must cover every step that listens, or the promises go unproven there."""
    flow = shipped.load()
    reached = {step for at in (shipped.open_at, shipped.closed_at)
               for step, _ in listening_paths(flow, at)}
    listening = {sid for sid, step in flow.steps.items() if step.kind in ("menu", "ask", "answer")}
    assert reached == listening


@pytest.mark.parametrize("request_kind", ["key", "each word"])
def test_person_request_after_hours_at_every_step_takes_a_message(
        shipped: ShippedFlow, request_kind: str) -> None:
    flow = shipped.load()
    words = words_for(flow.language).person
    for (step, _mode), keys in listening_paths(flow, shipped.closed_at).items():
        for attempt in (["#0"] if request_kind == "key" else list(words)):
            caller = Caller(flow, shipped.closed_at)
            for key in keys:
                caller.press(key)
            _ = caller.press("0") if attempt == "#0" else caller.say(attempt)
            assert caller.voicemail() is not None, f"{attempt!r} at {step} after hours"
            assert caller.state.transfer_reason == "requested"


@pytest.mark.parametrize("request_kind", ["key", "each word"])
def test_person_request_at_every_step_transfers(shipped: ShippedFlow, request_kind: str) -> None:
    flow = shipped.load()
    words = words_for(flow.language).person
    for (step, mode), keys in listening_paths(flow, shipped.open_at).items():
        tries = ["#0"] if request_kind == "key" else list(words)
        for attempt in tries:
            caller = Caller(flow, shipped.open_at)
            for key in keys:
                caller.press(key)
            if attempt == "#0":
                caller.press("0")
            else:
                caller.say(attempt)
            transfer = caller.transfer()
            assert transfer is not None, f"{attempt!r} at {step}/{mode} did not transfer"
            assert transfer.reason == "requested"
            assert transfer.people.group == flow.routing.person
            assert caller.state.outcome == "transferred"


def test_partial_result_with_a_person_word_transfers_before_the_caller_finishes() -> None:
    plumbing = SHIPPED[0]
    caller = Caller(plumbing.load(), plumbing.open_at)
    caller.send(ev.Heard("agent", final=False))
    assert caller.transfer() is not None


def test_partial_result_that_is_not_a_plain_request_waits(shipped: ShippedFlow) -> None:
    caller = Caller(shipped.load(), shipped.open_at)
    assert caller.send(ev.Heard("is this a real person", final=False)) == []
    assert caller.send(ev.Heard("I do not want an agent", final=False)) == []


# 3. Honest answer to "am I talking to a robot?" -------------------------------------------


ROBOT_QUESTIONS = {"en": "am I talking to a robot", "ko": "로봇", "zh": "你是机器人吗"}
HONEST_WORD = {"en": "automated", "ko": "자동", "zh": "自动"}


def test_robot_question_gets_an_honest_answer_and_the_offer_of_a_person(shipped: ShippedFlow) -> None:
    flow = shipped.load()
    lang = flow.language.split("-")[0]
    caller = Caller(flow, shipped.open_at)
    caller.say(ROBOT_QUESTIONS[lang])
    said = " ".join(caller.said())
    assert HONEST_WORD[lang] in said
    assert caller.transfer() is None and caller.listening() is not None
    caller.say(words_for(flow.language).yes[0])
    transfer = caller.transfer()
    assert transfer is not None and transfer.reason == "requested"


def test_is_this_a_real_person_is_a_question_not_a_request() -> None:
    caller = Caller(SHIPPED[0].load(), SHIPPED[0].open_at)
    caller.say("is this a real person")
    assert caller.transfer() is None
    assert "automated system, not a person" in " ".join(caller.said())
    caller.say("hours")  # declining the offer: the step still works
    assert any("We are open" in s for s in caller.said())


# 4. Two misses in a row -> a person; repeat does not count ---------------------------------


@pytest.mark.parametrize("misses", [("mumble", "mumble"), ("", ""), ("mumble", ""), ("#9", "#8")])
def test_two_misses_transfer_as_not_understood(shipped: ShippedFlow, misses: tuple[str, str]) -> None:
    flow = shipped.load()
    for (step, mode), keys in listening_paths(flow, shipped.open_at).items():
        caller = Caller(flow, shipped.open_at)
        for key in keys:
            caller.press(key)
        first, second = misses
        _miss(caller, first)
        assert caller.transfer() is None, f"one miss at {step} transferred"
        assert caller.listening() is not None, f"one miss at {step} did not re-prompt"
        _miss(caller, second)
        transfer = caller.transfer()
        assert transfer is not None and transfer.reason == "not understood", f"at {step}/{mode}"
        assert transfer.summary.startswith(_why(flow, "not understood")) and "misses" in transfer.detail


def _miss(caller: Caller, what: str) -> None:
    if what.startswith("#"):
        caller.press(what[1])
    elif what:
        caller.say("zzz qqq" if caller.engine.words.match == "words" else "쿠쿠")
    else:
        caller.silence()


def test_repeat_replays_the_prompt_without_counting_as_a_miss(shipped: ShippedFlow) -> None:
    flow = shipped.load()
    caller = Caller(flow, shipped.open_at)
    prompt = [a for a in caller.first_actions if isinstance(a, ev.PlayPrompt)][-1].text
    caller.silence()  # one miss
    caller.press("*")
    assert caller.said() == [prompt]
    caller.say(words_for(flow.language).repeat[0])
    assert caller.said() == [prompt]
    assert caller.transfer() is None
    caller.silence()  # second miss, counted from before the repeats
    assert caller.transfer() is not None


def test_a_match_resets_the_miss_count() -> None:
    shipped = SHIPPED[0]
    caller = Caller(shipped.load(), shipped.open_at)
    caller.silence()
    caller.press("1")  # hours: an answer
    caller.silence()
    assert caller.transfer() is None


# 5. After hours: emergencies to on-call, everyone else to voicemail with a promise ---------


def test_person_request_after_hours_goes_to_voicemail_with_hours_and_promise(shipped: ShippedFlow) -> None:
    flow = shipped.load()
    caller = Caller(flow, shipped.closed_at)
    caller.press("0")
    assert caller.transfer() is None
    voicemail = caller.voicemail()
    assert voicemail is not None and voicemail.promise == flow.callback_promise
    said = " ".join(caller.said())
    assert flow.callback_promise in said
    assert caller.state.transfer_reason == "requested"
    caller.send(ev.MessageRecorded("please call me back about my boiler"))
    assert isinstance(caller.actions[-1], ev.EndCall)
    assert flow.callback_promise in " ".join(caller.said())


EMERGENCY_SAYINGS = {"plumbing": "I smell gas in the kitchen", "clinic": "my husband has chest pain",
                     "korean": "화재"}


@pytest.mark.parametrize("when", ["open_at", "closed_at"])
def test_emergency_reaches_on_call_day_or_night_after_the_safety_line(
        shipped: ShippedFlow, when: str) -> None:
    flow = shipped.load()
    caller = Caller(flow, getattr(shipped, when))
    actions = caller.say(EMERGENCY_SAYINGS[shipped.name])
    transfer = caller.transfer()
    assert transfer is not None and transfer.reason == "emergency"
    assert transfer.people.group == flow.routing.emergency
    signal = emergency_words(flow, caller.state, ev.Heard(EMERGENCY_SAYINGS[shipped.name]))
    assert signal is not None
    before = [a.text for a in actions[:actions.index(transfer)] if isinstance(a, ev.PlayPrompt)]
    assert before == ([signal.safety] if signal.safety else [])  # the safety line, and only it, first
    assert transfer.summary.startswith(_why(flow, "emergency"))


def test_plumbing_gas_emergency_at_3am_says_leave_the_building_first() -> None:
    caller = Caller(SHIPPED[0].load(), SHIPPED[0].closed_at)
    caller.say("there is a gas smell in the basement")
    assert caller.said()[0].startswith("If you smell gas, leave the building now")
    transfer = caller.transfer()
    assert transfer is not None and transfer.people.label == "the on-call plumber"
    assert transfer.summary.startswith("Caller reported an emergency (gas smell")
    assert "there is a gas smell in the basement" in transfer.summary


def test_booking_after_hours_takes_a_message_instead_of_ringing_an_empty_office() -> None:
    plumbing = SHIPPED[0]
    caller = Caller(plumbing.load(), plumbing.closed_at)
    caller.say("I'd like to book a visit")
    assert caller.transfer() is None and caller.voicemail() is not None
    caller = Caller(plumbing.load(), plumbing.open_at)
    caller.press("4")
    transfer = caller.transfer()
    assert transfer is not None and transfer.reason == "flow" and "book a visit" in transfer.summary


def test_holiday_is_closed_all_day() -> None:
    christmas_noon = dt.datetime(2026, 12, 25, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    caller = Caller(SHIPPED[0].load(), christmas_noon)
    caller.press("0")
    assert caller.voicemail() is not None


# Failure paths: nobody answers, the caller hangs up, the gateway breaks --------------------


def test_nobody_answering_a_transfer_leads_to_voicemail_never_silence(shipped: ShippedFlow) -> None:
    flow = shipped.load()
    caller = Caller(flow, shipped.open_at)
    caller.press("0")
    caller.send(ev.TransferFailed("busy"))
    assert caller.voicemail() is not None
    assert flow.callback_promise in " ".join(caller.said())


def test_caller_hanging_up_mid_step_is_recorded(shipped: ShippedFlow) -> None:
    caller = Caller(shipped.load(), shipped.open_at)
    caller.send(ev.CallEnded())
    assert caller.state.outcome == "hung up" and caller.state.mode == "ended"
    assert caller.say("agent") == []


def test_fault_sends_the_caller_to_a_person(shipped: ShippedFlow) -> None:
    flow = shipped.load()
    caller = Caller(flow, shipped.open_at)
    caller.state, actions = caller.engine.fault(caller.state, "recognizer crashed")
    transfer = next(a for a in actions if isinstance(a, ev.HandOver))
    assert transfer.reason == "fault"
    assert transfer.people.group == flow.routing.person


def test_shouting_is_distress_and_reaches_a_person(shipped: ShippedFlow) -> None:
    caller = Caller(shipped.load(), shipped.open_at)
    assert caller.send(ev.CallerLoud(4.0)) == []
    caller.send(ev.CallerLoud(18.0))
    transfer = caller.transfer()
    assert transfer is not None and transfer.reason == "distress"
    assert "shouting" in transfer.detail and transfer.summary.startswith(_why(shipped.load(), "distress"))


def test_disclosure_finished_time_is_recorded(shipped: ShippedFlow) -> None:
    caller = Caller(shipped.load(), shipped.open_at, disclosure_played=False)
    later = shipped.open_at + dt.timedelta(seconds=6)
    caller.send(ev.PromptFinished("disclosure", at=later))
    assert caller.state.disclosure_done_at == later


def test_answer_then_no_says_goodbye_and_hangs_up() -> None:
    caller = Caller(SHIPPED[0].load(), SHIPPED[0].open_at)
    caller.say("how much does it cost")
    assert "95 dollars" in caller.said()[0]
    caller.say("no thanks")
    assert isinstance(caller.actions[-1], ev.EndCall)
    assert caller.state.outcome == "answered"


def test_an_untrusted_result_is_a_miss_not_an_emergency() -> None:
    caller = Caller(SHIPPED[0].load(), SHIPPED[0].closed_at)
    caller.send(ev.Heard("fire emergency booking", confidence=0.0))
    assert caller.transfer() is None and caller.voicemail() is None
    assert caller.said()[0] == "I didn't catch that."
    caller.send(ev.Heard("agent booking", confidence=0.0))  # a person, even from a guess
    assert caller.voicemail() is not None  # after hours: the person's voicemail
