"""Changing flows safely: drafts, lint, publish without a restart, roll back.

Calls in progress keep the flow and engine they started with (each `LiveCall` holds its
own; another instance rebuilds it from the stored version); only new calls get a newly
published version. The published YAML is also written back to `flows/<name>.yaml`, so files,
`ivr flows check` and a restart all see what is live. Instances sharing a database follow each
other's publishing (`follow_published`, polled every `IVR_FLOW_POLL_SECONDS`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ivr.audio.render import disclosure_seconds
from ivr.errors import FlowError, Problem
from ivr.flow.lint import lint_flow
from ivr.flow.loader import load_flow_text
from ivr.flow.model import Flow
from ivr.store.calls import exclusive
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
        """Publish each flow file whose text is new to the database. A file holding a version
        the database already has is not news: it is a copy left behind on a machine that
        missed a later publish (several instances), so the published version stays live."""
        with exclusive(self.versions.engine, "flow-import"):  # instances starting together
            for name in self.gateway.flow_names():
                self._import_file(name)
        self.follow_published()

    def _import_file(self, name: str) -> None:
        text = (self.folder / f"{name}.yaml").read_text(encoding="utf-8")
        live = self.versions.latest(name, "published")
        if live is None or (live["yaml"] != text and not self.versions.has_text(name, text)):
            number = self.versions.add(name, text, "flows/ folder", "draft",
                                       note=f"imported from flows/{name}.yaml")
            self.versions.publish(name, number, "flows/ folder")
            live = self.versions.get(name, number)
        assert live is not None
        if live["yaml"] == text:
            flow = self.gateway.live_flow(name)
            assert flow is not None  # loaded from this very file at start-up
            self.gateway.activate(name, flow, int(live["version"]))
        else:
            self._follow(name, live)

    def follow_published(self) -> list[str]:
        """Activate every version another instance published since we last looked (new flows
        too); returns the flows that changed. Cheap: one query when nothing did."""
        changed = []
        for name, number in self.versions.published().items():
            if self.gateway.live_version(name) == f"v{number}":
                continue
            row = self.versions.get(name, number)
            if row is not None and self._follow(name, row):
                changed.append(name)
        return changed

    def _follow(self, name: str, row: dict[str, object]) -> bool:
        text = str(row["yaml"])
        flow, problems = self.check(name, text)
        if flow is None or any(p.severity == "error" for p in problems):
            log.error("flow %s v%s is published but does not load here; keeping %s",
                      name, row["version"], self.gateway.live_version(name) or "nothing")
            return False
        self._activate(name, flow, text, int(str(row["version"])))
        return True

    def check(self, name: str, text: str, spoken: bool = False) -> tuple[Flow | None, list[Problem]]:
        """Load and lint a draft: the flow (if it loads) and every problem, errors first.
        `spoken` also measures the disclosure in the flow's voice (a render: the flow page and
        publishing do it, not the lint that runs on every keystroke)."""
        try:
            flow = load_flow_text(text, f"{name}.yaml", self.gateway.settings.audio_dir.parent)
        except FlowError as exc:
            return None, exc.problems
        return flow, lint_flow(flow, disclosure_seconds(self.gateway.renderer) if spoken else None)

    def save_draft(self, name: str, text: str, user: str) -> int:
        return self.versions.add(name, text, user, "draft", note="save draft")

    def publish(self, name: str, version: int, user: str, action: str = "publish") -> None:
        row = self.versions.get(name, version)
        if row is None:
            raise KeyError(f"{name} has no version {version}")
        flow, problems = self.check(name, row["yaml"], spoken=True)
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
        flow.located(str(self.folder / f"{name}.yaml"), {})
        self.gateway.activate(name, flow, version)
        path = self.folder / f"{name}.yaml"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            # Whole or not at all: instances sharing the folder may write it at the same time.
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        log.info("flow %s v%d is live for new calls", name, version)
