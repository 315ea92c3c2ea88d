"""Benchmark: N concurrent simulated calls through the real gateway over loopback, real Vosk.

The gateway runs as its own process (`ivr serve`), so its CPU and memory are measured apart
from the simulator's. Each call: hear the Korean menu, say 시간 (an answer), say 네 (back to
the menu, saying it one second into the answer, so it barges in), then ask for a person by key
0, by saying 상담원, or choose 예약 (a booking transfer).

    python -m bench.gateway --calls 10,50,100
    python -m bench.gateway --instances 2 --database-url postgresql://ivr:ivr@127.0.0.1:5432/ivr

With `--instances N` the calls go through HAProxy to N `ivr serve` processes sharing the
database (`ivr cluster`'s set-up); CPU and memory are summed over the instances.

The degradation curve: `--ramp 2` makes every caller of a round finish speaking at nearly the
same moment ("finals/s" is the most turn-ends in any one second), and the turn p95 shows what
that costs; `--busy-signal off` runs the instances without their 503 busy; `--core-each` pins
each instance to a core of its own (two instances as two one-core machines):

    python -m bench.gateway --ramp 2 --calls 25,50,100,150
    python -m bench.gateway --ramp 2 --calls 25,50,100,150 --instances 2 --core-each --busy-signal off
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ivr.audio.render import PromptRenderer
from ivr.cluster import Cluster
from testkit.local_gateway import free_port
from testkit.twilio_simulator import Listen, Pause, Press, SimulatedCall, Speak, Step, TwilioSimulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789"
NUMBER = "+8225550300"
ENDINGS = ("key0", "spoken", "booking")
ALL_DAY = "".join(f'  {d}: ["00:00-24:00"]\n' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))


@dataclass
class Round:
    calls: int
    turn: list[float] = field(default_factory=list)
    key0: list[float] = field(default_factory=list)
    key_gateway: list[float] = field(default_factory=list)  # key received -> stream closed, in the gateway
    spoken: list[float] = field(default_factory=list)
    barge: list[float] = field(default_factory=list)
    sim_late: int = 0
    failed: int = 0
    peak_rss_mb: float = 0.0
    cpu_s: float = 0.0
    recognizer_cpu_s: float = 0.0  # of cpu_s, inside Vosk (the rest is the gateway's own)
    overdue: int = 0  # callers handed to a person: recognition too far behind them
    sim_cpu_s: float = 0.0
    wall_s: float = 0.0
    late_frames: int = 0
    frames: int = 0
    max_lag_ms: float = 0.0
    stalls: int = 0
    max_stall_ms: float = 0.0
    finals: list[float] = field(default_factory=list)  # when callers finished speaking (monotonic)
    busy_s: float = 0.0  # seconds any instance told the balancer it was busy
    frames_by_instance: list[int] = field(default_factory=list)  # caller frames each handled


def _flows(folder: Path) -> None:
    folder.mkdir(parents=True)
    text = (ROOT / "flows" / "korean.yaml").read_text(encoding="utf-8")
    text = text[:text.index("hours:\n")] + "hours:\n" + ALL_DAY + text[text.index("holidays:"):]
    (folder / "korean.yaml").write_text(text.replace("holidays: [2027-02-16, 2027-02-17]", "holidays: []"))


def _start_gateway(root: Path, port: int, busy_signal: bool = True) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN, "IVR_BUSY_SIGNAL": str(busy_signal).lower(),
           "IVR_PORT": str(port), "IVR_HOST": "127.0.0.1",
           "IVR_FLOWS_DIR": str(root / "flows"), "IVR_AUDIO_DIR": str(root / "audio"),
           "IVR_DATABASE_URL": f"sqlite:///{root / 'bench.sqlite3'}", "IVR_DOWNLOAD_MODELS": "false"}
    log = (root / "gateway.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "ivr.cli", "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=root)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gateway did not start; see {root / 'gateway.log'}")


@dataclass
class _Gateways:
    """What the rounds measure: the address calls go to, and the gateway processes."""

    port: int
    pids: list[int]
    health_urls: list[str]
    stop: Callable[[], None]
    log: Path


def _direct(root: Path, busy_signal: bool) -> _Gateways:
    port = free_port()
    proc = _start_gateway(root, port, busy_signal)

    def stop() -> None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    return _Gateways(port, [proc.pid], [f"http://127.0.0.1:{port}/health"], stop, root / "gateway.log")


def _clustered(root: Path, instances: int, database_url: str, busy_signal: bool) -> _Gateways:
    env = {"TWILIO_AUTH_TOKEN": TOKEN, "IVR_FLOWS_DIR": str(root / "flows"),
           "IVR_BUSY_SIGNAL": str(busy_signal).lower(),
           "IVR_AUDIO_DIR": str(root / "audio"), "IVR_DOWNLOAD_MODELS": "false",
           "IVR_DATABASE_URL": database_url or f"sqlite:///{root / 'bench.sqlite3'}"}
    cluster = Cluster(instances, free_port(), env, root / "cluster", say=lambda text: None).start()
    pids = [i.process.pid for i in cluster.instances if i.process is not None]
    return _Gateways(cluster.port, pids, [f"{i.url}/health" for i in cluster.instances], cluster.stop,
                     root / "cluster")


def _pin(pid: int, core: int) -> None:
    """Every thread of a process onto one core (threads started later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {core})


