"""A bad IVR_* value stops a command with one line naming it, never a traceback."""

from __future__ import annotations

import pytest

from ivr.cli import main


@pytest.mark.parametrize(("argv", "variable", "value"), [
    (["cleanup"], "IVR_KEEP_RECORDINGS_DAYS", "-3"),
    (["cluster", "--instances", "1"], "IVR_PORT", "x"),
    (["serve"], "IVR_DRAIN_SECONDS", "abc"),
])
def test_bad_settings_are_named(argv: list[str], variable: str, value: str,
                                monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(variable, value)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"{variable}='{value}'" in err and "Traceback" not in err


def test_cluster_without_haproxy_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["cluster", "--instances", "1"]) == 1
    assert "haproxy is not installed" in capsys.readouterr().err
