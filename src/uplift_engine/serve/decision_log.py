"""The decision log's sink in a service: an append-only file of JSON lines, group-committed.

Invariant: a decision is *acknowledged* (its answer leaves) only after its line is on disk:
written with ``O_APPEND`` and ``fsync``-ed. One writer thread takes every line that is waiting,
writes them in one ``write`` and syncs once (a group commit), so a thousand decisions a second
cost a few syncs a second, not a thousand. A crash (``kill -9``) can leave at most the last line
torn — never an acknowledged one; readers skip a torn last line. Each process writes its own
file ``decisions-<start UTC>-<pid>.jsonl`` in the log folder, so several workers never
interleave; the compactor (``uplift decisions compact``) merges them into the lake, duplicates
removed by ``request_id``. Standard library only (the decision-only environment).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from uplift_engine.errors import StorageError

LOG_GLOB = "decisions-*.jsonl"
MAX_REQUEST_ID = 128
"""The longest request id, the key of a decision (a client's ``X-Request-Id`` or one made)."""


class DecisionLog:
    """Append lines durably, many per ``fsync`` (see the module docstring)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            self.path = self.folder / f"decisions-{stamp}-{os.getpid()}.jsonl"
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise StorageError(
                f"cannot open the decision log in {str(self.folder)!r}: {exc.strerror}",
                field="decision_log",
            ) from exc
        self._pending: list[tuple[bytes, Callable[[BaseException | None], None]]] = []
        self._cond = threading.Condition()
        self._closed = False
        self.commits = 0
        self.lines = 0
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        self._thread.start()

    def submit(self, line: bytes, done: Callable[[BaseException | None], None]) -> None:
        """Queue one line (ending in a newline); ``done(error)`` runs once it is synced."""
        with self._cond:
            if self._closed:
                raise StorageError("the decision log is closed", field="decision_log")
            self._pending.append((line, done))
            self._cond.notify()

    def append(self, line: bytes, timeout: float = 10.0) -> None:
        """Write one line and return once it is on disk (threads, the Lambda)."""
        event = threading.Event()
        errors: list[BaseException] = []

        def done(error: BaseException | None) -> None:
            if error is not None:
                errors.append(error)
            event.set()

        self.submit(line, done)
        if not event.wait(timeout):
            raise StorageError("the decision log did not sync in time", field="decision_log")
        if errors:
            raise StorageError(f"the decision log failed: {errors[0]}", field="decision_log")

    async def append_async(self, line: bytes) -> None:
        """Write one line; return (to the event loop) once it is on disk."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def done(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, error)

        self.submit(line, done)
        await future

    def close(self) -> None:
        """Sync what is waiting, stop the writer and close the file."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=30)
        os.close(self._fd)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closed:
                    return
            error: BaseException | None = None
            try:
                data = b"".join(line for line, _ in batch)
                view = memoryview(data)
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
                os.fsync(self._fd)
                self.commits += 1
                self.lines += len(batch)
            except OSError as exc:
                error = exc
            for _, done in batch:
                done(error)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(StorageError(f"the decision log failed: {error}"))


def read_lines(path: Path) -> Iterator[bytes]:
    """The complete lines of one log file (a torn last line, from a crash, is skipped)."""
    data = path.read_bytes()
    end = data.rfind(b"\n")
    if end < 0:
        return
    yield from data[: end + 1].splitlines()