def _busy(gateways: _Gateways) -> bool:
    for url in gateways.health_urls:
        try:
            if httpx.get(url, timeout=2).status_code == 503:
                return True
        except httpx.HTTPError:
            pass
    return False


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _one_call(sim: TwilioSimulator, voice: dict[str, bytes], ending: str,
                    delay: float) -> SimulatedCall:
    await asyncio.sleep(delay)
    steps: list[Step] = [Listen(), Speak(voice["시간"]), Pause(1.0), Speak(voice["네"]), Listen()]
    endings: dict[str, Step] = {"key0": Press("0"), "spoken": Speak(voice["상담 원"]),
                                "booking": Speak(voice["예약"])}
    steps.append(endings[ending])
    steps.append(Listen())
    return await sim.call(steps, to=NUMBER)


@dataclass
class _Outcome:
    """What one simulator process saw (plain data, so it crosses process boundaries)."""

    turn: list[float] = field(default_factory=list)
    key0: list[float] = field(default_factory=list)
    key_gateway: list[float] = field(default_factory=list)  # key received -> stream closed, in the gateway
    spoken: list[float] = field(default_factory=list)
    barge: list[float] = field(default_factory=list)
    sim_late: int = 0
    failed: int = 0
    cpu_s: float = 0.0  # the simulator process's own CPU time
    finals: list[float] = field(default_factory=list)


def _simulate(port: int, voice: dict[str, bytes], indexes: list[int], n: int, ramp: float) -> _Outcome:
    """One simulator process: its share of the round's calls."""
    async def run() -> list[SimulatedCall | BaseException]:
        sim = TwilioSimulator(f"http://127.0.0.1:{port}", TOKEN)
        return await asyncio.gather(*(_one_call(sim, voice, ENDINGS[i % 3], i * ramp / n)
                                      for i in indexes), return_exceptions=True)

    try:
        import uvloop  # installed with uvicorn[standard]; halves the simulator's own CPU

        calls = uvloop.run(run())
    except ImportError:
        calls = asyncio.run(run())
    out = _Outcome(cpu_s=time.process_time())
    for i, call in zip(indexes, calls, strict=True):
        if isinstance(call, BaseException) or not call.dialed:
            out.failed += 1
            continue
        out.turn += call.turn_latencies[:2]
        out.finals += call.spoke_ends[:2]
        out.barge += call.barge_ins
        out.sim_late += call.late_ticks
        if ENDINGS[i % 3] == "key0" and call.request_at and call.dial_at:
            out.key0.append(call.dial_at - call.request_at)
        if ENDINGS[i % 3] == "spoken" and call.spoke_last_at and call.dial_at:
            out.spoken.append(call.dial_at - call.spoke_last_at)
    return out


def _media(gateways: _Gateways) -> tuple[dict[str, float], Counter[int], list[int]]:
    """The instances' media counters, summed (maxima: the worst instance), their key
    decision times (ms: count) added up, and the frames each instance handled."""
    total: dict[str, float] = {}
    keys: Counter[int] = Counter()
    frames: list[int] = []
    for url in gateways.health_urls:
        health = httpx.get(url).json()
        frames.append(int(health["media"]["frames"]))
        for key, value in health["media"].items():
            total[key] = max(total.get(key, 0), value) if key.startswith("max") else total.get(key, 0) + value
        keys.update({int(ms): n for ms, n in health.get("key_decisions_ms", {}).items()})
    return total, keys, frames


