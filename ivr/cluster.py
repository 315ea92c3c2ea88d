"""Several gateway instances behind HAProxy on one machine: `ivr cluster`, tests, benchmarks.

Every instance is a plain `ivr serve` process on its own port, sharing one database (PostgreSQL,
from IVR_DATABASE_URL) and one public URL (the balancer's), so any of them answers any webhook
of any call. HAProxy balances webhooks round-robin and media-stream websockets to the instance
with the fewest, and checks `/health` every second (an instance that drains or is busy answers
503 and gets no new requests).
`deploy/haproxy.cfg` is `haproxy_config()` for three instances, kept equal by a test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HEALTH_INTERVAL_MS = 1000
STREAM_TIMEOUT = "2h"  # a media stream is one websocket for the whole call


def haproxy_config(port: int, instances: list[tuple[str, int]], bind: str = "*") -> str:
    """HAProxy configuration: `bind:port` in front of `instances` [(host, port)]."""
    numbered = list(enumerate(instances, 1))
    servers = "\n".join(f"    server ivr{i} {host}:{p} check" for i, (host, p) in numbered)
    # The streams backend follows the same health checks (one check an instance, not two).
    stream_servers = "\n".join(f"    server ivr{i} {host}:{p} track gateways/ivr{i}"
                               for i, (host, p) in numbered)
    # The same instances again as unchecked backups: used only when every checked one is out
    # (all busy, say), so a full cluster answers slower instead of refusing calls.
    spares = "\n".join(f"    server ivr{i}-spare {host}:{p} backup" for i, (host, p) in numbered)
    return f"""\
# HAProxy in front of IVR gateway instances (written by ivr.cluster.haproxy_config).
# Twilio's webhooks and media streams reach any instance; a draining instance answers /health
# with 503 and gets no new requests, while its media streams (websockets) go on to their end.
# The instances see callers' addresses in X-Forwarded-For, which they believe only from this
# balancer: start each with IVR_TRUSTED_PROXIES=<the balancer's address> (ivr cluster does).
# A full instance answers /health with 503 "busy" and gets no new calls while others can take
# them; when none can, the unchecked "-spare" entries keep calls flowing (slower, never refused).
global
    maxconn 4000  # two connections a call (webhooks, media stream); within 8192 file handles

defaults
    mode http
    option http-server-close
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel {STREAM_TIMEOUT}
    timeout client-fin 5s
    # A refused connection (an instance just stopped) is tried again on another instance.
    retries 3
    option redispatch 1
    # The caller's address for the console's login limits (the instance trusts only us).
    option forwardfor

frontend twilio
    bind {bind}:{port}
    # A media stream lasts the whole call and carries its recognition: each new one goes to the
    # instance with the fewest. Round-robin there would follow the webhooks' rhythm (one /voice
    # before each stream) and could put nearly every stream on one instance.
    use_backend streams if {{ path /twilio/media }}
    default_backend gateways

backend gateways
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    option allbackups  # every spare, not only the first, when all instances are busy
    default-server inter {HEALTH_INTERVAL_MS}ms fall 2 rise 2
{servers}
{spares}

