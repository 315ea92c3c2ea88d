"""YAML flow files -> typed `Flow`, with every problem reported as file, line and what is allowed."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent

from ivr.errors import FlowError, Problem
from ivr.flow.model import STEP_KINDS, Flow, step_targets

Lines = dict[tuple[str | int, ...], int]
# What a flow may cost to read: anyone who can edit a draft can send one, so a huge file or a
# YAML alias bomb ("billion laughs") is refused with a clear error before it costs the gateway.
MAX_FLOW_BYTES = 256 * 1024
MAX_ALIASES = 100
MAX_VALUES = 50_000


class _TooBig(Exception):
    pass


def parse_yaml(text: str, source: str) -> tuple[Any, Lines]:
    """Parse YAML into plain data plus the line of every key and list item.

    ruamel.yaml reads YAML 1.2, where only true/false are booleans: the yes/no/on/off that IVR
    menus are made of stay words, and 09:00 stays a time, not a number of minutes."""
    size = len(text.encode("utf-8"))
    if size > MAX_FLOW_BYTES:
        raise FlowError([Problem(source, 1, f"the flow is {size // 1024} KB; a flow may be at most "
                                            f"{MAX_FLOW_BYTES // 1024} KB")])
    try:
        aliases = sum(isinstance(e, AliasEvent) for e in YAML(typ="rt", pure=True).parse(text))
        if aliases > MAX_ALIASES:
            raise FlowError([Problem(source, 1, f"the flow uses {aliases} YAML aliases (*name); "
                                                f"at most {MAX_ALIASES} are allowed")])
        node = YAML(typ="rt", pure=True).load(text)
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        found = re.search(r'duplicate key "(.*?)"', str(exc.problem))
        key = found.group(1) if found else "?"
        raise FlowError([Problem(source, line, f"key {key!r} appears twice")]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 1
        raise FlowError([Problem(source, line, f"not valid YAML: {exc.problem}")]) from None
    lines: Lines = {}
    if node is None:
        return None, lines
    try:
        if _expanded_size(node, {}) > MAX_VALUES:  # counted without expanding: cheap
            raise _TooBig
        return _to_data(node, (), lines, [MAX_VALUES]), lines
    except _TooBig:
        raise FlowError([Problem(source, 1, f"the flow expands to more than {MAX_VALUES:,} values "
                                            "(YAML aliases repeating each other?)")]) from None


def _expanded_size(node: Any, seen: dict[int, int]) -> int:
    """How many values `node` becomes once its aliases are expanded (each shared part counted
    once per use, computed once)."""
    if id(node) in seen:
        return seen[id(node)]
    children = node.values() if isinstance(node, CommentedMap) else \
        node if isinstance(node, CommentedSeq) else ()
    size = 1 + sum(_expanded_size(child, seen) for child in children)
    seen[id(node)] = size
    return size


def _to_data(node: Any, path: tuple[str | int, ...], lines: Lines, budget: list[int]) -> Any:
    """ruamel's commented containers and scalar types -> plain dicts, lists, str, int, float.
    `budget` counts the values left to build (aliases are expanded here)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig
    if isinstance(node, CommentedMap):
        lines.setdefault(path, node.lc.line + 1)
        out: dict[Any, Any] = {}
        for key, value in node.items():
            key = _plain(key)
            lines[(*path, key)] = node.lc.key(key)[0] + 1
            out[key] = _to_data(value, (*path, key), lines, budget)
        return out
    if isinstance(node, CommentedSeq):
        lines.setdefault(path, node.lc.line + 1)
        items = []
        for i, item in enumerate(node):
            lines[(*path, i)] = node.lc.item(i)[0] + 1
            items.append(_to_data(item, (*path, i), lines, budget))
        return items
    return _plain(node)


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value


