"""The shipped HAProxy configuration is the one `ivr cluster` writes, and HAProxy accepts it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ivr.cluster import haproxy_config
from tests import needs

SHIPPED = Path(__file__).resolve().parent.parent / "deploy" / "haproxy.cfg"


def test_deploy_haproxy_cfg_is_what_ivr_cluster_writes_for_three_instances() -> None:
    expected = haproxy_config(8080, [("127.0.0.1", port) for port in (8081, 8082, 8083)])
    assert SHIPPED.read_text() == expected


def test_haproxy_accepts_the_shipped_configuration() -> None:
    check = subprocess.run([needs.program("haproxy"), "-c", "-f", str(SHIPPED)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stderr
    assert "option httpchk GET /health" in SHIPPED.read_text()
