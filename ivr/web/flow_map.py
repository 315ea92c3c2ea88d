"""A flow drawn as a picture: steps as boxes, choices as labelled arrows, rendered here as SVG.

Laid out in columns by distance from the start step (what a caller reaches first is on the
left), boxes stacked in each column. The escapes every step has (a person word or 0, two
misses, distress, emergencies, after hours) are drawn once as a legend, not as arrows from every
box. Lint problems mark the boxes they concern; `traffic` (calls, misses, ... per step) is
written on each box for the "where callers struggle" view. No library, no script: the server
sends the SVG, and the page swaps it in as the draft changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape

from ivr.errors import Problem
from ivr.flow.model import Answer, Flow, Hours, Menu, step_targets

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 210, 76, 110, 34, 16
LEGEND_H = 58
TEXT_CHARS = 30
LABEL_CHARS = 17  # what fits between two columns


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    detail: str = ""  # every phrase, for the tooltip


def layout(flow: Flow) -> dict[str, tuple[int, int]]:
    """Column and row of every step: columns by breadth-first distance from the start step,
    steps no path reaches in a last column of their own."""
    column: dict[str, int] = {flow.start: 0}
    queue = [flow.start]
    while queue:
        sid = queue.pop(0)
        step = flow.steps.get(sid)
        for _, target in step_targets(step) if step is not None else []:
            if target in flow.steps and target not in column:
                column[target] = column[sid] + 1
                queue.append(target)
    last = max(column.values(), default=0) + 1
    rows: dict[int, int] = {}
    place = {}
    for sid in flow.steps:  # file order within a column: the order the manager wrote them in
        col = column.get(sid, last)
        place[sid] = (col, rows.get(col, 0))
        rows[col] = rows.get(col, 0) + 1
    return place


def edges(flow: Flow) -> list[Edge]:
    out = []
    for sid, step in flow.steps.items():
        if isinstance(step, Menu):
            for choice in step.choices:
                first = choice.phrases[0] if choice.phrases else choice.intent
                more = f" +{len(choice.phrases) - 1}" if len(choice.phrases) > 1 else ""
                key = f" · {choice.key}" if choice.key else ""
                label = _short(first, LABEL_CHARS - len(more) - len(key)) + more + key
                detail = f"{choice.intent}: {', '.join(choice.phrases)}{f'; key {choice.key}' if key else ''}"
                out.append(Edge(sid, choice.next, label, detail))
        elif isinstance(step, Hours):
            out += [Edge(sid, step.open, "open"), Edge(sid, step.closed, "closed")]
        elif isinstance(step, Answer):
            if step.more is not None:  # back to the start is the rule, said once in the legend
                out.append(Edge(sid, step.more, "anything else? yes"))
        else:
            out += [Edge(sid, target, "") for _, target in step_targets(step)]
    return [e for e in out if e.target in flow.steps]


def problems_by_step(flow: Flow, problems: list[Problem]) -> dict[str, list[Problem]]:
    """Each problem on the step whose lines hold it (problems elsewhere belong to no box)."""
    starts = sorted((flow.line_of("steps", sid), sid) for sid in flow.steps)
    first = flow.line_of("steps")
    out: dict[str, list[Problem]] = {}
    for problem in problems:
        if problem.line <= first:
            continue
        owner = [sid for line, sid in starts if line <= problem.line]
        if owner:
            out.setdefault(owner[-1], []).append(problem)
    return out


def flow_map_svg(flow: Flow, problems: list[Problem] | None = None,
                 traffic: Mapping[str, Mapping[str, int]] | None = None) -> str:
    place = layout(flow)
    marked = problems_by_step(flow, problems or [])
    columns = max(c for c, _ in place.values()) + 1
    rows = max(r for _, r in place.values()) + 1
    legend = _legend_lines(flow)
    width = max(PAD * 2 + columns * BOX_W + (columns - 1) * GAP_X, _legend_width(legend) + 2 * PAD)
    height = PAD * 2 + LEGEND_H + rows * BOX_H + rows * GAP_Y  # room below for arrows that loop back

    def box_xy(sid: str) -> tuple[int, int]:
        col, row = place[sid]
        return PAD + col * (BOX_W + GAP_X), PAD + LEGEND_H + row * (BOX_H + GAP_Y)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-map" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-labelledby="map-title">',
             f'<title id="map-title">Map of {escape(flow.name)}: {len(flow.steps)} steps, starting at '
             f'{escape(flow.start)}</title>',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/>'
             '</marker></defs>']
    parts.append(_legend(legend))
    for sid, step in flow.steps.items():
        x, y = box_xy(sid)
        parts.append(_box(sid, step, x, y, sid == flow.start, marked.get(sid, []),
                          (traffic or {}).get(sid)))
    for edge in edges(flow):  # over the boxes, so no label hides under one
        parts.append(_edge(edge, box_xy(edge.source), box_xy(edge.target)))
    parts.append("</svg>")
    return "\n".join(parts)


def _legend_lines(flow: Flow) -> list[str]:
    person = flow.people[flow.routing.person].label
    oncall = flow.people[flow.routing.emergency].label
    return [f"From every step: a person word or 0, two misses in a row, or distress → {person}; "
            f"an emergency → {oncall}, at any hour.",
            f"After an answer, “anything else? yes” → {flow.start}; after hours a transfer becomes a "
            "message with the call-back promise."]


def _legend_width(lines: list[str]) -> int:
    return 16 + int(6.4 * max(len(line) for line in lines))


def _legend(lines: list[str]) -> str:
    text = "".join(f'<tspan x="{PAD + 8}" dy="{18 if i else 0}">{escape(line)}</tspan>'
                   for i, line in enumerate(lines))
    return (f'<g class="legend"><rect x="{PAD}" y="{PAD - 4}" width="{_legend_width(lines)}" '
            f'height="{LEGEND_H - 14}" rx="6"/><text x="{PAD + 8}" y="{PAD + 14}">{text}</text></g>')


def _edge(edge: Edge, source: tuple[int, int], target: tuple[int, int]) -> str:
    (sx, sy), (tx, ty) = source, target
    x1, y1 = sx + BOX_W, sy + BOX_H / 2
    x2: float
    y2: float
    if tx > sx:  # forward: right side to left side
        x2, y2 = tx, ty + BOX_H / 2
        bend = (x2 - x1) / 2
        path = f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
        lx, ly, anchor = x2 - 10.0, y2 - 7.0, "end"  # by its arrowhead: arrows leave a box together
    else:  # back or within a column: loop out to the right and come in from below
        x2, y2 = tx + BOX_W / 2, ty + BOX_H
        low = max(sy, ty) + BOX_H + GAP_Y * 0.8
        path = f"M{x1},{y1} C{x1 + 60},{y1} {x1 + 60},{low} {(x1 + x2) / 2},{low} S{x2},{low} {x2},{y2}"
        lx, ly, anchor = (x1 + x2) / 2, low - 4, "middle"
    label = (f'<text class="edge-label" x="{lx:.0f}" y="{ly:.0f}" text-anchor="{anchor}">'
             f"{escape(edge.label)}</text>" if edge.label else "")
    title = f"<title>{escape(edge.detail)}</title>" if edge.detail else ""
    return (f'<g class="edge" data-from="{escape(edge.source)}" data-to="{escape(edge.target)}">{title}'
            f'<path d="{path}" marker-end="url(#arrow)"/>{label}</g>')


def _box(sid: str, step: object, x: int, y: int, start: bool, problems: list[Problem],
         traffic: Mapping[str, int] | None) -> str:
    kind = getattr(step, "kind", "")
    text = getattr(step, "text", None) or _describe(step)
    classes = ["step", kind] + (["start"] if start else []) + \
        (["has-error" if any(p.severity == "error" for p in problems) else "has-warning"] if problems else [])
    title = f"{sid} ({kind})" + "".join(f"\nline {p.line}: {p.severity}: {p.message}" for p in problems)
    parts = [f'<g class="{" ".join(classes)}" data-step="{escape(sid)}" tabindex="0">',
             f"<title>{escape(title)}</title>",
             f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8"/>',
             f'<text class="step-id" x="{x + 10}" y="{y + 20}">{escape(sid)}'
             f'<tspan class="kind" dx="6">{escape(kind)}{" · start" if start else ""}</tspan></text>',
             f'<text class="step-text" x="{x + 10}" y="{y + 40}">{escape(_short(text, TEXT_CHARS))}</text>']
    if problems:
        parts.append(f'<text class="problem-badge" x="{x + BOX_W - 10}" y="{y + 20}" text-anchor="end">'
                     f"⚠ {len(problems)}</text>")
    if traffic:
        figures = " · ".join(f"{n} {what}" for what, n in traffic.items() if n)
        parts.append(f'<text class="traffic" x="{x + 10}" y="{y + 62}">{escape(_short(figures, 36))}</text>')
    parts.append("</g>")
    return "".join(parts)


def _describe(step: object) -> str:
    if isinstance(step, Hours):
        return "open or closed now?"
    to = getattr(step, "to", None)
    return f"to {to}" if to else getattr(step, "kind", "")


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