def _metric(gateways: _Gateways, name: str, **labels: str) -> float:
    """A Prometheus sample summed over the instances (Vosk's CPU seconds, faults of a kind)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for url in gateways.health_urls:
        text = httpx.get(url.removesuffix("/health") + "/metrics").text
        total += sum(sample.value for family in text_string_to_metric_families(text)
                     for sample in family.samples if sample.name == name and sample.labels == labels)
    return total


def _recognizer_cpu_s(gateways: _Gateways) -> float:
    return _metric(gateways, "ivr_recognizer_cpu_seconds_total")


def _overdue(gateways: _Gateways) -> int:
    """Callers handed to a person because recognition was too far behind them."""
    return int(_metric(gateways, "ivr_faults_total", kind="recognition_overdue"))


def _round(n: int, gateways: _Gateways, voice: dict[str, bytes], processes: int, ramp: float) -> Round:
    result = Round(n)
    port, pids = gateways.port, gateways.pids
    cpu0, t0 = sum(_cpu_s(pid) for pid in pids), time.monotonic()
    health0, keys0, frames0 = _media(gateways)
    recognizer0, overdue0 = _recognizer_cpu_s(gateways), _overdue(gateways)
    shares = [list(range(k, n, processes)) for k in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        pending = pool.starmap_async(_simulate, [(port, voice, share, n, ramp) for share in shares])
        while not pending.ready():
            result.peak_rss_mb = max(result.peak_rss_mb, sum(_rss_mb(pid) for pid in pids))
            tick = time.monotonic()
            busy = _busy(gateways)
            pending.wait(0.5)
            result.busy_s += (time.monotonic() - tick) if busy else 0.0
        outcomes = pending.get()
    result.cpu_s, result.wall_s = sum(_cpu_s(pid) for pid in pids) - cpu0, time.monotonic() - t0
    health, keys, frames = _media(gateways)
    result.frames_by_instance = [b - a for a, b in zip(frames0, frames, strict=True)]
    result.recognizer_cpu_s = _recognizer_cpu_s(gateways) - recognizer0
    result.overdue = _overdue(gateways) - overdue0
    result.key_gateway = [ms / 1000 for ms, n in (keys - keys0).items() for _ in range(n)]
    result.frames = int(health["frames"] - health0["frames"])
    result.late_frames = int(health["late_frames"] - health0["late_frames"])
    result.max_lag_ms = health["max_lag_ms"]
    result.stalls = int(health["loop_stalls"] - health0["loop_stalls"])
    result.max_stall_ms = health["max_loop_stall_ms"]
    for out in outcomes:
        result.turn += out.turn
        result.key0 += out.key0
        result.spoken += out.spoken
        result.barge += out.barge
        result.sim_late += out.sim_late
        result.failed += out.failed
        result.sim_cpu_s += out.cpu_s
        result.finals += out.finals
    return result


def _shares(counts: list[int]) -> str:
    return "/".join(f"{c / max(1, sum(counts)):.0%}" for c in counts)


def _peak_per_second(times: list[float]) -> int:
    """The most events in any one-second window."""
    times, best, first = sorted(times), 0, 0
    for last, at in enumerate(times):
        while at - times[first] > 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def _pct(values: list[float], q: float) -> str:
    if not values:
        return "-"
    values = sorted(values)
    return f"{values[min(len(values) - 1, int(q * len(values)))] * 1000:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="10,50,100", help="concurrent calls per round")
    parser.add_argument("--ramp", type=float, default=20.0,
                        help="seconds over which the calls arrive (2 = all callers speak at once)")
    parser.add_argument("--sim-processes", type=int, default=2,
                        help="simulator processes (one Python process tops out near 60 calls)")
    parser.add_argument("--instances", type=int, default=0,
                        help="gateway instances behind HAProxy (0: one instance, reached directly)")
    parser.add_argument("--busy-signal", choices=("on", "off"), default="on",
                        help="the instances' 503 busy on /health (IVR_BUSY_SIGNAL)")
    parser.add_argument("--core-each", action="store_true",
                        help="pin instance k to core k-1 (as one-core machines)")
    parser.add_argument("--database-url", default="",
                        help="with --instances: the shared database (default: a SQLite file)")
    args = parser.parse_args(argv)
    rounds = [int(x) for x in args.calls.split(",")]
    root = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    _flows(root / "flows")
    what = f"{args.instances} instances behind HAProxy" if args.instances else "the gateway"
    print(f"starting {what} (logs in {root})...", flush=True)
    busy_signal = args.busy_signal == "on"
    gateways = (_clustered(root, args.instances, args.database_url, busy_signal) if args.instances
                else _direct(root, busy_signal))
    if args.core_each:
        for core, pid in enumerate(gateways.pids):
            _pin(pid, core % (os.cpu_count() or 1))
    try:
        renderer = PromptRenderer(root / "voice", root)
        voice = {w: renderer.render(w, "ko-KR") for w in ("시간", "네", "상담 원", "예약")}
        idle_mb = sum(_rss_mb(pid) for pid in gateways.pids)
        print(f"gateway idle RSS: {idle_mb:.0f} MB (includes the Korean model, once per instance); "
              f"calls arrive over {args.ramp:.0f} s and each lasts about 35 s; busy signal "
              f"{args.busy_signal}{'; one core per instance' if args.core_each else ''}\n")
        header = (f"{'calls':>5} {'failed':>6} {'overdue':>7} {'turn p50':>8} {'turn p95':>8} "
                  f"{'key0 p95':>8} {'gw key':>6} "
                  f"{'spoken p95':>10} {'barge p95':>9} {'late frm':>8} {'max lag':>7} {'stalls':>6} "
                  f"{'sim late':>8} {'MB/call':>7} {'gw CPU':>6} {'Vosk':>5} {'own/call':>8} {'sim CPU':>7} "
                  f"{'finals/s':>8} {'busy s':>6} {'frames by instance':>18}")
        print(header + "\n" + "-" * len(header), flush=True)
        for n in rounds:
            r = _round(n, gateways, voice, args.sim_processes, args.ramp)
            per_call = (r.peak_rss_mb - idle_mb) / n
            print(f"{n:>5} {r.failed:>6} {r.overdue:>7} {_pct(r.turn, .5):>8} {_pct(r.turn, .95):>8} "
                  f"{_pct(r.key0, .95):>8} {_pct(r.key_gateway, .95):>6} {_pct(r.spoken, .95):>10} "
                  f"{_pct(r.barge, .95):>9} "
                  f"{r.late_frames:>8} {r.max_lag_ms:>6.0f}ms {r.stalls:>6} {r.sim_late:>8} {per_call:>7.2f} "
                  f"{r.cpu_s / r.wall_s:>5.0%} {r.recognizer_cpu_s / r.wall_s:>5.0%} "
                  f"{(r.cpu_s - r.recognizer_cpu_s) / r.wall_s / n:>7.2%} {r.sim_cpu_s / r.wall_s:>6.0%} "
                  f"{_peak_per_second(r.finals):>8} {r.busy_s:>6.1f} "
                  f"{_shares(r.frames_by_instance):>18}",
                  flush=True)
        print("\nfailed = calls that never reached a person; overdue = callers handed to a person "
              "because recognition was IVR_REPLY_DEADLINE_SECONDS behind them; "
              "turn = caller's last voiced frame -> first frame of the reply (ms); key0/spoken = "
              "key 0 sent / last voiced frame of 상담원 -> <Dial> received (ms); gw key = the gateway's "
              "own part of key0, p95: key received -> stream closed; barge = first voiced frame "
              "over a prompt -> `clear` received (ms); late frm = caller "
              "frames handled >100 ms behind the stream (includes any lateness of the simulator); stalls = "
              "gateway event-loop wake-ups >20 ms late; sim late = simulator ticks >40 ms late; "
              "gw CPU / sim CPU = the gateway's / the simulators' CPU over the round (200% = both cores); "
              "Vosk = the part of gw CPU spent recognising; own/call = the rest, per call; "
              "finals/s = the most callers that finished speaking within one second; "
              "busy s = seconds an instance said 503 busy; "
              "frames by instance = each instance's share of the caller audio.")
    finally:
        gateways.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
