"""The simple form view: what owners change most (hours, holidays, people's numbers, what the
line says), written back into the same YAML with its comments and layout kept."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from ivr.flow.model import WEEKDAYS

SPOKEN_KINDS = ("say", "menu", "ask", "answer", "transfer", "voicemail", "hangup")


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 100
    return yaml


def form_fields(text: str) -> dict[str, Any]:
    """The values the form shows, read from a flow's YAML."""
    data = _yaml().load(text)
    hours = data.get("hours") or {}
    return {
        "hours": {day: ", ".join(hours.get(day) or []) for day in WEEKDAYS},
        "holidays": ", ".join(str(d) for d in data.get("holidays") or []),
        "people": {name: ", ".join(group.get("numbers") or []) for name, group in data["people"].items()},
        "disclosure": data["disclosure"].get("text", ""),
        "callback_promise": data.get("callback_promise", ""),
        "prompts": {sid: step.get("text", "") for sid, step in data["steps"].items()
                    if step.get("kind") in SPOKEN_KINDS and "text" in step},
    }


def apply_form(text: str, form: dict[str, str]) -> str:
    """The same YAML with the form's values in place; everything else untouched."""
    yaml = _yaml()
    data = yaml.load(text)
    if any(f"hours.{day}" in form for day in WEEKDAYS):
        hours = {day: _list(form.get(f"hours.{day}", "")) for day in WEEKDAYS}
        data["hours"] = {day: _flow(spans) for day, spans in hours.items() if spans}
    if "holidays" in form:
        data["holidays"] = _flow([dt.date.fromisoformat(d) for d in _list(form["holidays"])], quote=False)
    for name, group in data["people"].items():
        if f"people.{name}" in form:
            group["numbers"] = _flow(_list(form[f"people.{name}"]))
    if form.get("disclosure"):
        data["disclosure"]["text"] = " ".join(form["disclosure"].split())
    if form.get("callback_promise"):
        data["callback_promise"] = " ".join(form["callback_promise"].split())
    for sid, step in data["steps"].items():
        value = form.get(f"prompt.{sid}")
        if value is not None and "text" in step and value.strip():
            step["text"] = " ".join(value.split())
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _list(value: str) -> list[str]:
    return [part for part in re.split(r"[,\s]+", value.strip()) if part]


def _flow(items: list[Any], quote: bool = True) -> CommentedSeq:
    # Quoted, as managers write them: an unquoted +15550100 would read as a number.
    seq = CommentedSeq([DoubleQuotedScalarString(i) for i in items] if quote else items)
    seq.fa.set_flow_style()  # ["08:00-18:00"] on one line, as managers write it
    return seq
