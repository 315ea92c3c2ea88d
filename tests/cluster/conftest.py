"""Three real `ivr serve` processes behind HAProxy on one PostgreSQL: the README's cluster.

The instances share the database, the flows folder and the public URL (the balancer's). Tests
either go through the balancer (round-robin spreads one call's webhooks over the instances) or
pin the media stream to one instance and the webhooks to others with the simulator's `reach`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from ivr.cluster import Cluster
from ivr.store.migrate import drop_everything
from testkit.local_gateway import free_port
from tests import needs
from tests.telephony.conftest import TOKEN, _flows, recording_server, voice  # noqa: F401
from tests.web.conftest import PASSWORD  # noqa: F401  (the tests' console password)


def _postgres_url() -> str:
    url = needs.postgres_url()
    needs.program("haproxy")
    return url


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, recording_server: str) -> Iterator[Cluster]:  # noqa: F811
    url = _postgres_url()
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    drop_everything(engine)  # a clean shared store: flow versions of earlier runs would stay live
    engine.dispose()
    root = tmp_path_factory.mktemp("cluster")
    env = {"IVR_DATABASE_URL": url, "IVR_FLOWS_DIR": str(_flows(root / "flows")),
           "IVR_AUDIO_DIR": str(root / "audio"), "TWILIO_AUTH_TOKEN": TOKEN,
           "IVR_DOWNLOAD_MODELS": "false", "IVR_DRAIN_SECONDS": "60", "IVR_FLOW_POLL_SECONDS": "1",
           "IVR_HANDOFF_WEBHOOK": "", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
           "IVR_TWILIO_API_BASE": recording_server}
    running = Cluster(3, free_port(), env, root / "run",
                      first_instance_port=_three_free_ports(free_port())).start()
    yield running  # (tests pass cluster.env to their own subprocesses: no session-wide variables)
    running.stop()


def _three_free_ports(start: int) -> int:
    """A first port whose next two are free too (instances take consecutive ports)."""
    import socket

    for base in itertools.chain([start], range(20000, 30000, 7)):
        try:
            socks = []
            for port in range(base, base + 3):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                socks.append(sock)
            for sock in socks:
                sock.close()
            return base
        except OSError:
            for sock in socks:
                sock.close()
    raise RuntimeError("no three consecutive free ports")


def pinned(cluster: Cluster, stream: str, webhooks: list[str]) -> Callable[[str], str]:
    """Route the media stream to one instance and webhooks round-robin over others."""
    hooks = itertools.cycle(webhooks)

    def reach(url: str) -> str:
        name = stream if url.split("?")[0].endswith("/twilio/media") else next(hooks)
        instance = cluster.instance(name)
        return url.replace(cluster.url, instance.url).replace(
            cluster.url.replace("http://", "ws://"), instance.url.replace("http://", "ws://"))
    return reach


def health(cluster: Cluster, name: str) -> httpx.Response:
    return httpx.get(cluster.instance(name).url + "/health", timeout=5)


def recordings_root(cluster: Cluster) -> Path:
    return Path(cluster.env["IVR_AUDIO_DIR"])
