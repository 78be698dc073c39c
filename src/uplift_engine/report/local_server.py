"""An ASGI app served on a free loopback port in a thread of this process, for as long as needed.

The demo serves its decision service and its dashboard this way (and the tests their apps):
:func:`serving_in_thread` starts uvicorn on port 0, waits until it listens, yields its URL and
stops it on the way out.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

START_SECONDS = 30.0


@contextlib.contextmanager
def serving_in_thread(app: Any, what: str = "the server") -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) while the block runs; its base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
