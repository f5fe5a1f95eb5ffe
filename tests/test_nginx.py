"""The nginx snippet of docs/deployment.md, run for real in front of a gunicorn.

The snippet is read from the page itself; only its addresses are changed (plain HTTP on a free
loopback port, the served gunicorn as upstream).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator

import pytest

from scripts.servers import free_port, stop

from .helpers import ORIGIN, batch, event
from .servers import ROOT, port_answers, wait_until


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )


def documented_snippet() -> str:
    page = (ROOT / "docs" / "deployment.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", page, re.S)
    [snippet] = [b for b in blocks if "upstream journey_app" in b]
    return snippet


@pytest.fixture
def nginx(tmp_path) -> Iterator[Callable[[int], int]]:
    """``nginx(upstream_port)`` runs the documented snippet; returns the port it listens on."""
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx not found: apt-get install nginx-light")
    started: list[subprocess.Popen] = []

    def start(upstream: int) -> int:
        port = free_port()
        snippet = documented_snippet()
        assert "listen 443 ssl;" in snippet and "server 127.0.0.1:8000;" in snippet
        snippet = snippet.replace("listen 443 ssl;", f"listen 127.0.0.1:{port};")
        snippet = snippet.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
        home = tmp_path / "nginx"
        home.mkdir()
        temp = {name: home / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        config = home / "nginx.conf"
        config.write_text(
            ("user root;\n" if os.getuid() == 0 else "")
            + f"daemon off;\nworker_processes 1;\npid {home / 'nginx.pid'};\n"
            f"error_log {home / 'error.log'} info;\nevents {{ worker_connections 64; }}\n"
            f"http {{\n  access_log {home / 'access.log'};\n"
            f"  client_body_temp_path {temp['body']};\n  proxy_temp_path {temp['proxy']};\n"
            f"  fastcgi_temp_path {temp['fastcgi']};\n  uwsgi_temp_path {temp['uwsgi']};\n"
            f"  scgi_temp_path {temp['scgi']};\n{snippet}}}\n"
        )
        log = home / "stdout.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [binary, "-c", str(config), "-p", str(home)], stdout=out, stderr=subprocess.STDOUT
            )
        started.append(process)
        wait_until(lambda: port_answers(port), "nginx", process, home / "error.log")
        return port

    try:
        yield start
    finally:
        for process in started:
            stop(process)


def request(port: int, body: bytes, headers: dict[str, str]) -> socket.socket:
    """Open a connection and send the head and ``body`` of a POST to /api/ingest."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = "POST /api/ingest HTTP/1.1\r\nHost: grants.example.com\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    conn.sendall(head.encode() + b"\r\n" + body)
    return conn


def status_of(conn: socket.socket) -> int:
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    conn.close()
    return int(answer.split(b" ", 2)[1])


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"


def test_a_batch_sent_through_the_documented_nginx_is_stored(app, journey, exported, serve, nginx):
    served = serve({"JOURNEY_DATABASE_URL": app.config["JOURNEY_DATABASE_URL"]}, workers=1)
    port = nginx(served.port)
    headers = {"Content-Type": "application/json", "Origin": ORIGIN}
    plain = json.dumps(batch(event("page_view", 1))).encode()
    compressed = gzip.compress(json.dumps(batch(event("page_view", 2))).encode())

    answers = [
        status_of(request(port, plain, {**headers, "Content-Length": str(len(plain))})),
        status_of(
            request(
                port,
                chunked(plain.replace(b"page_view_1", b"page_view_3")),
                {**headers, "Transfer-Encoding": "chunked"},
            )
        ),
        status_of(
            request(
                port,
                compressed,
                {**headers, "Content-Encoding": "gzip", "Content-Length": str(len(compressed))},
            )
        ),
    ]

    assert answers == [204, 204, 204]
    assert sorted(row["event_id"] for row in exported()) == [
        "evt_page_view_1",
        "evt_page_view_2",
        "evt_page_view_3",
    ]


def test_a_slow_client_does_not_hold_the_only_sync_worker(app, journey, exported, serve, nginx):
    served = serve({"JOURNEY_DATABASE_URL": app.config["JOURNEY_DATABASE_URL"]}, workers=1)
    port = nginx(served.port)
    headers = {"Content-Type": "application/json", "Origin": ORIGIN}
    slow_body = json.dumps(batch(event("page_view", 1))).encode()
    fast_body = json.dumps(batch(event("page_view", 2))).encode()

    slow = request(port, slow_body[:10], {**headers, "Content-Length": str(len(slow_body))})
    # The worker answers another client while the slow one is still sending: nginx holds the
    # slow body. Straight to gunicorn, this request would wait for the slow one to finish.
    fast = status_of(request(port, fast_body, {**headers, "Content-Length": str(len(fast_body))}))
    slow.sendall(slow_body[10:])

    assert (fast, status_of(slow)) == (204, 204)
    assert sorted(row["event_id"] for row in exported()) == ["evt_page_view_1", "evt_page_view_2"]
