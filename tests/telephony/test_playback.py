"""The line's playback bookkeeping: prompts play one after another, marks settle them in order,
a clear says how much of each was heard."""

from __future__ import annotations

from ivr.flow import events as ev
from ivr.telephony.playback import Playback


def _say(prompt_id: str) -> ev.PlayPrompt:
    return ev.PlayPrompt(prompt_id, prompt_id)


def test_prompts_queue_behind_each_other_and_marks_settle_them_in_order() -> None:
    line = Playback()
    first = line.sent(_say("disclosure"), 4.0, now=10.0)
    menu = line.sent(_say("p1"), 6.0, now=10.5)
    assert (first.starts, menu.starts) == (10.0, 14.0)  # the menu waits for the disclosure
    assert line.returned("nonsense#9") is None
    assert line.returned(menu.name) == [first, menu]  # a later mark settles the earlier ones
    assert line.pending == []


def test_a_cut_says_how_much_each_prompt_was_heard_and_ignores_its_echoed_marks() -> None:
    line = Playback()
    first = line.sent(_say("disclosure"), 4.0, now=0.0)
    menu = line.sent(_say("p1"), 6.0, now=0.0)
    heard = line.cut(now=1.5)
    assert [(h.say.prompt_id, h.heard, h.played_s, h.of_s) for h in heard] == [
        ("disclosure", "cut", 1.5, 4.0), ("p1", "never", 0.0, 6.0)]
    assert line.returned(first.name) is None and line.returned(menu.name) is None  # echoes of the clear
    again = line.sent(_say("p2"), 2.0, now=2.0)
    assert again.starts == 2.0  # the line's buffer was emptied


def test_a_stream_that_ends_cuts_without_expecting_echoes() -> None:
    line = Playback()
    mark = line.sent(_say("p1"), 3.0, now=0.0)
    [heard] = line.cut(now=3.5, clear=False)
    assert heard.heard == "cut" and heard.played_s == 3.0
    assert mark.name not in line.cleared
