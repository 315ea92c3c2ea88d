"""What managers read about a call is what the caller heard; what they hear of a flow is the
voice callers hear."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest

from testkit.local_gateway import RunningGateway
from testkit.twilio_simulator import Listen, Pause, Press, TwilioSimulator
from tests.web.conftest import TOKEN, logged_in

pytestmark = pytest.mark.slow


def test_the_call_detail_and_the_csv_say_which_prompts_were_heard(console: RunningGateway) -> None:
    sim = TwilioSimulator(console.base_url, TOKEN)
    call = asyncio.run(sim.call([Pause(1.0), Press("0"), Listen()], to="+8225550300"))
    console.gateway.store.drain()
    with logged_in(console, "viewer@example.com") as client:
        detail = client.get(f"/console/calls/{call.sid}").text
        rows = list(csv.DictReader(io.StringIO(client.get("/console/calls.csv").text)))
    assert "[cut after 1." in detail and "(key)]" in detail  # the disclosure, cut by 0
    assert "[never played (transfer)]" in detail  # the menu, never played
    [row] = [r for r in rows if r["sid"] == call.sid]
    assert row["disclosure"].startswith("cut after 1.") and row["disclosure"].endswith("(key)")
    assert row["prompts_unplayed"] == "1" and row["prompts_heard"] == "0" and row["prompts_cut"] == "1"


def test_the_flow_page_plays_each_prompt_in_the_callers_voice(console: RunningGateway) -> None:
    from ivr.audio.mulaw import pcm_to_ulaw
    from tests.audio.test_voice import band_db, joe

    joe()
    with logged_in(console, "editor@example.com") as client:
        page = client.get("/console/flows/plumbing").text
        wav = client.get("/console/flows/plumbing/prompts/disclosure.wav")
        assert client.get("/console/flows/plumbing/prompts/nosuchstep.wav").status_code == 404
    assert "Piper en_US-joe-medium" in page and 'src="/console/flows/plumbing/prompts/main.wav' in page
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    assert wav.content[:4] == b"RIFF" and band_db(pcm_to_ulaw(wav.content[44:])) < -35
