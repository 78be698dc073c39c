"""Worker processes that end with the process that started them, even when it is killed.

A worker of a ``ProcessPoolExecutor`` outlives a parent killed with ``kill -9``: nothing tells
it, and it goes on simulating (hundreds of MB each) until its task ends, then blocks. Started
through :func:`worker_pool`, a worker asks Linux to send it SIGKILL when its parent ends
(``prctl(PR_SET_PDEATHSIG)``), and elsewhere watches its parent from a thread.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 0.5


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that die with this one."""
    # spawn, not fork: no inherited locks of Arrow's or DuckDB's threads
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )


def die_with_parent(parent: int) -> None:
    """End this process as soon as process ``parent`` (its parent) is gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died before the request took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="watch-parent").start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(1)
