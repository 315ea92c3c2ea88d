"""Policy checks a flow must pass before it can run: the promises callers were made.

Errors block a flow; warnings are advice shown to whoever edits it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from ivr.errors import FlowError, Problem
from ivr.flow.loader import load_flow
from ivr.flow.model import Answer, Flow, Hangup, Menu, Transfer, Voicemail, step_targets
from ivr.flow.summary import TEMPLATES, summary_language
from ivr.guard.words import RESERVED_KEYS, find_any, words_for
from ivr.language import primary

AUTOMATED_WORDS = {
    "en": ("automated", "automatic", "recording", "virtual assistant", "not a person", "machine"),
    "ko": ("자동",),
    "zh": ("自动",),
}
KEY_ZERO_WORDS = ("0", "zero", "0번", "零")
MAX_PROMPT_WORDS = 25
# A third of callers hang up on discovering a machine: the first sentence must be short.
MAX_DISCLOSURE_S = 5.0
# How long a flow's disclosure takes to say, measured on the audio callers hear (the voice and
# recordings live outside the flow layer, so the caller of lint passes this in).
SpeakingTime = Callable[[Flow], float]
MAX_CHOICES = 5

# Scripted empathy is rated worse than none, and a bot must never pass as a person.
FAKE_FEELINGS = re.compile(
    r"\b(i (completely |totally )?understand (how|your|that)|"
    r"i'?m (so |very |really )?sorry (you|to hear|for your)|"
    r"i know how (frustrating|hard|difficult)|i feel|that must be (so )?(frustrating|hard|difficult))",
    re.I)
PRETEND_PERSON = re.compile(
    r"\b(my name is|i'?m a (real )?person|i am a (real )?person|i'?m human|i am human|"
    r"speaking with a (real )?person)\b", re.I)


def lint_flow(flow: Flow, speaking_time: SpeakingTime | None = None) -> list[Problem]:
    """Every policy problem in a loaded flow, errors first. With `speaking_time`, a disclosure
    that takes longer than MAX_DISCLOSURE_S to say is a warning."""
    problems = [*_disclosure(flow), *_graph(flow), *_choices(flow), *_prompts(flow),
                *_staff_languages(flow), *_disclosure_length(flow, speaking_time)]
    return sorted(problems, key=lambda p: (p.severity != "error", p.line))


def check_file(path: Path, speaking_time: SpeakingTime | None = None) -> list[Problem]:
    """Load and lint one file: load errors, or lint errors and warnings."""
    try:
        flow = load_flow(path)
    except FlowError as exc:
        return exc.problems
    return lint_flow(flow, speaking_time)


def _disclosure_length(flow: Flow, speaking_time: SpeakingTime | None) -> Iterator[Problem]:
    if speaking_time is None:
        return
    seconds = speaking_time(flow)
    if seconds > MAX_DISCLOSURE_S:
        yield _warning(flow, f"the disclosure takes {seconds:.1f} s to say (at most {MAX_DISCLOSURE_S:.0f} s "
                       "keeps callers on the line): say that it is automated and how to reach a person, "
                       "and move the rest to the first step", "disclosure", "text")


def _error(flow: Flow, message: str, *path: str | int) -> Problem:
    return Problem(flow.source, flow.line_of(*path), message, "error")


def _warning(flow: Flow, message: str, *path: str | int) -> Problem:
    return Problem(flow.source, flow.line_of(*path), message, "warning")


def _disclosure(flow: Flow) -> Iterator[Problem]:
    text = flow.disclosure.text
    lang = primary(flow.language)
    automated = AUTOMATED_WORDS.get(lang, AUTOMATED_WORDS["en"])
    words = words_for(flow.language)
    if not find_any(text, automated, words.match):
        yield _error(flow, "the disclosure must say the line is automated (e.g. "
                     f"{' / '.join(automated[:2])}), before anything else", "disclosure", "text")
    else:
        first = re.split(r"(?<=[.!?。])\s+", text.strip())[0]
        if not find_any(first, automated, words.match):
            yield _error(flow, f"the disclosure speaks before saying it is automated: {first!r}; "
                         "say it is automated in the first sentence", "disclosure", "text")
    reach = find_any(text, words.person, words.match) and find_any(text, KEY_ZERO_WORDS, "chars")
    if not reach:
        yield _error(flow, "the disclosure must say how to reach a person: a person word "
                     f"({', '.join(words.person[:3])}) and key 0", "disclosure", "text")


def _staff_languages(flow: Flow) -> Iterator[Problem]:
    """Every whisper language needs a summary template, or staff hear English."""
    known = ", ".join(sorted(TEMPLATES))
    wanted: list[tuple[str, tuple[str, ...]]] = [
        (flow.staff_language or flow.language, ("staff_language",) if flow.staff_language else ("language",))]
    wanted += [(group.language, ("people", name, "language"))
               for name, group in flow.people.items() if group.language]
    for language, path in wanted:
        if summary_language(language) is None:
            yield _warning(flow, f"no whisper summary template for staff language {language!r} "
                           f"(there are: {known}); staff would hear the summary in English; "
                           "set staff_language to one of them", *path)


def _graph(flow: Flow) -> Iterator[Problem]:
    graph = {sid: [target for _, target in step_targets(step)] for sid, step in flow.steps.items()}
    for sid, step in flow.steps.items():  # "anything else? yes" goes back to the start
        if isinstance(step, Answer) and step.more is None:
            graph[sid].append(flow.start)
    reachable, todo = set(), [flow.start]
    while todo:
        sid = todo.pop()
        if sid in reachable or sid not in graph:
            continue
        reachable.add(sid)
        todo.extend(graph[sid])
    for sid in flow.steps:
        if sid not in reachable:
            yield _error(flow, f"step {sid!r} is unreachable from start {flow.start!r}", "steps", sid)
    # A step is alive if some path from it reaches an answer, a person, a voicemail or a goodbye.
    ends = (Answer, Transfer, Voicemail, Hangup)
    alive = {sid for sid, step in flow.steps.items() if isinstance(step, ends)}
    changed = True
    while changed:
        changed = False
        for sid, targets in graph.items():
            if sid not in alive and any(t in alive for t in targets):
                alive.add(sid)
                changed = True
    for sid in flow.steps:
        if sid not in alive and sid in reachable:
            yield _error(flow, f"dead end: no path from step {sid!r} leads to an answer, a person, "
                         "a voicemail or a goodbye", "steps", sid)


def _choices(flow: Flow) -> Iterator[Problem]:
    words = words_for(flow.language)
    for sid, step in flow.steps.items():
        if not isinstance(step, Menu):
            continue
        if len(step.choices) > MAX_CHOICES:
            yield _warning(flow, f"menu {sid!r} has {len(step.choices)} choices; callers remember "
                           f"at most {MAX_CHOICES}", "steps", sid, "choices")
        seen: dict[str, str] = {}
        for i, choice in enumerate(step.choices):
            here = ("steps", sid, "choices", i)
            if choice.phrases and not choice.key:
                yield _error(flow, f"choice {choice.intent!r} can be said but has no key; every "
                             "spoken choice needs a keypad key too", *here)
            if choice.key and not choice.phrases:
                yield _error(flow, f"choice {choice.intent!r} has a key but no phrases; every "
                             "keyed choice needs words to say too", *here)
            if not choice.key and not choice.phrases:
                yield _error(flow, f"choice {choice.intent!r} has neither phrases nor a key", *here)
            if choice.key in RESERVED_KEYS:
                yield _error(flow, f"key {choice.key} is reserved on every call (0: a person, "
                             "*: repeat); choose another", *here, "key")
            elif choice.key and choice.key in seen:
                yield _error(flow, f"key {choice.key} is used by both {seen[choice.key]!r} and "
                             f"{choice.intent!r}", *here, "key")
            if choice.key:
                seen[choice.key] = choice.intent
            for j, phrase in enumerate(choice.phrases):
                taken = find_any(phrase, words.person, words.match)
                if taken:
                    yield _error(flow, f"phrase {phrase!r} contains {taken!r}, which always "
                                 "reaches a person; it cannot lead elsewhere", *here, "phrases", j)


def _spoken(flow: Flow) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    yield flow.disclosure.text, ("disclosure", "text")
    for sid, step in flow.steps.items():
        text = getattr(step, "text", None)
        if text:
            yield text, ("steps", sid, "text")
    for i, emergency in enumerate(flow.emergencies):
        if emergency.safety:
            yield emergency.safety, ("emergencies", i, "safety")
    yield flow.callback_promise, ("callback_promise",)


def _prompts(flow: Flow) -> Iterator[Problem]:
    by_words = words_for(flow.language).match == "words"
    for text, path in _spoken(flow):
        if feeling := FAKE_FEELINGS.search(text):
            yield _warning(flow, f"prompt fakes feelings ({feeling.group(0)!r}); callers rate "
                           "scripted empathy worse than none", *path)
        if person := PRETEND_PERSON.search(text):
            yield _warning(flow, f"prompt pretends to be a person ({person.group(0)!r}); an "
                           "automated line never does", *path)
        # Korean/Chinese have no comparable word count; about 4 characters make a word's time.
        count = len(text.split()) if by_words else len(text.replace(" ", "")) // 4
        if count > MAX_PROMPT_WORDS and path[0] != "disclosure":
            yield _warning(flow, f"prompt is {count} words; keep prompts under {MAX_PROMPT_WORDS}", *path)

