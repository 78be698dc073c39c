"""Shared fixtures: a simulated lake made once per test session, and a real S3 server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# LightGBM's OpenMP threads spin while they wait; on a shared 2-core machine that turns
# milliseconds into seconds. Set before any test imports LightGBM.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, package: str, why: str) -> None:
    """Skip outside CI when a system service cannot be had; fail in CI (nothing is skipped)."""
    if condition:
        return
    message = f"{why}: install {package}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def lake(tmp_path_factory) -> Path:
    """A simulated bank of 30,000 customers with its campaign table (default campaign)."""
    from uplift_engine.cli.simulate import run_simulation

    root = tmp_path_factory.mktemp("lake") / "lake"
    run_simulation(customers=30_000, out=str(root), seed=7, quiet=True)
    return root


@pytest.fixture(scope="session")
def campaign_table(lake) -> Path:
    return lake / "curated" / "campaign_table" / "c2026q4"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1, with credentials and endpoint in the environment."""
    local = Path(sys.executable).parent / "moto_server"  # the venv's, not some older one on PATH
    binary = str(local) if local.exists() else (shutil.which("moto_server") or str(local))
    require(Path(binary).exists(), "moto[server] (pip)", "an S3 endpoint is needed")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("moto_server did not start within 30 s")
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
        "UPLIFT_S3_ENDPOINT_URL": endpoint,
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="ap-southeast-1")
    client.create_bucket(
        Bucket="bank-lake",
        CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"},
    )
    yield endpoint
    proc.terminate()
    proc.wait(timeout=10)
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
