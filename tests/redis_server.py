"""A real redis-server on 127.0.0.1 for the online-store tests (no persistence, a free port).

Use the ``redis_url`` fixture (``from redis_server import redis_server_fixture,
redis_url_fixture`` in a test module, then ask for ``redis_url``): it starts one server per test
session and gives each test a fresh database number's URL, flushed before the test. Skipped
outside CI when redis-server or the redis package is missing; a failure in CI.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from conftest import require

_DATABASES = 16


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session", name="redis_server")
def redis_server_fixture() -> Iterator[str]:
    """``redis://127.0.0.1:<port>`` of a redis-server started for this session."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    require(shutil.which(binary) is not None, "redis-server (apt)", "Redis tests need a server")
    try:
        import redis
    except ImportError:
        require(False, "redis (pip)", "Redis tests need the redis client")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--databases", str(_DATABASES)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    client.close()
    yield url
    proc.terminate()
    proc.wait(timeout=10)


_counter = iter(range(10**9))


@pytest.fixture(name="redis_url")
def redis_url_fixture(redis_server: str) -> str:
    """A flushed database of the session's server, a different number for each test."""
    import redis

    url = f"{redis_server}/{next(_counter) % _DATABASES}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url
