"""Typed, frozen definitions of a call flow. Built once by the loader; the engine reads only these.

The YAML format is described by these classes, and `ivr flows schema` emits their JSON Schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STEP_ID = r"^[A-Za-z_][A-Za-z0-9_-]*$"
LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
VOICE_FILE = r"\.onnx$"
TIME_RANGE = r"^([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"


def _key_as_text(value: object) -> object:
    # `key: 1` in YAML is an int; keypad keys are characters.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Key = Annotated[str, BeforeValidator(_key_as_text), Field(pattern=r"^[0-9*#]$")]
StepId = Annotated[str, Field(pattern=STEP_ID)]


class Strict(BaseModel):
    """Base for every definition: unknown keys are errors, and nothing changes after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Prompt(Strict):
    """Something the caller hears: text always (it is the transcript), recorded audio optionally."""

    text: str = Field(min_length=1, description="What is said; also the transcript of `audio`.")
    audio: str | None = Field(None, description="Recorded prompt, relative to the project root.")


class Group(Strict):
    """People to transfer to: one label, one or more numbers."""

    label: str = Field(description="Who answers, as the caller and the records name them.")
    numbers: list[str] = Field(min_length=1, description="E.164 phone numbers.")
    ring: Literal["simultaneous", "in_order"] = "simultaneous"
    timeout: int = Field(20, ge=5, le=120, description="Seconds to ring before giving up.")
    language: str | None = Field(None, pattern=LANGUAGE,
                                 description="Language of the whisper these people hear (BCP-47); "
                                             "default the flow's staff_language.")
    voice: str | None = Field(None, pattern=VOICE_FILE,
                              description="Piper voice (.onnx) their whisper is spoken in; default "
                                          "the bundled voice of its language, else espeak-ng.")


class Routing(Strict):
    """Which group takes which kind of transfer."""

    person: str = Field(description="Group for callers who ask for a person during opening hours.")
    emergency: str = Field(description="Group for emergencies, day or night (the on-call person).")


class Emergency(Strict):
    """Words that mean an emergency for this business, and what to say first."""

    name: str
    phrases: list[str] = Field(min_length=1)
    safety: str | None = Field(None, description="Said before the transfer, e.g. leave the building.")


class Choice(Strict):
    """One option of a menu: words to say and a key to press, leading to a step."""

    intent: str = Field(description="A short name for the choice, used in records.")
    phrases: list[str] = Field(default_factory=list, description="What a caller may say.")
    key: Key | None = Field(None, description="The keypad key for the same choice.")
    next: StepId


class Say(Strict):
    """Speak, then go on."""

    kind: Literal["say"]
    text: str = Field(min_length=1)
    audio: str | None = None
    next: StepId


class Menu(Strict):
    """Speak, then listen for one of several choices (spoken or keyed)."""

    kind: Literal["menu", "ask"]
    text: str = Field(min_length=1)
    audio: str | None = None
    choices: list[Choice] = Field(min_length=1)
    timeout: int = Field(6, ge=2, le=30, description="Seconds of silence before a miss.")


class Answer(Strict):
    """A routine answer, then "anything else?"."""

    kind: Literal["answer"]
    text: str = Field(min_length=1)
    audio: str | None = None
    more: StepId | None = Field(None, description="Where 'yes, something else' goes; default start.")


class Transfer(Strict):
    """Hand the caller to people; after hours this becomes a voicemail unless it is an emergency."""

    kind: Literal["transfer"]
    to: str = Field(description="A group from `people`.")
    reason: str = Field(description="Why, in a few words; the person answering hears it.")
    text: str | None = Field(None, description="Said before transferring.")
    emergency: bool = False


class Voicemail(Strict):
    """Record a message and promise an honest call-back."""

    kind: Literal["voicemail"]
    text: str | None = Field(None, description="Said before the tone; the call-back promise follows.")
    max_seconds: int = Field(120, ge=10, le=600)


class Hangup(Strict):
    """Say goodbye and end the call."""

    kind: Literal["hangup"]
    text: str | None = None


class Hours(Strict):
    """Branch on the business's opening hours."""

    kind: Literal["hours"]
    open: StepId
    closed: StepId


Step = Annotated[
    Union[Say, Menu, Answer, Transfer, Voicemail, Hangup, Hours], Field(discriminator="kind")
]
TARGET_FIELDS = ("next", "more", "open", "closed")  # the fields of a step that name a step


def step_targets(step: object) -> list[tuple[tuple[str | int, ...], str]]:
    """Every step this step can lead to, with where in the step it is named (for line numbers).
    The loader checks these exist and lint walks them; one list, so the two cannot disagree."""
    targets: list[tuple[tuple[str | int, ...], str]] = [
        ((name,), target) for name in TARGET_FIELDS if (target := getattr(step, name, None))]
    for i, choice in enumerate(getattr(step, "choices", [])):
        targets.append((("choices", i, "next"), choice.next))
    return targets


STEP_KINDS: dict[str, type[Strict]] = {
    "say": Say, "menu": Menu, "ask": Menu, "answer": Answer, "transfer": Transfer,
    "voicemail": Voicemail, "hangup": Hangup, "hours": Hours,
}


class Flow(Strict):
    """One line of business: who answers, when it is open, and what callers hear."""

    name: str
    language: str = Field(pattern=LANGUAGE, description="BCP-47.")
    staff_language: str | None = Field(None, pattern=LANGUAGE,
                                       description="Language of the whisper staff hear (BCP-47); "
                                                   "default the flow's language.")
    timezone: str = Field(description="IANA name of the business's clock, e.g. Europe/London.")
    voice: str | None = Field(None, pattern=VOICE_FILE,
                              description="Piper voice (.onnx, its .onnx.json beside it) that speaks "
                                          "the prompts, relative to the project root or absolute; "
                                          "default the bundled voice of the language, else espeak-ng.")
    phone_numbers: list[str] = Field(default_factory=list, description="Twilio numbers it answers.")
    hours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                list[Annotated[str, Field(pattern=TIME_RANGE)]]] = Field(default_factory=dict)
    holidays: list[dt.date] = Field(default_factory=list)
    overrides: dict[dt.date, list[Annotated[str, Field(pattern=TIME_RANGE)]]] = Field(
        default_factory=dict, description="One-off hours for a date (an empty list: closed).")
    people: dict[str, Group] = Field(min_length=1)
    routing: Routing
    callback_promise: str = Field(description="When a message will be returned, said honestly.")
    disclosure: Prompt
    emergencies: list[Emergency] = Field(default_factory=list)
    distress_sensitivity: Literal["low", "normal", "high"] = Field(
        "normal", description="How readily signs of distress hand a caller to a person.")
    start: StepId
    steps: dict[StepId, Step] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        # An unknown zone would only fail mid-call (at key 0, or on the fault path): refuse it here.
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/London, "
                             "America/New_York or Asia/Seoul") from None
        return name

    _source: str = PrivateAttr(default="<flow>")
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str:
        """The file this flow was loaded from."""
        return self._source

    def staff_language_of(self, group: str) -> str:
        """The language the people of `group` hear their whisper in."""
        return self.people[group].language or self.staff_language or self.language

    def line_of(self, *path: str | int) -> int:
        """Line in the source file of the deepest known part of `path` (1 when unknown)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self._lines:
                return self._lines[path[:end]]
        return 1

    def located(self, source: str, lines: dict[tuple[str | int, ...], int]) -> Flow:
        """Attach where this flow came from, for error messages."""
        self._source, self._lines = source, lines
        return self
