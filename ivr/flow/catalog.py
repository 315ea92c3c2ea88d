"""Every prompt a flow can make the gateway say, so they can be rendered before the first call."""

from __future__ import annotations

from ivr.flow.hours import describe_hours
from ivr.flow.model import Flow
from ivr.flow.prompts import BUILTIN, builtin


def prompt_of(flow: Flow, step: str) -> tuple[str, str | None] | None:
    """(text, audio) of the disclosure or of one step's own prompt; None if it says nothing."""
    if step == "disclosure":
        return flow.disclosure.text, flow.disclosure.audio
    text = getattr(flow.steps.get(step), "text", None)
    return (text, getattr(flow.steps[step], "audio", None)) if text else None


def spoken_prompts(flow: Flow) -> list[tuple[str, str | None]]:
    """(text, audio) pairs: the flow's own prompts and the built-in ones in its language."""
    out: list[tuple[str, str | None]] = [(flow.disclosure.text, flow.disclosure.audio)]
    for step in flow.steps.values():
        text = getattr(step, "text", None)
        if text:
            out.append((text, getattr(step, "audio", None)))
        if step.kind == "voicemail":
            out.append((f"{text} {flow.callback_promise}" if text else
                        builtin(flow.language, "voicemail", promise=flow.callback_promise), None))
    out += [(e.safety, None) for e in flow.emergencies if e.safety]
    lang = flow.language
    simple = [k for k, v in BUILTIN["en"].items() if "{" not in v and not k.startswith("hours")]
    out += [(builtin(lang, key), None) for key in simple]
    out += [(builtin(lang, "connecting", label=p.label), None) for p in flow.people.values()]
    out.append((builtin(lang, "closed", hours=describe_hours(flow)), None))
    out.append((builtin(lang, "voicemail", promise=flow.callback_promise), None))
    return list(dict.fromkeys(out))
