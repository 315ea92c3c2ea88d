"""Parsing once, at the edge: YAML -> typed, frozen flows."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest

from ivr.cli import main
from ivr.errors import FlowError
from ivr.flow.loader import load_flow, load_flow_text, parse_yaml
from ivr.flow.model import Menu
from ivr.flow.schema import flow_schema
from tests.conftest import FIXTURES, FLOWS_DIR


def test_yes_no_on_off_stay_words() -> None:
    data, _ = parse_yaml("a: [yes, no, on, off, Yes, true, false]\n", "x.yaml")
    assert data == {"a": ["yes", "no", "on", "off", "Yes", True, False]}


def test_yaml_1_2_keeps_clock_times_and_dates_as_written() -> None:
    # YAML 1.1 (PyYAML) read 09:30 as the number 570 and line numbers come from the same parser.
    data, lines = parse_yaml("open: 09:30\nholidays:\n  - 2027-02-16\nsteps: {a: {next: b}}\n", "x.yaml")
    assert data["open"] == "09:30" and type(data["open"]) is str
    assert str(data["holidays"][0]) == "2027-02-16"
    assert lines[("holidays", 0)] == 3 and lines[("steps", "a", "next")] == 4


def test_yes_and_no_as_menu_phrases_load_as_strings(tmp_path: Path) -> None:
    text = (FIXTURES / "broken" / "fake_feelings.yaml").read_text().replace(
        'phrases: ["hours"]', "phrases: [yes, on]")
    flow = load_flow_text(text, "t.yaml", tmp_path)
    menu = flow.steps["main"]
    assert isinstance(menu, Menu) and menu.choices[0].phrases == ["yes", "on"]


def test_keys_written_as_numbers_become_keypad_characters() -> None:
    flow = load_flow(FLOWS_DIR / "plumbing.yaml")
    menu = flow.steps["main"]
    assert isinstance(menu, Menu)
    assert [c.key for c in menu.choices] == ["1", "2", "3", "4"]


def test_flows_are_frozen() -> None:
    flow = load_flow(FLOWS_DIR / "plumbing.yaml")
    with pytest.raises(pydantic.ValidationError):
        flow.name = "changed"  # type: ignore[misc]


def test_duplicate_keys_are_an_error() -> None:
    with pytest.raises(FlowError, match=r"x.yaml:2: error: key 'name' appears twice"):
        load_flow_text("name: a\nname: b\n", "x.yaml")


def test_every_problem_is_reported_at_once() -> None:
    text = (FIXTURES / "broken" / "missing_step.yaml").read_text().replace(
        "person: desk", "person: nobody")
    with pytest.raises(FlowError) as err:
        load_flow_text(text, "x.yaml", None)
    assert len(err.value.problems) == 2


def test_unreadable_file_is_a_flow_error(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="cannot read file"):
        load_flow(tmp_path / "absent.yaml")


def test_an_empty_file_says_what_a_flow_is() -> None:
    with pytest.raises(FlowError, match="must be a mapping"):
        load_flow_text("", "empty.yaml")


def test_committed_schema_matches_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    committed = json.loads((FLOWS_DIR / "flow.schema.json").read_text(encoding="utf-8"))
    assert committed == flow_schema(), "run: ivr flows schema > flows/flow.schema.json"
    assert main(["flows", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == committed


def test_shipped_flows_reference_the_schema() -> None:
    for path in FLOWS_DIR.glob("*.yaml"):
        assert path.read_text().startswith("# yaml-language-server: $schema=flow.schema.json")


def test_schema_lists_every_step_kind() -> None:
    kinds = set()
    for definition in flow_schema()["$defs"].values():
        kind = definition.get("properties", {}).get("kind", {})
        kinds |= set(kind.get("enum", [])) | ({kind["const"]} if "const" in kind else set())
    assert kinds == {"say", "menu", "ask", "answer", "transfer", "voicemail", "hangup", "hours"}
