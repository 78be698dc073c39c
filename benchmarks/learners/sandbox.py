"""Run one cell in a child process under a time limit and a memory limit, measuring its RSS.

Invariant: the child starts in a session of its own; the parent samples the resident memory
of the child and of every process below it (joblib or loky workers included) several times a
second from ``/proc``, keeps the peak of their sum, and kills exactly that process group when
the wall-clock limit or the memory limit is passed. "Did not finish in N s" and "passed the
memory limit" are results, written like any other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # benchmarks/, holding learners/
POLL_S = 0.2


@dataclass(frozen=True)
class Outcome:
    """How the child ended."""

    status: str  # ok | error | timeout | memory
    wall_s: float
    peak_tree_mb: float
    result: dict


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss_kb(p)
        todo += _children(p)
    return total / 1024


def thread_env(threads: int) -> dict[str, str]:
    """The environment of a child: every thread pool capped at ``threads``."""
    env = dict(os.environ)
    for name in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMBA_NUM_THREADS",
        "LOKY_MAX_CPU_COUNT",
    ):
        env[name] = str(threads)
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    return env


def run_cell(args: dict, limit_s: float, memory_mb: float) -> Outcome:
    """Run ``learners.worker`` with ``args``; kill it past ``limit_s`` or ``memory_mb``."""
    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*"):
        stale.unlink()
    log = open(out / "child.log", "w")  # noqa: SIM115 - closed below, after the child ends
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "learners.worker", json.dumps(args)],
        cwd=PACKAGE_ROOT,
        env=thread_env(args["threads"]),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    peak, status = 0.0, None
    try:
        while child.poll() is None:
            peak = max(peak, tree_rss_mb(child.pid))
            elapsed = time.perf_counter() - started
            if elapsed > limit_s:
                status = "timeout"
            elif peak > memory_mb:
                status = "memory"
            if status:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                break
            time.sleep(POLL_S)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        log.close()
    wall = time.perf_counter() - started
    result_file = out / "result.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    if status is None:
        status = "ok" if child.returncode == 0 and "error" not in result else "error"
        if status == "error" and not result:
            tail = (out / "child.log").read_text()[-2000:]
            result = {"error": f"exit code {child.returncode}", "traceback": tail}
    peak = max(peak, float(result.get("peak_self_mb", 0.0)))
    return Outcome(status, wall, peak, result)
