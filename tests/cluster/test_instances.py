"""Several instances, one call: any instance answers any webhook; crashes and deploys strand
nobody; a flow published on one instance is live on all. Real processes, real PostgreSQL,
real HAProxy, real Vosk."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from ivr.audio.render import PromptRenderer
from ivr.cluster import Cluster
from ivr.store.calls import CallStore
from ivr.store.tables import live_calls
from testkit.twilio_simulator import DialPlan, HangUp, Listen, Pause, Press, Speak, TwilioSimulator
from tests.cluster.conftest import PASSWORD, health, pinned
from tests.telephony.conftest import (
    CLOSED_NUMBER,
    OPEN_NUMBER,
    RELAY_DESK,
    RELAY_NUMBER,
    TOKEN,
    run,
)
from tests.web.conftest import csrf_of

# One worker runs them all: they share one cluster (three instances and HAProxy).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cluster")]
DESK = ["+8225550311"]


_stores: dict[str, CallStore] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    for store in _stores.values():
        store.engine.dispose()
    _stores.clear()


def _store(cluster: Cluster) -> CallStore:
    """One connection pool for the whole module, closed at its end."""
    url = cluster.env["IVR_DATABASE_URL"]
    if url not in _stores:
        _stores[url] = CallStore(create_engine(make_url(url).set(drivername="postgresql+psycopg")))
    return _stores[url]


def _record(cluster: Cluster, sid: str, until: str = "outcome", wait_s: float = 10.0) -> dict:
    """The stored call, once `until` is filled in (other instances write asynchronously)."""
    store = _store(cluster)
    deadline = time.monotonic() + wait_s
    while True:
        record = store.get_call(sid)
        if (record is not None and record.get(until)) or time.monotonic() > deadline:
            assert record is not None, f"call {sid} was not stored"
            return record
        time.sleep(0.2)


def _sim(cluster: Cluster, stream: str | None = None, webhooks: list[str] | None = None,
         recording_url: str = "") -> TwilioSimulator:
    reach = pinned(cluster, stream, webhooks or []) if stream else None
    return TwilioSimulator(cluster.url, TOKEN, recording_url=recording_url, reach=reach)


def _pages(sim_call: object) -> list[str]:
    return [url for url, _ in sim_call.documents]  # type: ignore[attr-defined]


def test_key_press_with_the_stream_on_one_instance_and_webhooks_on_others(cluster: Cluster) -> None:
    sim = _sim(cluster, stream="ivr1", webhooks=["ivr2", "ivr3"])
    call = run(sim.call([Listen(), Press("1"), Listen()], to=OPEN_NUMBER))
    assert call.stream_opened and call.dialed == [DESK]
    assert call.whispers and call.whispers[0].startswith("고객 용건: 예약")  # the summary, from ivr2/3
    record = _record(cluster, call.sid, "answered_by")
    assert record["transfer_reason"] == "flow" and record["answered_by"] == DESK[0]


def test_spoken_request_for_a_person_across_instances(cluster: Cluster, voice: PromptRenderer) -> None:
    sim = _sim(cluster, stream="ivr2", webhooks=["ivr3", "ivr1"])
    call = run(sim.call([Listen(), Speak(voice.render("상담 원", "ko-KR")), Listen()], to=OPEN_NUMBER))
    assert call.dialed == [DESK]
    record = _record(cluster, call.sid)
    assert record["transfer_reason"] == "requested"
    heard = [e["text"] for e in record["events"] if e["kind"] == "turn" and e["speaker"] == "caller"]
    assert heard, record["events"]  # what ivr2's recognizer heard, stored for the call's review


def test_a_declined_whisper_then_the_next_person_across_instances(cluster: Cluster) -> None:
    # The whisper answer (declined on attempt 0, accepted on 1) and each dial status land on
    # different instances: only the shared store connects them.
    sim = _sim(cluster, stream="ivr3", webhooks=["ivr1", "ivr2"])
    call = run(sim.call([Listen(), Press("0"), Listen()], to=RELAY_NUMBER,
                        dial=DialPlan(["declined", "completed"], declined_report="completed")))
    assert call.dialed == [[RELAY_DESK[0]], [RELAY_DESK[1]]]
    assert call.ended != "hung up by the gateway" or call.dial_reports[-1]["DialCallStatus"] == "completed"
    record = _record(cluster, call.sid, "answered_by")
    assert record["answered_by"] == RELAY_DESK[1]


def test_voicemail_after_hours_across_instances(cluster: Cluster, recording_server: str) -> None:
    sim = _sim(cluster, stream="ivr1", webhooks=["ivr2", "ivr3"],
               recording_url=f"{recording_server}/2010-04-01/Recordings/RE123")
    call = run(sim.call([Listen(), Press("0"), Listen()], to=CLOSED_NUMBER))
    assert call.recorded and not call.dialed
    store = _store(cluster)
    deadline = time.monotonic() + 30
    # The voicemail, then the call-back task, are written after the recording is fetched.
    while not (record := store.get_call(call.sid) or {}).get("callbacks") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert record["outcome"] == "voicemail" and record["voicemails"], record
    assert record["callbacks"] and record["callbacks"][0]["number"] == "+15550001234"


def test_calls_through_the_balancer(cluster: Cluster, voice: PromptRenderer) -> None:
    sim = _sim(cluster)  # HAProxy round-robin: each request of a call may reach another instance

    async def calls() -> list:
        return await asyncio.gather(
            *(sim.call([Listen(), Press("0"), Listen()], to=OPEN_NUMBER) for _ in range(3)),
            *(sim.call([Listen(), Speak(voice.render("상담 원", "ko-KR")), Listen()], to=OPEN_NUMBER)
              for _ in range(3)))
    done = run(calls())
    assert all(c.dialed == [DESK] for c in done), [c.log for c in done]
    reasons = [_record(cluster, c.sid)["transfer_reason"] for c in done]
    assert reasons == ["requested"] * 6


def _key_decisions(cluster: Cluster) -> dict[str, float]:
    """Keys each instance acted on: the instance running a call's media stream acts on its keys."""
    counts = {}
    for instance in cluster.instances:
        text = httpx.get(instance.url + "/metrics", timeout=5).text
        counts[instance.name] = next(s.value for family in text_string_to_metric_families(text)
                                     for s in family.samples
                                     if s.name == "ivr_key_decision_seconds_count")
    return counts


