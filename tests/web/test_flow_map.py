"""The flow map: columns by distance from the start, labelled arrows, escapes in a legend, lint
problems on the boxes they concern."""

from __future__ import annotations

import re
from pathlib import Path

from ivr.flow.lint import lint_flow
from ivr.flow.loader import load_flow, load_flow_text
from ivr.web.flow_map import edges, flow_map_svg, layout, problems_by_step
from tests.conftest import FLOWS_DIR


def test_steps_are_laid_out_by_distance_from_the_start() -> None:
    flow = load_flow(FLOWS_DIR / "plumbing.yaml")
    place = layout(flow)
    assert place["main"] == (0, 0)
    assert {place[s][0] for s in ("hours", "prices", "area", "booking_hours")} == {1}
    assert place["booking"][0] == place["booking_closed"][0] == 2
    assert len(set(place.values())) == len(place)  # no two boxes on one spot


def test_choices_are_arrows_labelled_with_a_phrase_and_the_key() -> None:
    flow = load_flow(FLOWS_DIR / "korean.yaml")
    labels = {(e.source, e.target): e.label for e in edges(flow)}
    assert labels[("main", "hours")] == "시간 · 3"  # phrase 시간, key 3
    assert ("hours", "main") not in labels  # "anything else? yes" back to the start: the legend says it
    svg = flow_map_svg(flow)
    assert "a person word or 0, two misses in a row, or distress → 상담원" in svg
    assert svg.count('class="edge"') == 3 and svg.count('data-step=') == 4


def test_lint_problems_mark_the_box_they_concern(tmp_path: Path) -> None:
    # Key 0 is every call's way to a person: a menu choice on it is an error of that menu.
    text = (FLOWS_DIR / "korean.yaml").read_text(encoding="utf-8").replace("key: 2", "key: 0")
    flow = load_flow_text(text, "korean.yaml", tmp_path)
    problems = lint_flow(flow)
    marked = problems_by_step(flow, problems)
    assert list(marked) == ["main"] and "reserved" in marked["main"][0].message, problems
    svg = flow_map_svg(flow, problems)
    box = re.search(r'<g class="([^"]*)" data-step="main"', svg)
    assert box and "has-error" in box.group(1).split() and "⚠ 1" in svg
    assert "key 0 is reserved" in svg  # in the box's tooltip (its <title>)
