"""A live call as JSON, so that any gateway instance can pick it up where another left it.

Only the engine's own value types are encoded (events, actions, turns, `CallState`); each
object carries its type name, tuples come back as tuples and times as aware datetimes. A
snapshot from an incompatible version fails loudly (`SnapshotError`), and the caller of
`decode` hands the caller to a person rather than guess.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from ivr.flow import events as ev
from ivr.flow.state import CallState

TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    ev.CallStarted, ev.Heard, ev.Pressed, ev.Silence, ev.PromptFinished, ev.CallerLoud,
    ev.TransferFailed, ev.MessageRecorded, ev.CallEnded, ev.PlayPrompt, ev.Listen, ev.Person,
    ev.HandOver, ev.TakeMessage, ev.EndCall, ev.Turn, ev.SignalNoted, CallState)}
# Actions' names before they were renamed: calls live during a rolling upgrade still restore.
FORMER_NAMES: dict[str, type] = {"Say": ev.PlayPrompt, "Transfer": ev.HandOver,
                                 "Voicemail": ev.TakeMessage, "Hangup": ev.EndCall}


class SnapshotError(ValueError):
    """A stored snapshot this code cannot read."""


def encode(value: Any) -> Any:
    """Plain JSON values for `value` (see `decode`)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if TYPES.get(name) is not type(value):
            raise SnapshotError(f"cannot snapshot a {name}")
        return {"$": name, **{f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, dt.datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, tuple):
        return {"$()": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise SnapshotError(f"cannot snapshot a {type(value).__name__}")


def decode(data: Any) -> Any:
    """The value `encode` was given."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "$t" in data:
        return dt.datetime.fromisoformat(data["$t"])
    if "$()" in data:
        return tuple(decode(v) for v in data["$()"])
    if "$" in data:
        cls = TYPES.get(data["$"]) or FORMER_NAMES.get(data["$"])
        if cls is None:
            raise SnapshotError(f"unknown type {data['$']!r} in a call snapshot")
        fields = {k: decode(v) for k, v in data.items() if k != "$"}
        try:
            return cls(**fields)
        except TypeError as exc:
            raise SnapshotError(f"{data['$']} in a call snapshot: {exc}") from None
    return {k: decode(v) for k, v in data.items()}


def dumps(value: Any) -> str:
    return json.dumps(encode(value), ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> Any:
    try:
        return decode(json.loads(text))
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"a call snapshot is not JSON: {exc}") from None