def test_a_new_stream_goes_to_an_instance_with_the_fewest(cluster: Cluster) -> None:
    # Streams last the whole call: HAProxy gives each new one to the instance running the fewest
    # (round-robin, shared with the webhooks, could stack them on one).
    sim = _sim(cluster)

    async def scenario() -> tuple[str, dict[str, float], dict[str, float], int]:
        loop = asyncio.get_running_loop()

        def streams() -> dict[str, int]:
            return {i.name: health(cluster, i.name).json()["calls_in_progress"] for i in cluster.instances}
        long = asyncio.create_task(sim.call([Pause(8), HangUp()], to=OPEN_NUMBER))
        while sum((running := await loop.run_in_executor(None, streams)).values()) < 1:
            await asyncio.sleep(0.2)
        [holder] = [name for name, n in running.items() if n == 1]
        before = await loop.run_in_executor(None, _key_decisions, cluster)
        for _ in range(3):  # one after another: each finds the holder with one stream, others none
            short = await sim.call([Pause(0.5), Press("0"), Listen()], to=OPEN_NUMBER)
            assert short.dialed == [DESK]
        after = await loop.run_in_executor(None, _key_decisions, cluster)
        still = (await loop.run_in_executor(None, streams))[holder]
        await long
        return holder, before, after, still

    holder, before, after, still = run(scenario())
    assert still == 1  # the long call was there all along
    assert after[holder] == before[holder], (holder, before, after)
    assert sum(after.values()) - sum(before.values()) == 3


def test_sigkill_mid_call_sends_its_callers_to_a_person_and_spares_the_others(
        cluster: Cluster, voice: PromptRenderer) -> None:
    victim_sim = _sim(cluster, stream="ivr1", webhooks=["ivr2", "ivr3"])
    other_sim = _sim(cluster, stream="ivr2", webhooks=["ivr3"])

    async def scenario() -> tuple:
        victim = asyncio.create_task(victim_sim.call([Listen(), Pause(30)], to=OPEN_NUMBER))
        other = asyncio.create_task(other_sim.call([Listen(), Pause(3), Press("1"), Listen()],
                                                   to=OPEN_NUMBER))
        loop = asyncio.get_running_loop()
        while (await loop.run_in_executor(None, health, cluster, "ivr1")).json()["calls_in_progress"] < 1:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        await loop.run_in_executor(None, cluster.kill, "ivr1")
        return await victim, await other

    try:
        victim, other = run(scenario())
    finally:
        cluster.restart("ivr1")
    assert victim.dialed == [DESK], victim.log  # a person at once, not 30 s of silence
    record = _record(cluster, victim.sid)
    assert record["transfer_reason"] == "fault"
    assert any(e["kind"] == "fault" and "without a decision" in e["text"] for e in record["events"])
    assert any(e["kind"] == "turn" for e in record["events"])  # what ivr1 recorded before it died
    assert other.dialed == [DESK] and _record(cluster, other.sid)["transfer_reason"] == "flow"


def test_sigterm_drains_live_calls_then_exits(cluster: Cluster) -> None:
    sim = _sim(cluster, stream="ivr3", webhooks=["ivr1", "ivr2"])
    instance = cluster.instance("ivr3")

    async def scenario() -> tuple:
        call = asyncio.create_task(sim.call([Listen(), Pause(4), Press("1"), Listen()], to=OPEN_NUMBER))
        loop = asyncio.get_running_loop()
        while (await loop.run_in_executor(None, health, cluster, "ivr3")).json()["calls_in_progress"] < 1:
            await asyncio.sleep(0.2)
        cluster.terminate("ivr3")
        await asyncio.sleep(0.5)
        draining = await loop.run_in_executor(None, health, cluster, "ivr3")
        return await call, draining

    try:
        call, draining = run(scenario())
        assert draining.status_code == 503 and draining.json()["status"] == "draining"
        assert instance.process is not None
        assert instance.process.wait(timeout=30) == 0  # exits by itself once its call is over
    finally:
        cluster.restart("ivr3")
    assert call.dialed == [DESK], call.log  # the call finished normally on the draining instance
    assert _record(cluster, call.sid)["transfer_reason"] == "flow"


