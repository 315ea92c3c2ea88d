"""Publishing safely: errors block it, calls in progress keep their version, history is kept."""

from __future__ import annotations

import datetime as dt
import io
import math
import struct
import wave
from pathlib import Path

import pytest

from ivr.config import Settings
from ivr.flow import events as ev
from ivr.store.flows import FlowVersionStore
from ivr.telephony.calls import LiveCall
from ivr.telephony.gateway import Gateway
from ivr.web.flow_admin import FlowAdmin, PublishRefused
from ivr.web.prompts_upload import UploadError, save_prompt
from ivr.web.try_call import try_call
from tests.conftest import FLOWS_DIR


@pytest.fixture()
def admin(tmp_path: Path) -> FlowAdmin:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "plumbing.yaml").write_text((FLOWS_DIR / "plumbing.yaml").read_text())
    settings = Settings(flows_dir=flows, audio_dir=tmp_path / "audio", twilio_auth_token="t",
                        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", download_models=False)
    gateway = Gateway.build(settings)
    admin = FlowAdmin(gateway, FlowVersionStore(gateway.store.store.engine))
    admin.import_files()
    return admin


def _text(admin: FlowAdmin) -> str:
    latest = admin.versions.latest("plumbing")
    assert latest is not None
    return str(latest["yaml"])


def test_files_are_imported_once_as_published_versions(admin: FlowAdmin) -> None:
    assert admin.gateway.book.versions["plumbing"] == "v1"
    admin.import_files()
    assert [v["version"] for v in admin.versions.versions("plumbing")] == [1]


def test_a_draft_with_errors_cannot_be_published(admin: FlowAdmin) -> None:
    broken = _text(admin).replace("automated line", "helpful line")
    number = admin.save_draft("plumbing", broken, "ed@example.com")
    with pytest.raises(PublishRefused) as refused:
        admin.publish("plumbing", number, "ed@example.com")
    assert "automated" in refused.value.problems[0].message
    assert admin.gateway.book.versions["plumbing"] == "v1"


def test_publishing_changes_new_calls_only_and_roll_back_restores(admin: FlowAdmin) -> None:
    gateway = admin.gateway
    at = dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC)
    old_call = LiveCall("CAold", "plumbing", gateway.book.flows["plumbing"], gateway.engines["plumbing"],
                        gateway.store)
    old_call.apply(ev.CallStarted(at=at))
    old_call.apply(ev.PromptFinished("disclosure", at=at))
    changed = _text(admin).replace("Say hours or press 1", "Say opening hours or press 1")
    admin.publish("plumbing", admin.save_draft("plumbing", changed, "ed@example.com"), "ed@example.com")
    assert gateway.book.versions["plumbing"] == "v2"
    assert (admin.folder / "plumbing.yaml").read_text() == changed
    # The call in progress goes on with the version it started with.
    actions = old_call.apply(ev.Pressed("*", at=at))
    assert any(isinstance(a, ev.PlayPrompt) and a.text.startswith("Say hours or press 1") for a in actions)
    _, new_actions = gateway.engines["plumbing"].start(ev.CallStarted(at=at))
    assert any(isinstance(a, ev.PlayPrompt) and a.text.startswith("Say opening hours") for a in new_actions)
    number = admin.rollback("plumbing", 1, "boss@example.com")
    assert number == 3 and gateway.book.versions["plumbing"] == "v3"
    assert "Say hours or press 1" in (admin.folder / "plumbing.yaml").read_text()
    audit = admin.versions.audit()
    assert audit[0]["action"] == "roll back to v1" and audit[0]["user"] == "boss@example.com"
    assert any("+      Say opening hours" in (e["diff"] or "") or "Say opening hours" in (e["diff"] or "")
               for e in audit)


def test_try_it_replays_typed_lines_through_the_draft(admin: FlowAdmin) -> None:
    flow, _ = admin.check("plumbing", _text(admin))
    assert flow is not None
    lines = try_call(flow, ["#2", "no"], at="2026-11-24T10:00")
    texts = [line["text"] for line in lines]
    assert texts[0].startswith("Riverside Plumbing's automated line")
    assert any("95 dollars" in t for t in texts) and lines[-1]["text"] == "call ends: answered"


class _Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.filename, self._data = name, data

    async def read(self) -> bytes:
        return self._data


def _wav(seconds: float = 1.0, rate: int = 44100) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        silence = b"\x00\x00" * int(rate * 0.5)
        tone = b"".join(struct.pack("<h", int(8000 * math.sin(i / 10))) for i in range(int(rate * seconds)))
        w.writeframes(silence + tone + silence)
    return out.getvalue()