backend streams
    balance leastconn
    option allbackups
{stream_servers}
{spares}
"""


@dataclass
class Instance:
    name: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Cluster:
    """N `ivr serve` processes and HAProxy. `start()`, then `stop()`; one instance can be
    killed (`kill`), drained (`terminate`) or started again (`restart`)."""

    count: int
    port: int
    env: Mapping[str, str]
    folder: Path
    first_instance_port: int = 0
    haproxy: subprocess.Popen[bytes] | None = None
    instances: list[Instance] = field(default_factory=list)
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> Cluster:
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> Cluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        first = self.first_instance_port or self.port + 1
        self.instances = [Instance(f"ivr{i}", first + i - 1) for i in range(1, self.count + 1)]
        for instance in self.instances:
            self._spawn(instance)
        for instance in self.instances:
            self.wait_healthy(instance, timeout)
        config = self.folder / "haproxy.cfg"
        config.write_text(haproxy_config(self.port, [("127.0.0.1", i.port) for i in self.instances]))
        check = subprocess.run(["haproxy", "-c", "-q", "-f", str(config)], capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(f"haproxy rejects {config}: {check.stderr.strip()}")
        with (self.folder / "haproxy.log").open("ab") as log:  # the child keeps its own handle
            self.haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=log, stderr=log)
        haproxy = self.haproxy

        def balancing() -> bool:
            if haproxy.poll() is not None:
                raise RuntimeError(f"haproxy exited; see {self.folder / 'haproxy.log'}")
            return self._get(self.url + "/health") == 200
        self._wait(balancing, timeout, "the balancer")
        self.say(f"cluster: HAProxy on {self.url} -> " +
                 ", ".join(f"{i.name} :{i.port}" for i in self.instances))
        return self

    def _spawn(self, instance: Instance) -> None:
        env = {**os.environ, **self.env, "IVR_PORT": str(instance.port), "IVR_HOST": "127.0.0.1",
               "IVR_INSTANCE_NAME": instance.name, "IVR_PUBLIC_URL": self.env.get("IVR_PUBLIC_URL", self.url),
               # HAProxy runs here and adds X-Forwarded-For (option forwardfor): believe it from it
               "IVR_TRUSTED_PROXIES": self.env.get("IVR_TRUSTED_PROXIES", "127.0.0.1")}
        instance.log_path = self.folder / f"{instance.name}.log"
        with instance.log_path.open("ab") as log:
            instance.process = subprocess.Popen([sys.executable, "-m", "ivr", "serve"], env=env,
                                                stdout=log, stderr=log, start_new_session=True)
        self.say(f"cluster: started {instance.name} on :{instance.port} (pid {instance.process.pid}, "
                 f"log {instance.log_path})")

    def wait_healthy(self, instance: Instance, timeout: float = 180.0) -> None:
        def healthy() -> bool:
            if not instance.alive():
                raise RuntimeError(f"{instance.name} exited; see {instance.log_path}")
            return self._get(instance.url + "/health") == 200
        self._wait(healthy, timeout, instance.name)

    def kill(self, name: str) -> None:
        """SIGKILL: the machine is lost, nothing is flushed."""
        instance = self.instance(name)
        assert instance.process is not None
        instance.process.kill()
        instance.process.wait()

    def terminate(self, name: str) -> None:
        """SIGTERM: the instance drains (see `ivr.app.DrainingServer`)."""
        instance = self.instance(name)
        assert instance.process is not None
        instance.process.send_signal(signal.SIGTERM)

    def restart(self, name: str, timeout: float = 180.0) -> None:
        instance = self.instance(name)
        if instance.process is not None and instance.alive():
            raise RuntimeError(f"{name} is still running")
        self._spawn(instance)
        self.wait_healthy(instance, timeout)

    def instance(self, name: str) -> Instance:
        return next(i for i in self.instances if i.name == name)

    def stop(self) -> None:
        for instance in self.instances:
            if instance.alive():
                assert instance.process is not None
                instance.process.send_signal(signal.SIGINT)  # no drain: stop now
        for instance in self.instances:
            if instance.process is not None:
                try:
                    instance.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    instance.process.kill()
        if self.haproxy is not None:
            self.haproxy.terminate()
            self.haproxy.wait(timeout=10)

    @staticmethod
    def _get(url: str) -> int:
        try:
            return httpx.get(url, timeout=2).status_code
        except httpx.HTTPError:
            return 0

    @staticmethod
    def _wait(ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not become healthy in {timeout:.0f} s")
            time.sleep(0.2)


def run_cluster(count: int, port: int) -> int:
    """`ivr cluster`: run until Ctrl-C (or SIGTERM, which drains every instance first)."""
    from ivr.config import Settings
    from ivr.errors import ConfigError

    try:
        settings = Settings.load()
    except ConfigError as exc:
        print(f"cannot start the cluster: {exc}", file=sys.stderr)
        return 1
    if shutil.which("haproxy") is None:
        print("cannot start the cluster: haproxy is not installed (apt-get install haproxy; "
              "./dev cluster installs it)", file=sys.stderr)
        return 1
    if not settings.database_url.startswith("postgresql"):
        print(f"note: instances share {settings.database_url}; SQLite works for instances on one "
              "machine, PostgreSQL (IVR_DATABASE_URL=postgresql://...) across machines.", file=sys.stderr)
    env = {k: v for k, v in os.environ.items() if k.startswith(("IVR_", "TWILIO_"))}
    cluster = Cluster(count, port, env, Path("var") / "cluster")
    stopping: list[int] = []

    def on_signal(sig: int, _frame: object) -> None:
        stopping.append(sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        try:
            cluster.start()
        except RuntimeError as exc:
            print(f"cannot start the cluster: {exc}", file=sys.stderr)
            return 1
        print(f"\n{count} instances behind HAProxy: point Twilio at {settings.public_url or cluster.url}"
              "/twilio/voice (Ctrl-C stops; SIGTERM drains first)\n", file=sys.stderr)
        while not stopping:
            for instance in cluster.instances:
                if not instance.alive():
                    print(f"{instance.name} exited; starting it again", file=sys.stderr)
                    cluster.restart(instance.name)
            time.sleep(1)
        if stopping[0] == signal.SIGTERM:
            for instance in cluster.instances:
                cluster.terminate(instance.name)
            for instance in cluster.instances:
                if instance.process is not None:
                    instance.process.wait()
    finally:
        cluster.stop()
    return 0
