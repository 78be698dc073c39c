"""A real MLflow tracking server on 127.0.0.1 for the tests that mirror runs and models to it.

The server runs from its own environment (``.venv-mlflow``, made by ``scripts/mlflow-server``,
which the test command runs), with a SQLite backend and proxied artifacts in a temporary
folder. Skipped outside CI when that environment or the client (the ``mlflow`` extra) is
missing; a failure in CI.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import require
from serving import free_port

SERVER = Path(__file__).resolve().parents[1] / ".venv-mlflow" / "bin" / "mlflow"


@pytest.fixture(scope="session", name="mlflow_uri")
def mlflow_uri_fixture(tmp_path_factory) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of an MLflow server started for this session."""
    require(SERVER.exists(), "mlflow (scripts/mlflow-server)", "MLflow tests need a server")
    try:
        import mlflow  # noqa: F401
    except ImportError:
        require(False, "mlflow-skinny (pip)", "MLflow tests need the client")
    folder = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    log = (folder / "server.log").open("wb")  # a file, not a pipe: a full pipe stalls a server
    proc = subprocess.Popen(
        [str(SERVER), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            err = (folder / "server.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"the MLflow server did not start on port {port}: {err}")
        time.sleep(0.25)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
