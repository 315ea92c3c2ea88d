"""A call's shared state goes ahead of record writes: a key 0 waits for its own call, not for
everyone's transcripts. A call's record is started in that lane too, so it always exists before
the call's shared state (an instance taking the call over must find a record to add to)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from ivr.flow import events as ev
from ivr.flow.engine import Engine
from ivr.flow.loader import load_flow
from ivr.store.calls import AsyncCallStore, CallStore, open_database, utcnow
from ivr.telephony.calls import LiveCall
from tests.conftest import FLOWS_DIR


def _writer(tmp_path: Path) -> AsyncCallStore:
    return AsyncCallStore(CallStore(open_database(f"sqlite:///{tmp_path / 'calls.sqlite3'}")))


def _hold_live_lane(writer: AsyncCallStore) -> threading.Event:
    """The live lane stays busy until the event is set: states queue behind it."""
    busy = threading.Event()
    writer.share_later(busy.wait, 10)
    return busy


def _call(writer: AsyncCallStore, sid: str) -> LiveCall:
    flow = load_flow(FLOWS_DIR / "plumbing.yaml")
    return LiveCall(sid, "plumbing", flow, Engine(flow), writer, flow_version="v1")


def test_a_calls_state_is_shared_ahead_of_queued_record_writes(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    busy, order = threading.Event(), []
    writer.later(busy.wait, 10)  # the writer is busy; a burst of transcripts queues behind it
    for i in range(50):
        writer.later(order.append, f"record {i}")
    writer.share_later(writer.calls.start_call, "CA1", "plumbing", "v1", "+1", "+2", utcnow(), "vosk")
    call = _call(writer, "CA1")
    call.decision = ev.EndCall()
    save = writer.live.save

    def noted_save(*args: Any, **kwargs: Any) -> bool:  # runs on the writer thread, in its order
        order.append("shared")
        return save(*args, **kwargs)

    writer.live.save = noted_save  # type: ignore[method-assign]

    async def scenario() -> None:
        saving = asyncio.ensure_future(call.save())
        await asyncio.sleep(0.1)
        busy.set()
        await asyncio.wait_for(saving, 5)

    asyncio.run(scenario())
    writer.drain()
    shared = writer.live.load("CA1")
    writer.close()
    assert order[0] == "shared" and len(order) == 51  # ahead of all 50 queued records
    assert shared is not None and '"decision"' in shared["snapshot"]


def test_a_calls_record_is_written_before_its_state_and_its_events(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    busy = threading.Event()
    writer.later(busy.wait, 10)
    writer.share_later(writer.calls.start_call, "CA2", "plumbing", "v1", "+1", "+2", utcnow(), "vosk")
    writer.later(writer.calls.add_events, "CA2", [{"at": utcnow(), "kind": "turn", "text": "hi", "data": {}}])
    _call(writer, "CA2").save_later()
    busy.set()
    writer.drain()
    record = writer.calls.get_call("CA2")
    writer.close()
    assert record is not None and [e["text"] for e in record["events"]] == ["hi"]  # no foreign-key failure
    assert writer.live.load("CA2") is not None


def test_states_queued_faster_than_the_writer_writes_are_one_write_of_the_newest(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    busy = _hold_live_lane(writer)
    writer.share_later(writer.calls.start_call, "CA3", "plumbing", "v1", "+1", "+2", utcnow(), "vosk")
    call = _call(writer, "CA3")
    writes: list[str] = []
    save = writer.live.save

    def counted_save(sid: str, flow: str, version: str, snapshot: str, *args: Any, **kwargs: Any) -> bool:
        writes.append(snapshot)
        return save(sid, flow, version, snapshot, *args, **kwargs)

    writer.live.save = counted_save  # type: ignore[method-assign]
    for key in "123":
        call.first_key = key
        call.save_later()
    busy.set()
    writer.drain()
    call.first_key = "4"
    call.save_later()  # queued after the writer caught up: written again
    writer.drain()
    shared = writer.live.load("CA3")
    writer.close()
    assert len(writes) == 2 and '"first_key":"3"' in writes[0]  # three states, one write
    assert shared is not None and '"first_key":"4"' in shared["snapshot"] == writes[1]


def test_a_webhook_that_read_a_held_call_never_writes_the_stale_holder_back(tmp_path: Path) -> None:
    """Found in the cluster: the caller hangs up; the stream's instance releases the call while
    another instance answers the final status callback from a copy read while the stream held
    it. Whichever write lands last, nobody is left holding the call."""
    for release_first in (True, False):
        writer = _writer(tmp_path / str(release_first))
        writer.share_later(writer.calls.start_call, "CA4", "plumbing", "v1", "+1", "+2", utcnow(), "vosk")
        stream = _call(writer, "CA4")
        stream.held_by = "ivr1"
        stream.save_later()  # the stream claims the call
        writer.drain()
        stream.guard = "ivr1"
        webhook = writer.live.load("CA4")
        assert webhook is not None and webhook["held_by"] == "ivr1"
        status = _call(writer, "CA4")  # ivr2's copy, as read: held by ivr1
        status.held_by = status.holder_as_read = "ivr1"
        status.first_key = "ended here"

        def release(stream: LiveCall = stream) -> None:
            stream.held_by = None
            asyncio.run(stream.save())

        if release_first:
            release()
            asyncio.run(status.save())
        else:
            asyncio.run(status.save())
            release()
        writer.drain()
        row = writer.live.load("CA4")
        writer.close()
        assert row is not None and row["held_by"] is None, release_first


def test_a_claim_coalesced_with_the_next_state_still_lands(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    writer.share_later(writer.calls.start_call, "CA5", "plumbing", "v1", "+1", "+2", utcnow(), "vosk")
    _call(writer, "CA5").save_later()  # /twilio/voice: the call's first state, held by nobody
    writer.drain()
    busy = _hold_live_lane(writer)
    stream = _call(writer, "CA5")
    stream.held_by = "ivr1"
    stream.save_later()  # the claim, queued ...
    stream.guard = "ivr1"
    stream.first_key = "1"
    stream.save_later()  # ... and replaced by a state written only while ivr1 holds the call
    busy.set()
    writer.drain()
    row = writer.live.load("CA5")
    writer.close()
    assert row is not None and row["held_by"] == "ivr1" and '"first_key":"1"' in row["snapshot"]
