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


@pytest.mark.parametrize("argv", [["db", "upgrade"], ["cleanup"]])
@pytest.mark.parametrize("url", ["postgresql://ivr:secret@127.0.0.1:1/ivr", "nosuchdb://x"])
def test_an_unreachable_or_misnamed_database_is_one_line(argv: list[str], url: str,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IVR_DATABASE_URL", url)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("cannot open the database IVR_DATABASE_URL=") and "Traceback" not in err
    assert "secret" not in err and len(err.strip().splitlines()) == 1
