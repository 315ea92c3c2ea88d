"""Nothing a visitor sends blocks the event loop: 50 concurrent logins and YAML alias bombs
sent to the console while 20 calls are live (`python -m bench.abuse`).

The gateway runs as its own process (`ivr serve`). The calls hear the Korean disclosure and
menu and press keys in real time; meanwhile a burst of wrong and right logins (Argon2 by
design takes tens of milliseconds of CPU each) and alias bombs hit the console. Printed: the
gateway's late frames and event-loop stalls during the burst, /health's answer times, and the
calls' own late ticks, against the same calls with no burst.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.gateway import NUMBER, TOKEN, _flows, _start_gateway
from testkit.local_gateway import free_port
from testkit.twilio_simulator import Listen, Pause, Press, Step, TwilioSimulator

PASSWORD = "correct horse battery staple"
BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9))


async def _calls(base: str, count: int) -> list[Any]:
    sim = TwilioSimulator(base, TOKEN)
    steps: list[Step] = [Listen(), Pause(2.0), Press("3"), Listen(), Press("2")]
    return await asyncio.gather(*(sim.call(steps, to=NUMBER) for _ in range(count)))


async def _burst(base: str, logins: int, bombs: int) -> dict[str, list[float]]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        owner = await client.post("/console/login", data={"email": "owner@example.com", "password": PASSWORD})
        cookies = owner.cookies
        page = await client.get("/console/flows/korean", cookies=cookies)
        csrf = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]

        async def login(i: int) -> float:
            started = time.monotonic()
            password = PASSWORD if i % 5 == 0 else "wrong password!"
            await client.post("/console/login", data={"email": f"user{i % 10}@example.com",
                                                      "password": password},
                              headers={"X-Forwarded-For": f"10.1.0.{i}"})
            return time.monotonic() - started

        async def bomb() -> float:
            started = time.monotonic()
            await client.post("/console/api/lint", json={"yaml": BOMB}, cookies=cookies,
                              headers={"X-CSRF-Token": csrf})
            return time.monotonic() - started

        async def health() -> list[float]:
            times = []
            for _ in range(40):
                started = time.monotonic()
                await client.get("/health")
                times.append(time.monotonic() - started)
                await asyncio.sleep(0.05)
            return times

        answered = asyncio.gather(*(login(i) for i in range(logins)), *(bomb() for _ in range(bombs)))
        health_times, times = await asyncio.gather(health(), answered)
    return {"health": health_times, "logins": list(times[:logins]), "bombs": list(times[logins:])}


def _media(base: str) -> dict[str, Any]:
    return dict(httpx.get(f"{base}/health").json()["media"])


async def _round(base: str, calls: int, burst: bool) -> dict[str, Any]:
    before = _media(base)
    task = asyncio.create_task(_calls(base, calls))
    await asyncio.sleep(6)  # the calls are in their menus
    pressure = await _burst(base, 50, 5) if burst else {"health": [], "logins": [], "bombs": []}
    done = await task
    after = _media(base)
    return {"late_frames": after["late_frames"] - before["late_frames"],
            "frames": after["frames"] - before["frames"],
            "loop_stalls": after["loop_stalls"] - before["loop_stalls"],
            "max_stall_ms": after["max_loop_stall_ms"], "sim_late": sum(c.late_ticks for c in done),
            **pressure}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ivr-abuse-"))
    _flows(root / "flows")
    port = free_port()
    proc = _start_gateway(root, port)
    base = f"http://127.0.0.1:{port}"
    try:
        env_db = f"sqlite:///{root / 'bench.sqlite3'}"
        for i in range(10):
            subprocess.run([sys.executable, "-m", "ivr", "users", "add", f"user{i}@example.com", "--role",
                            "viewer", "--password-stdin"], input=PASSWORD.encode(), check=True,
                           capture_output=True, env={"IVR_DATABASE_URL": env_db, "PATH": "/usr/bin:/bin"})
        subprocess.run([sys.executable, "-m", "ivr", "users", "add", "owner@example.com", "--role", "owner",
                        "--password-stdin"], input=PASSWORD.encode(), check=True, capture_output=True,
                       env={"IVR_DATABASE_URL": env_db, "PATH": "/usr/bin:/bin"})
        quiet = asyncio.run(_round(base, args.calls, burst=False))
        loud = asyncio.run(_round(base, args.calls, burst=True))
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"{args.calls} live calls; burst: 50 concurrent logins (Argon2) and 5 YAML alias bombs")
    print("round       gateway late frames  loop stalls > 20 ms  max stall  calls' late ticks  "
          "/health p50 / max   login p50 / max      alias bomb answered in")
    for name, r in (("no burst", quiet), ("burst", loud)):
        health = f"{statistics.median(r['health']) * 1000:.0f} / {max(r['health']) * 1000:.0f} ms" \
            if r["health"] else "-"
        logins = f"{statistics.median(r['logins']) * 1000:.0f} / {max(r['logins']) * 1000:.0f} ms" \
            if r["logins"] else "-"
        bombs = f"{max(r['bombs']) * 1000:.0f} ms" if r["bombs"] else "-"
        print(f"{name:<11} {r['late_frames']:>6} of {r['frames']:<10} {r['loop_stalls']:>10}           "
              f"{r['max_stall_ms']:>6.0f} ms  {r['sim_late']:>10}         {health:<18} {logins:<20} {bombs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
