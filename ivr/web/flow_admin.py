"""Changing flows safely: drafts, lint, publish without a restart, roll back.

Calls in progress keep the flow and engine they started with (each `LiveCall` holds its
own); only new calls get a newly published version. The published YAML is also written back
to `flows/<name>.yaml`, so files, `ivr flows check` and a restart all see what is live.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ivr.errors import FlowError, Problem
from ivr.flow.engine import Engine
from ivr.flow.lint import lint_flow
from ivr.flow.loader import load_flow_text
from ivr.flow.model import Flow
from ivr.store.flows import FlowVersionStore
from ivr.telephony.gateway import Gateway

log = logging.getLogger(__name__)


class PublishRefused(FlowError):
    """The draft has errors; nothing was published."""


class FlowAdmin:
    """Flow versions for the console, wired to the live gateway."""

    def __init__(self, gateway: Gateway, versions: FlowVersionStore) -> None:
        self.gateway = gateway
        self.versions = versions

    @property
    def folder(self) -> Path:
        return self.gateway.settings.flows_dir

    def import_files(self) -> None:
        """Record each flow file as a published version unless it already is the live one."""
        for name in self.gateway.book.flows:
            text = (self.folder / f"{name}.yaml").read_text(encoding="utf-8")
            live = self.versions.latest(name, "published")
            if live is None or live["yaml"] != text:
                number = self.versions.add(name, text, "flows/ folder", "draft",
                                           note=f"imported from flows/{name}.yaml")
                self.versions.publish(name, number, "flows/ folder")
                live = self.versions.get(name, number)
            assert live is not None
            self.gateway.book.versions[name] = f"v{live['version']}"

    def check(self, name: str, text: str) -> tuple[Flow | None, list[Problem]]:
        """Load and lint a draft: the flow (if it loads) and every problem, errors first."""
        try:
            flow = load_flow_text(text, f"{name}.yaml", self.gateway.settings.audio_dir.parent)
        except FlowError as exc:
            return None, exc.problems
        return flow, lint_flow(flow)

    def save_draft(self, name: str, text: str, user: str) -> int:
        return self.versions.add(name, text, user, "draft", note="save draft")

    def publish(self, name: str, version: int, user: str, action: str = "publish") -> None:
        row = self.versions.get(name, version)
        if row is None:
            raise KeyError(f"{name} has no version {version}")
        flow, problems = self.check(name, row["yaml"])
        errors = [p for p in problems if p.severity == "error"]
        if flow is None or errors:
            raise PublishRefused(errors)
        self.versions.publish(name, version, user, action)
        self._activate(name, flow, row["yaml"], version)

    def rollback(self, name: str, version: int, user: str) -> int:
        """Publish an old version again, as a new version (history is never rewritten)."""
        row = self.versions.get(name, version)
        if row is None:
            raise KeyError(f"{name} has no version {version}")
        number = self.versions.add(name, row["yaml"], user, "draft", note=f"roll back to v{version}")
        self.publish(name, number, user, action=f"roll back to v{version}")
        return number

    def _activate(self, name: str, flow: Flow, text: str, version: int) -> None:
        book = self.gateway.book
        flow.located(str(self.folder / f"{name}.yaml"), {})
        book.flows[name] = flow
        book.versions[name] = f"v{version}"
        self.gateway.engines[name] = Engine(flow)
        (self.folder / f"{name}.yaml").write_text(text, encoding="utf-8")
        log.info("flow %s v%d is live for new calls", name, version)
