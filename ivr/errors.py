"""One exception root for the gateway; adapters map these to HTTP codes, TwiML or exits."""

from __future__ import annotations

from dataclasses import dataclass


class IvrError(Exception):
    """Root of every error the gateway raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow file, located for the person who edits it."""

    file: str
    line: int
    message: str
    severity: str = "error"  # "error" blocks running; "warning" is advice

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"


class FlowError(IvrError):
    """A flow file that cannot be loaded; carries every problem found, each with file and line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigError(IvrError):
    """Settings that cannot work (missing token, unreadable model path...)."""


class SignatureError(IvrError):
    """A request that does not carry a valid X-Twilio-Signature."""
