"""Flow versions: immutable, with one published per flow, and an audit log of every change."""

from __future__ import annotations

import difflib
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from ivr.store.calls import utcnow
from ivr.store.tables import audit_log, flow_versions


class FlowVersionStore:
    """Drafts, publishing and roll-back. A version's YAML never changes once written."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def latest(self, flow: str, status: str | None = None) -> dict[str, Any] | None:
        query = select(flow_versions).where(flow_versions.c.flow == flow)
        if status:
            query = query.where(flow_versions.c.status == status)
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(flow_versions.c.version.desc()).limit(1)).mappings().first()
            return dict(row) if row else None

    def get(self, flow: str, version: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(flow_versions).where(
                flow_versions.c.flow == flow, flow_versions.c.version == version)).mappings().first()
            return dict(row) if row else None

    def versions(self, flow: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(flow_versions).where(flow_versions.c.flow == flow)
                                .order_by(flow_versions.c.version.desc()))
            return [dict(r) for r in rows.mappings()]

    def has_text(self, flow: str, yaml_text: str) -> bool:
        """Is `yaml_text` one of the flow's versions already?"""
        with self.engine.connect() as conn:
            return conn.execute(select(flow_versions.c.id).where(
                flow_versions.c.flow == flow, flow_versions.c.yaml == yaml_text).limit(1)).first() is not None

    def published(self) -> dict[str, int]:
        """The live version number of every flow."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(flow_versions.c.flow, flow_versions.c.version)
                                .where(flow_versions.c.status == "published"))
            return {flow: version for flow, version in rows}

    def names(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(select(flow_versions.c.flow).distinct()))

    def add(self, flow: str, yaml_text: str, user: str, status: str = "draft",
            note: str = "") -> int:
        """Write a new version; returns its number. The diff against the previous goes to audit."""
        before = self.latest(flow)
        with self.engine.begin() as conn:
            number = (conn.execute(select(func.max(flow_versions.c.version))
                                   .where(flow_versions.c.flow == flow)).scalar() or 0) + 1
            conn.execute(insert(flow_versions).values(
                flow=flow, version=number, yaml=yaml_text, status=status, created_by=user,
                created_at=utcnow(), note=note))
            conn.execute(insert(audit_log).values(
                at=utcnow(), user=user, action=note or f"save {status}", flow=flow, version=number,
                diff=_diff(before["yaml"] if before else "", yaml_text, flow)))
        return number

    def publish(self, flow: str, version: int, user: str, action: str = "publish") -> None:
        """Make `version` the live one; the previously published version is archived."""
        with self.engine.begin() as conn:
            conn.execute(update(flow_versions).where(flow_versions.c.flow == flow,
                                                     flow_versions.c.status == "published")
                         .values(status="archived"))
            conn.execute(update(flow_versions).where(flow_versions.c.flow == flow,
                                                     flow_versions.c.version == version)
                         .values(status="published"))
            conn.execute(insert(audit_log).values(at=utcnow(), user=user, action=action, flow=flow,
                                                  version=version, diff=""))

    def audit(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit))
            return [dict(r) for r in rows.mappings()]


def _diff(before: str, after: str, flow: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        f"{flow} (before)", f"{flow} (after)"))
