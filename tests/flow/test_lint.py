"""`ivr flows check`: shipped flows pass; each broken fixture fails with file, line and reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.cli import main
from ivr.flow.lint import check_file
from tests.conftest import FIXTURES, FLOWS_DIR

BROKEN = sorted((FIXTURES / "broken").glob("*.yaml"))
EXPECT = re.compile(r"^# expect (error|warning) at line (\d+): (.+)$")


def test_shipped_flows_pass_with_no_problems() -> None:
    for path in sorted(FLOWS_DIR.glob("*.yaml")):
        assert check_file(path) == [], path


def test_there_is_a_broken_fixture_per_rule() -> None:
    assert len(BROKEN) >= 20


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_flow_reports_file_line_and_reason(path: Path) -> None:
    match = EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert match, f"{path.name} needs an '# expect' header"
    severity, line, text = match.group(1), int(match.group(2)), match.group(3)
    problems = check_file(path)
    hits = [p for p in problems if text in p.message]
    assert hits, f"expected {text!r}, got {[str(p) for p in problems]}"
    assert hits[0].severity == severity
    assert hits[0].line == line
    assert hits[0].file == str(path)


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_cli_exit_code_follows_severity(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    severity = EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0]).group(1)  # type: ignore[union-attr]
    code = main(["flows", "check", str(path)])
    out = capsys.readouterr().out
    assert code == (1 if severity == "error" else 0)
    assert f"{path}:" in out and f": {severity}: " in out


def test_cli_checks_all_shipped_flows_by_default(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(FLOWS_DIR.parent)
    assert main(["flows", "check"]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out