def test_rolling_restart_under_load_loses_no_call(cluster: Cluster) -> None:
    sim = _sim(cluster)

    async def load() -> list:
        calls = []
        for _ in range(9):
            calls.append(asyncio.create_task(
                sim.call([Listen(), Pause(2), Press("0"), Listen()], to=OPEN_NUMBER)))
            await asyncio.sleep(1.5)
        return await asyncio.gather(*calls)

    async def restart_all() -> None:
        loop = asyncio.get_running_loop()
        for name in ("ivr1", "ivr2", "ivr3"):
            instance = cluster.instance(name)
            cluster.terminate(name)
            await loop.run_in_executor(None, instance.process.wait)  # type: ignore[union-attr]
            await loop.run_in_executor(None, cluster.restart, name)

    async def both() -> list:
        calls = asyncio.create_task(load())
        await asyncio.sleep(1.0)
        await restart_all()
        return await calls

    done = run(both())
    assert [c.dialed for c in done] == [[DESK]] * len(done), [c.log for c in done if not c.dialed]
    assert all(_record(cluster, c.sid)["transfer_reason"] == "requested" for c in done)


def test_a_flow_published_on_one_instance_is_live_on_all_and_live_calls_keep_theirs(
        cluster: Cluster) -> None:
    email = "owner@example.com"
    subprocess.run([sys.executable, "-m", "ivr", "users", "add", email, "--role", "owner",
                    "--password-stdin"], input=PASSWORD, text=True, check=True, capture_output=True,
                   env={**os.environ, "IVR_DATABASE_URL": cluster.env["IVR_DATABASE_URL"]})
    flows = cluster.env["IVR_FLOWS_DIR"]
    old_text = (Path(flows) / "korean_open.yaml").read_text(encoding="utf-8")
    new_text = old_text.replace("예약은 예약 또는 1번", "새 메뉴입니다. 예약은 예약 또는 1번")
    # A call that starts before the publish (stream on ivr2) and decides after it.
    before_sim = _sim(cluster, stream="ivr2", webhooks=["ivr3"])

    async def scenario() -> tuple:
        before = asyncio.create_task(before_sim.call([Listen(), Pause(6), Press("0"), Listen()],
                                                     to=OPEN_NUMBER))
        await asyncio.sleep(1.0)
        await asyncio.get_running_loop().run_in_executor(None, _publish, cluster, email, new_text)
        return await before
    before = run(scenario())
    time.sleep(2.5)  # instances look for new versions every IVR_FLOW_POLL_SECONDS (1 s here)
    after_sim = _sim(cluster, stream="ivr3", webhooks=["ivr2"])
    after = run(after_sim.call([Listen(), Press("0"), Listen()], to=OPEN_NUMBER))

    def said(sid: str) -> list[str]:
        return [e["text"] for e in _record(cluster, sid)["events"]
                if e["kind"] == "turn" and e["speaker"] == "system"]
    assert not any("새 메뉴" in t for t in said(before.sid)), said(before.sid)
    assert any("새 메뉴" in t for t in said(after.sid)), said(after.sid)
    versions = {_record(cluster, c.sid)["flow_version"] for c in (before, after)}
    assert len(versions) == 2
    for name in ("ivr1", "ivr2", "ivr3"):
        live = health(cluster, name).json()["flows"]["korean_open"]["version"]
        assert live == _record(cluster, after.sid)["flow_version"], name


def _publish(cluster: Cluster, email: str, text: str) -> None:
    with httpx.Client(base_url=cluster.instance("ivr1").url) as client:
        assert client.post("/console/login", data={"email": email, "password": PASSWORD}).status_code == 303
        csrf = csrf_of(client, "/console/flows/korean_open")
        saved = client.post("/console/flows/korean_open/draft", data={"csrf": csrf, "yaml": text})
        assert saved.status_code == 303, saved.text
        version = int(saved.headers["location"].split("version=")[1])
        published = client.post("/console/flows/korean_open/publish",
                                data={"csrf": csrf, "version": str(version)})
        assert published.status_code == 303, published.text


def test_live_state_is_shared_not_left_behind(cluster: Cluster) -> None:
    # Every call so far ended: no instance still claims a media stream.
    engine = _store(cluster).engine
    with engine.connect() as conn:
        held = conn.execute(select(live_calls.c.sid, live_calls.c.held_by)
                            .where(live_calls.c.held_by.is_not(None))).all()
    assert held == []