def test_uploaded_prompts_are_converted_trimmed_and_named_in_a_draft(admin: FlowAdmin) -> None:
    import asyncio

    number = asyncio.run(save_prompt(admin, "plumbing", "hours", _Upload("hours.wav", _wav()), "ed"))
    draft = admin.versions.get("plumbing", number)
    assert draft is not None and "audio: audio/plumbing/hours.wav" in draft["yaml"]
    assert "# After-hours line of a local plumbing" in draft["yaml"]  # comments survive
    stored = admin.gateway.settings.audio_dir.parent / "audio" / "plumbing" / "hours.wav"
    with wave.open(str(stored)) as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1
        assert 1.0 <= w.getnframes() / 8000 < 1.5  # 0.5 s of silence trimmed from each end
    flow, problems = admin.check("plumbing", draft["yaml"])
    assert flow is not None and not [p for p in problems if p.severity == "error"]
    with pytest.raises(UploadError, match="upload a"):
        asyncio.run(save_prompt(admin, "plumbing", "hours", _Upload("x.exe", b"MZ"), "ed"))
    with pytest.raises(UploadError, match="not readable audio"):
        asyncio.run(save_prompt(admin, "plumbing", "hours", _Upload("x.wav", b"RIFFjunk"), "ed"))


def test_the_form_view_writes_the_same_yaml_keeping_comments(admin: FlowAdmin) -> None:
    from ivr.web.flow_form import apply_form, form_fields

    text = _text(admin)
    fields = form_fields(text)
    assert fields["hours"]["mon"] == "08:00-18:00" and fields["hours"]["sun"] == ""
    assert fields["people"]["on_call"] == "+15550100122, +15550100123"
    form = {f"hours.{d}": v for d, v in fields["hours"].items()}
    form.update({"hours.sat": "", "hours.sun": "10:00-14:00", "holidays": "2026-12-25, 2026-12-26",
                 "people.office": "+15550100199", "prompt.area": "We cover Riverside only."})
    changed = apply_form(text, form)
    assert "# After-hours line of a local plumbing" in changed
    flow, problems = admin.check("plumbing", changed)
    assert flow is not None and not problems
    assert "sat" not in flow.hours and flow.hours["sun"] == ["10:00-14:00"]
    assert [str(d) for d in flow.holidays] == ["2026-12-25", "2026-12-26"]
    assert flow.people["office"].numbers == ["+15550100199"]
    assert flow.steps["area"].text == "We cover Riverside only."  # type: ignore[union-attr]
    assert 'mon: ["08:00-18:00"]' in changed


def _second_instance(admin: FlowAdmin) -> FlowAdmin:
    """Another gateway on the same database and flows folder (as `ivr cluster` runs them)."""
    settings = admin.gateway.settings
    gateway = Gateway.build(settings)
    other = FlowAdmin(gateway, FlowVersionStore(gateway.store.store.engine))
    other.import_files()
    return other


def test_a_publish_on_one_instance_is_followed_by_another(admin: FlowAdmin) -> None:
    other = _second_instance(admin)
    assert other.gateway.book.versions["plumbing"] == "v1"  # the same file is not imported twice
    changed = _text(admin).replace("We cover Riverside", "We serve Riverside")
    admin.publish("plumbing", admin.save_draft("plumbing", changed, "ed@example.com"), "ed@example.com")
    assert other.follow_published() == ["plumbing"]
    assert other.gateway.book.versions["plumbing"] == "v2"
    assert other.follow_published() == []  # nothing new: nothing done


def test_a_stale_flow_file_does_not_undo_a_publish(admin: FlowAdmin) -> None:
    original = _text(admin)
    changed = original.replace("We cover Riverside", "We serve Riverside")
    admin.publish("plumbing", admin.save_draft("plumbing", changed, "ed@example.com"), "ed@example.com")
    # A machine that missed the publish still has the old file; its instance starts.
    (admin.folder / "plumbing.yaml").write_text(original)
    other = _second_instance(admin)
    assert other.gateway.book.versions["plumbing"] == "v2"
    assert (admin.folder / "plumbing.yaml").read_text() == changed
    # A file with new text is a manager's edit: it is published.
    edited = changed.replace("We serve Riverside", "Our area is Riverside")
    (admin.folder / "plumbing.yaml").write_text(edited)
    assert _second_instance(admin).gateway.book.versions["plumbing"] == "v3"


def test_a_call_started_on_an_old_version_is_rebuilt_on_it_elsewhere(admin: FlowAdmin) -> None:
    gateway = admin.gateway
    call = gateway.new_call("CAold", "plumbing")
    call.pending = call.apply(ev.CallStarted(at=dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC),
                                             call_id="CAold"))
    call.save_later()
    changed = _text(admin).replace("We cover Riverside", "We serve Riverside")
    admin.publish("plumbing", admin.save_draft("plumbing", changed, "ed@example.com"), "ed@example.com")
    gateway.store.drain()
    other = _second_instance(admin)
    rebuilt = other.gateway.read_call("CAold")
    assert rebuilt is not None and rebuilt.flow_version == "v1"
    assert rebuilt.flow is not other.gateway.book.flows["plumbing"]
    assert "We cover Riverside" in rebuilt.flow.steps["area"].text  # type: ignore[union-attr]
    assert "We serve Riverside" in other.gateway.book.flows["plumbing"].steps["area"].text  # type: ignore[union-attr]
    assert rebuilt.state == call.state and rebuilt.pending == call.pending