def load_flow(path: str | Path, audio_root: str | Path | None = None) -> Flow:
    """Load and check one flow file; raise `FlowError` listing every problem found."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowError([Problem(source, 1, f"cannot read file: {exc.strerror}")]) from None
    root = Path(audio_root) if audio_root is not None else path.resolve().parent.parent
    return load_flow_text(text, source, root)


def load_flow_text(text: str, source: str, audio_root: Path | None = None) -> Flow:
    """Load a flow from YAML text (the console edits text that is not yet a file)."""
    data, lines = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise FlowError([Problem(source, 1, "a flow file must be a mapping of keys (name, steps...)")])
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        raise FlowError(_problems_from(exc, source, lines)) from None
    flow.located(source, lines)
    problems = check_references(flow, audio_root)
    if problems:
        raise FlowError(problems)
    return flow


def prompt_file(root: Path, audio: str) -> Path | None:
    """Where a flow's `audio:` points, if that is inside the audio folder (`root`/audio, not its
    cache); None for any other place, whether it exists or not (lint is no file-finder)."""
    folder = (root / "audio").resolve()
    path = (root / audio).resolve()
    if folder not in path.parents or (folder / "cache") in (path, *path.parents):
        return None
    return path


def check_references(flow: Flow, audio_root: Path | None) -> list[Problem]:
    """Steps, people and audio named in the flow must exist."""
    problems: list[Problem] = []
    steps, groups = sorted(flow.steps), sorted(flow.people)

    def need_step(target: str | None, *path: str | int) -> None:
        if target is not None and target not in flow.steps:
            problems.append(Problem(flow.source, flow.line_of(*path),
                                    f"no step named {target!r}; steps are: {', '.join(steps)}"))

    def need_group(name: str, *path: str | int) -> None:
        if name not in flow.people:
            problems.append(Problem(flow.source, flow.line_of(*path),
                                    f"no people named {name!r}; people are: {', '.join(groups)}"))

    def need_audio(audio: str | None, *path: str | int) -> None:
        if audio is None or audio_root is None:
            return
        if prompt_file(audio_root, audio) is None:  # anywhere else (a voicemail, /etc) is refused
            problems.append(Problem(flow.source, flow.line_of(*path),
                                    f"audio {audio!r}: recorded prompts are files in audio/ "
                                    f"(e.g. audio/{flow.name.split()[0].lower()}/main.wav), "
                                    "outside audio/cache/"))
        elif not (audio_root / audio).is_file():
            problems.append(Problem(flow.source, flow.line_of(*path),
                                    f"audio file {audio!r} not found under {audio_root}"))

    def need_voice(voice: str | None, *path: str | int) -> None:
        if voice is None or audio_root is None:
            return
        model = audio_root / voice
        if not model.is_file() or not model.with_name(model.name + ".json").is_file():
            problems.append(Problem(flow.source, flow.line_of(*path),
                                    f"voice {voice!r}: a Piper voice is an .onnx file with its .onnx.json "
                                    f"beside it, and none is at {model}"))

    need_step(flow.start, "start")
    need_group(flow.routing.person, "routing", "person")
    need_group(flow.routing.emergency, "routing", "emergency")
    need_audio(flow.disclosure.audio, "disclosure", "audio")
    need_voice(flow.voice, "voice")
    for name, group in flow.people.items():
        need_voice(group.voice, "people", name, "voice")
    for sid, step in flow.steps.items():
        for where, target in step_targets(step):
            need_step(target, "steps", sid, *where)
        if hasattr(step, "to"):
            need_group(step.to, "steps", sid, "to")
        need_audio(getattr(step, "audio", None), "steps", sid, "audio")
    return problems


def _problems_from(exc: ValidationError, source: str, lines: Lines) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        data_loc = _data_path(loc)
        # a bad or missing `kind` is best shown on the kind line itself
        kind_loc = (*data_loc, "kind") if err["type"].startswith("union_tag") else data_loc
        line = _line_for(kind_loc, lines)
        problems.append(Problem(source, line, _explain(err, loc, data_loc)))
    return problems


def _data_path(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # pydantic puts the union tag ("menu") in the location of a step; the YAML has no such key.
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if i == 2 and loc[0] == "steps" and part in STEP_KINDS:
            continue
        out.append(part)
    return tuple(out)


def _line_for(path: tuple[str | int, ...], lines: Lines) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def _explain(err: Any, loc: tuple[str | int, ...], data_loc: tuple[str | int, ...]) -> str:
    where = ".".join(str(p) for p in data_loc) or "the file"
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return f"unknown key {loc[-1]!r} in {'.'.join(map(str, data_loc[:-1])) or 'the file'}; " \
               f"allowed: {', '.join(allowed)}"
    if kind == "missing":
        return f"missing key {loc[-1]!r} in {'.'.join(map(str, data_loc[:-1])) or 'the file'}"
    if kind == "value_error":  # our own validators: their message is the explanation
        return f"{where}: {err['ctx']['error']}"
    if kind == "union_tag_not_found":
        return f"{where}: every step needs a `kind`: one of {', '.join(STEP_KINDS)}"
    if kind == "union_tag_invalid":
        return f"{where}: kind {err['input'].get('kind')!r} is not one of {', '.join(STEP_KINDS)}"
    if kind == "string_pattern_mismatch" and "hours" in data_loc:
        return f"{where}: {err['input']!r} is not a time range like 09:00-17:30"
    if kind == "string_pattern_mismatch" and data_loc[-1:] == ("key",):
        return f"{where}: {err['input']!r} is not a keypad key (0-9, * or #)"
    if kind == "literal_error" and "hours" in data_loc:
        return f"{where}: not a weekday; use {', '.join(('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'))}"
    return f"{where}: {err['msg']}"


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """Walk the model classes along a pydantic error location to list the keys allowed there."""
    current: Any = Flow
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            current = field.annotation if field else None
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        elif typing.get_origin(current) is typing.Union:
            current = STEP_KINDS.get(str(part))
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        if len(real) == 1:
            return _unwrap(real[0])
    return tp


def load_flows(paths: list[Path], audio_root: Path | None = None) -> dict[str, Flow]:
    """Load several flows keyed by file stem; raise one `FlowError` with all their problems."""
    flows: dict[str, Flow] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            flows[path.stem] = load_flow(path, audio_root)
        except FlowError as exc:
            problems.extend(exc.problems)
    if problems:
        raise FlowError(problems)
    return flows
